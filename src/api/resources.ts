// The typed resource handles of every kind, for the client, informers and watches: one place, so the controllers,
// providers, webhook and tests agree. A type-only import keeps src/api free of the Kubernetes client (src/ipam, which
// is pure, imports these too); a kind descriptor is already a valid ResourceType at run time. Kinds whose CRDs come
// from components that may be absent (k0rdent, Infoblox) are `optional`: the manager runs without them.
import { Conditions } from '../ipam/kinds.ts';
import type { ResourceType } from '../kube/index.ts';
import { ipAddressClaimKind, ipAddressKind, type IPAddress, type IPAddressClaim } from './capi.ts';
import {
  globalInClusterIPPoolKind,
  inClusterIPPoolKind,
  type GlobalInClusterIPPool,
  type InClusterIPPool,
} from './in-cluster.ts';
import { infobloxInstanceKind, infobloxIPPoolKind, type InfobloxInstance, type InfobloxIPPool } from './infoblox.ts';
import {
  clusterDeploymentKind,
  clusterIPAMClaimKind,
  clusterIPAMKind,
  type ClusterDeployment,
  type ClusterIPAM,
  type ClusterIPAMClaim,
} from './k0rdent.ts';
import { ipAddressLedgerKind, type IPAddressLedger } from './ledger.ts';
import { ipAddressReservationKind, type IPAddressReservation } from './reservation.ts';

export const ClusterIPAMClaims: ResourceType<ClusterIPAMClaim> = clusterIPAMClaimKind;
export const ClusterIPAMs: ResourceType<ClusterIPAM> = clusterIPAMKind;
export const ClusterDeployments: ResourceType<ClusterDeployment> = {
  ...clusterDeploymentKind,
  optional: true,
  // Of kcm's status (its conditions, services, versions, ...) only the gate's IPAMReady is read.
  cached: (d) => {
    const ready = d.status?.conditions?.filter((c) => c.type === Conditions.IPAMReady);
    return d.status ? { ...d, status: ready?.length ? { conditions: ready } : {} } : d;
  },
};
export const IPAddressClaims: ResourceType<IPAddressClaim> = ipAddressClaimKind;
export const IPAddresses: ResourceType<IPAddress> = ipAddressKind;
export const IPAddressReservations: ResourceType<IPAddressReservation> = ipAddressReservationKind;
export const IPAddressLedgers: ResourceType<IPAddressLedger> = ipAddressLedgerKind;
export const InClusterIPPools: ResourceType<InClusterIPPool> = inClusterIPPoolKind;
export const GlobalInClusterIPPools: ResourceType<GlobalInClusterIPPool> = globalInClusterIPPoolKind;
export const InfobloxIPPools: ResourceType<InfobloxIPPool> = { ...infobloxIPPoolKind, optional: true };
export const InfobloxInstances: ResourceType<InfobloxInstance> = { ...infobloxInstanceKind, optional: true };
