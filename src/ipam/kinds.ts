// The names (annotations, finalizer, conditions, reasons) the cluster IPAM workflow defines. The resource handles of
// its kinds are in src/api/resources.ts.

/** On a claim: `"true"` lets it bind although its addresses overlap another claim's or a pool's (still reported). */
export const allowOverlapAnnotation = 'k0rdent.mirantis.com/allow-overlap';
/** On a claim: the InfobloxInstance its InfobloxIPPools use. */
export const infobloxInstanceAnnotation = 'k0rdent.mirantis.com/infoblox-instance';
/** On every claim: removed on deletion only once no live ClusterDeployment references the claim. */
export const claimInUseFinalizer = 'k0rdent.mirantis.com/cluster-ipam-claim-in-use';

export const Conditions = {
  /** Claim, ClusterIPAM: bound (True) or why not (False). */
  Ready: 'Ready',
  /** Claim: the spec is usable; False names the fields at fault. */
  Valid: 'Valid',
  /** Claim: no other claim or pool holds these addresses (or overlap is allowed). */
  AddressSpaceAvailable: 'AddressSpaceAvailable',
  /** ClusterDeployment: the provisioning gate. */
  IPAMReady: 'IPAMReady',
  /**
   * ClusterIPAM: the API server took the last writes of its pools (False: it refused one, e.g. the pools' admission
   * webhook refused a shrink under live allocations; the message is the API server's).
   */
  PoolsSynced: 'PoolsSynced',
} as const;

export const Reasons = {
  // Ready / IPAMReady, True
  Bound: 'Bound',
  IPAMReady: 'IPAMReady',
  // Valid
  Valid: 'Valid',
  ValidWithWarnings: 'ValidWithWarnings',
  InvalidSpec: 'InvalidSpec',
  // AddressSpaceAvailable
  NoOverlap: 'NoOverlap',
  HoldsAddressSpace: 'HoldsAddressSpace',
  OverlapAllowed: 'OverlapAllowed',
  Overlap: 'Overlap',
  // claim Ready, False
  ClusterIPAMNameTaken: 'ClusterIPAMNameTaken',
  WaitingForClusterIPAM: 'WaitingForClusterIPAM',
  DeletionBlocked: 'DeletionBlocked',
  // ClusterIPAM Ready, False (mirrored on the claim)
  ClaimNotFound: 'ClaimNotFound',
  ClaimNotAdmitted: 'ClaimNotAdmitted',
  PoolNameTaken: 'PoolNameTaken',
  PoolDeleting: 'PoolDeleting',
  PoolNotReady: 'PoolNotReady',
  NoInfobloxInstance: 'NoInfobloxInstance',
  InfobloxInstanceNotFound: 'InfobloxInstanceNotFound',
  InfobloxInstanceAmbiguous: 'InfobloxInstanceAmbiguous',
  PoolCreateRefused: 'PoolCreateRefused',
  PoolUpdateRefused: 'PoolUpdateRefused',
  // ClusterIPAM PoolsSynced
  PoolsSynced: 'PoolsSynced',
  PoolDeleteRefused: 'PoolDeleteRefused',
  // ClusterDeployment IPAMReady, False
  ClaimClusterMismatch: 'ClaimClusterMismatch',
  ClaimNotManaged: 'ClaimNotManaged',
  ClaimNotBound: 'ClaimNotBound',
  ClaimDeleting: 'ClaimDeleting',
  InsufficientAddresses: 'InsufficientAddresses',
  InvalidConfig: 'InvalidConfig',
  EndpointPending: 'EndpointPending',
  EndpointAddressInUse: 'EndpointAddressInUse',
} as const;

// Reasons a user must act on. The other False reasons are progress (waiting for a pool, for the claim) and show in
// conditions only: an Event for each would bury the ones that matter.
const problems = new Set<string>([
  Reasons.InvalidSpec,
  Reasons.Overlap,
  Reasons.ClusterIPAMNameTaken,
  Reasons.DeletionBlocked,
  Reasons.PoolNameTaken,
  Reasons.NoInfobloxInstance,
  Reasons.InfobloxInstanceNotFound,
  Reasons.InfobloxInstanceAmbiguous,
  Reasons.PoolCreateRefused,
  Reasons.PoolUpdateRefused,
  Reasons.PoolDeleteRefused,
  Reasons.ClaimClusterMismatch,
  Reasons.ClaimNotFound,
  Reasons.ClaimDeleting,
  Reasons.InsufficientAddresses,
  Reasons.InvalidConfig,
  Reasons.EndpointAddressInUse,
]);

export interface EventSpec {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
}

/** The Event a condition's new status and reason deserve, if any. */
export function eventFor(cond: { type: string; status: string; reason: string }): EventSpec | undefined {
  if (cond.type === Conditions.PoolsSynced) {
    // A refused create or update also makes Ready False with the same reason, which carries the Event (and the claim
    // repeats it); only a refused delete leaves Ready alone.
    return cond.status === 'False' && cond.reason === Reasons.PoolDeleteRefused
      ? { type: 'Warning', reason: cond.reason }
      : undefined;
  }
  if (cond.type === Conditions.AddressSpaceAvailable && cond.status === 'True' && cond.reason !== Reasons.NoOverlap) {
    return { type: 'Warning', reason: Reasons.Overlap }; // the claim that keeps the addresses hears of the overlap too
  }
  if (cond.status === 'True') {
    return cond.type === Conditions.Ready || cond.type === Conditions.IPAMReady
      ? { type: 'Normal', reason: cond.reason }
      : undefined;
  }
  return problems.has(cond.reason) ? { type: 'Warning', reason: cond.reason } : undefined;
}
