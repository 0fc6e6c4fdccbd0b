// IPAddressLedger (ipam.k0rdent.mirantis.com/v1alpha1, cluster-scoped): the in-cluster provider's record of which
// addresses of one block of 256 (an IPv4 /24, an IPv6 /120) are taken in one address domain. Named after the domain
// and the block alone (`ipv4-10-0-0-0-24`, `ipv4-10-0-0-0-24.ns.tenant-a`), so each block of each domain has one
// ledger; the provider writes it only with a JSON merge patch carrying the resourceVersion it read (a
// compare-and-swap: the API server refuses it with 409 if the ledger changed), so one write can reserve addresses for
// many claims and no address gets two holders, whatever any cache says. See docs/in-cluster-provider.md. Internal:
// users read it, never write it.
import { ageColumn, defineKind, type ObjectOf } from './meta.ts';
import { claimRefSchema, poolRefProperties, releasedAtSchema, reservationGroup } from './reservation.ts';

/** Addresses per ledger: a bounded object (≈ 60 KB at most), so a write costs the same at 10 or 10,000 claims. */
export const ledgerBlockSize = 256;

export const ipAddressLedgerKind = defineKind({
  group: reservationGroup,
  version: 'v1alpha1',
  kind: 'IPAddressLedger',
  plural: 'ipaddressledgers',
  singular: 'ipaddressledger',
  scope: 'Cluster',
  categories: ['cluster-ipam'],
  statusSubresource: false,
  description:
    'The addresses of one block of 256 (an IPv4 /24, an IPv6 /120) taken from in-cluster pools of one address ' +
    'domain, named after the block and the domain (ipv4-10-0-0-0-24 in the global domain, ' +
    'ipv4-10-0-0-0-24.ns.tenant-a in the domain of namespace tenant-a) so that it exists once per block and domain. ' +
    'Written by the in-cluster provider before the IPAddresses; an entry stays after release for the ' +
    'addressReuseGracePeriodSeconds of its pool.',
  printerColumns: [
    { name: 'Block', type: 'string', jsonPath: '.spec.block' },
    { name: 'Domain', type: 'string', jsonPath: '.spec.domain' },
    ageColumn,
  ],
  spec: {
    type: 'object',
    required: ['domain', 'block'],
    properties: {
      domain: {
        type: 'string',
        minLength: 1,
        maxLength: 74,
        description:
          'The address domain its addresses are unique in: global, namespace/<namespace>, or a name given by the ' +
          'ipam.k0rdent.mirantis.com/address-domain annotation. Part of the name.',
      },
      block: {
        type: 'string',
        minLength: 1,
        maxLength: 64,
        description: 'The block of addresses it records (10.0.0.0/24, fd00::/120). Part of the name.',
      },
      entries: {
        type: 'object',
        maxProperties: ledgerBlockSize,
        description: 'The taken addresses of the block, by address as the IPAddress carries it.',
        additionalProperties: {
          type: 'object',
          required: ['poolRef', 'claimRef'],
          properties: {
            poolRef: {
              type: 'object',
              description: 'The pool the address was taken from.',
              required: ['kind', 'name'],
              properties: poolRefProperties,
            },
            claimRef: claimRefSchema,
            releasedAt: releasedAtSchema,
          },
        },
      },
    },
    'x-kubernetes-validations': [
      {
        rule: 'self.domain == oldSelf.domain && self.block == oldSelf.block',
        message: 'domain and block are immutable',
      },
    ],
  },
});
export type IPAddressLedger = ObjectOf<typeof ipAddressLedgerKind>;
export type IPAddressLedgerEntry = NonNullable<IPAddressLedger['spec']['entries']>[string];
