// IPAddressLedger (ipam.k0rdent.mirantis.com/v1alpha1, cluster-scoped): one per address domain, the in-cluster
// provider's record of the addresses it is handing out and has not yet seen in an IPAddress, and of released ones in
// their grace period. Every write is a JSON merge patch carrying the resourceVersion it was decided on (a
// compare-and-swap: the API server refuses it with 409 if the ledger changed meanwhile), so one write can take
// addresses for many claims and no address gets two holders, whatever any cache says. An entry is dropped once the
// IPAddress carrying it is seen; `fence` then says up to which IPAddress resourceVersion a manager's cache must be
// current before it may trust that an address missing from both is free. See docs/in-cluster-provider.md.
// Internal: users read it, never write it.
import { ipAddressKind } from './capi.ts';
import { ageColumn, defineKind, type ObjectOf } from './meta.ts';
import { claimRefSchema, domainSchema, heldPoolRefSchema, releasedAtSchema, reservationGroup } from './reservation.ts';

/** Entries a ledger holds at most: addresses in flight and released ones in their grace period. */
export const ledgerMaxEntries = 4096;

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
    'The addresses of one address domain that in-cluster pools are handing out (taken, their IPAddress not yet ' +
    'seen) or keep after release for their addressReuseGracePeriodSeconds; named after the domain (global, ' +
    `ns.tenant-a, domain.blue). An address in use is held by its ${ipAddressKind.kind}; this records what no ` +
    'IPAddress shows.',
  printerColumns: [
    { name: 'Domain', type: 'string', jsonPath: '.spec.domain' },
    { name: 'Fence', type: 'string', jsonPath: '.spec.fence', priority: 1 },
    ageColumn,
  ],
  spec: {
    type: 'object',
    required: ['domain'],
    properties: {
      domain: domainSchema,
      fence: {
        type: 'string',
        maxLength: 32,
        pattern: '^[0-9]*$',
        description:
          'The resourceVersion of the newest IPAddress whose entry was dropped: a manager whose IPAddress cache is ' +
          'older decides nothing on this ledger.',
      },
      entries: {
        type: 'object',
        maxProperties: ledgerMaxEntries,
        'x-kubernetes-map-type': 'atomic',
        description: 'By address, as the IPAddress carries it.',
        additionalProperties: {
          type: 'object',
          required: ['poolRef', 'claimRef'],
          properties: { poolRef: heldPoolRefSchema, claimRef: claimRefSchema, releasedAt: releasedAtSchema },
        },
      },
    },
    'x-kubernetes-validations': [{ rule: 'self.domain == oldSelf.domain', message: 'domain is immutable' }],
  },
});
export type IPAddressLedger = ObjectOf<typeof ipAddressLedgerKind>;
export type IPAddressLedgerEntry = NonNullable<IPAddressLedger['spec']['entries']>[string];
