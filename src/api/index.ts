// The resource model: one schema literal per kind, its derived TypeScript types, and the CRD descriptors.
import { ipAddressClaimKind, ipAddressKind } from './capi.ts';
import { globalInClusterIPPoolKind, inClusterIPPoolKind } from './in-cluster.ts';
import { infobloxInstanceKind, infobloxIPPoolKind } from './infoblox.ts';
import { clusterDeploymentKind, clusterIPAMClaimKind, clusterIPAMKind } from './k0rdent.ts';
import type { KindDescriptor } from './meta.ts';
import { ipAddressLedgerKind } from './ledger.ts';
import { ipAddressReservationKind } from './reservation.ts';

export * from './address.ts';
export * from './capi.ts';
export * from './common.ts';
export * from './crd.ts';
export * from './domains.ts';
export * from './json.ts';
export * from './in-cluster.ts';
export * from './infoblox.ts';
export * from './k0rdent.ts';
export * from './ledger.ts';
export * from './meta.ts';
export * from './reservation.ts';
export * from './resources.ts';

/** Every kind this project defines a CRD for. */
export const kinds: readonly KindDescriptor[] = [
  clusterIPAMClaimKind,
  clusterIPAMKind,
  clusterDeploymentKind,
  ipAddressClaimKind,
  ipAddressKind,
  inClusterIPPoolKind,
  globalInClusterIPPoolKind,
  infobloxInstanceKind,
  infobloxIPPoolKind,
  ipAddressReservationKind,
  ipAddressLedgerKind,
];
