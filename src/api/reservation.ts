// IPAddressReservation (ipam.k0rdent.mirantis.com/v1alpha1, cluster-scoped): how releases before the IPAddressLedger
// (ledger.ts) recorded that one address is taken, one object per address and domain, named after them. This release
// writes none: it keeps those it finds as holders of their addresses and deletes each when its claim lets the address
// go (docs/in-cluster-provider.md, Upgrading). Internal: users read it, never write it.
import { ipSchema } from './address.ts';
import { dnsSubdomainPattern, objectNameSchema } from './common.ts';
import { ageColumn, defineKind, type ObjectOf } from './meta.ts';

export const reservationGroup = 'ipam.k0rdent.mirantis.com';

/** What a reservation and an IPAddressLedger entry (ledger.ts) both record: the pool, with its namespace. */
export const heldPoolRefSchema = {
  type: 'object',
  description: 'The pool the address was taken from.',
  required: ['apiGroup', 'kind', 'name'],
  properties: {
    apiGroup: { type: 'string', maxLength: 253, pattern: dnsSubdomainPattern },
    kind: { type: 'string', maxLength: 63 },
    namespace: { ...objectNameSchema, maxLength: 63, description: 'Empty for a GlobalInClusterIPPool.' },
    name: objectNameSchema,
  },
} as const;

export const claimRefSchema = {
  type: 'object',
  description: 'The IPAddressClaim the address is (or was) held for.',
  required: ['namespace', 'name', 'uid'],
  properties: {
    namespace: { ...objectNameSchema, maxLength: 63 },
    name: objectNameSchema,
    uid: { type: 'string', minLength: 1, maxLength: 64 },
  },
} as const;

export const releasedAtSchema = {
  type: 'string',
  format: 'date-time',
  description: 'When the claim let the address go; it is reused once the grace period of the pool has passed.',
} as const;

export const domainSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 74,
  description:
    'The address domain the address is unique in: global, namespace/<namespace>, or a name given by the ' +
    'ipam.k0rdent.mirantis.com/address-domain annotation. Part of the name, so one object per domain (and address) ' +
    'can exist.',
} as const;

export const ipAddressReservationKind = defineKind({
  group: reservationGroup,
  version: 'v1alpha1',
  kind: 'IPAddressReservation',
  plural: 'ipaddressreservations',
  singular: 'ipaddressreservation',
  scope: 'Cluster',
  categories: ['cluster-ipam'],
  statusSubresource: false,
  description:
    'One address taken from an in-cluster pool, named after the address and its address domain (ipv4-10-0-0-5 in ' +
    'the global domain, ipv4-10-0-0-5.ns.tenant-a in the domain of namespace tenant-a) so that it can exist only ' +
    'once per domain. Written by releases of the in-cluster provider before IPAddressLedger; honoured and deleted on ' +
    'release by later ones.',
  printerColumns: [
    { name: 'Address', type: 'string', jsonPath: '.spec.address' },
    { name: 'Domain', type: 'string', jsonPath: '.spec.domain' },
    { name: 'Pool', type: 'string', jsonPath: '.spec.poolRef.name' },
    { name: 'Claim Namespace', type: 'string', jsonPath: '.spec.claimRef.namespace' },
    { name: 'Claim', type: 'string', jsonPath: '.spec.claimRef.name' },
    { name: 'Released', type: 'date', jsonPath: '.spec.releasedAt' },
    ageColumn,
  ],
  spec: {
    type: 'object',
    required: ['address', 'domain', 'poolRef', 'claimRef'],
    properties: {
      address: { ...ipSchema, minLength: 1, description: 'The address, as the IPAddress carries it.' },
      domain: domainSchema,
      poolRef: heldPoolRefSchema,
      claimRef: claimRefSchema,
      releasedAt: releasedAtSchema,
    },
    'x-kubernetes-validations': [
      {
        rule:
          'self.address == oldSelf.address && self.domain == oldSelf.domain && self.poolRef == oldSelf.poolRef && ' +
          'self.claimRef == oldSelf.claimRef',
        message: 'address, domain, poolRef and claimRef are immutable',
      },
      { rule: '!has(oldSelf.releasedAt) || has(self.releasedAt)', message: 'releasedAt cannot be unset' },
    ],
  },
});
export type IPAddressReservation = ObjectOf<typeof ipAddressReservationKind>;
export type IPAddressReservationSpec = IPAddressReservation['spec'];
