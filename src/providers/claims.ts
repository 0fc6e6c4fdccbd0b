// What the Cluster API IPAM contract asks of every provider, as pure functions: pause, the IPAddress object (name,
// owner references, finalizer, label, spec), and the claim's status.
import { ipAddressKind, ipamGroup, type IPAddress, type IPAddressClaim } from '../api/index.ts';
import { sameJSON } from '../api/index.ts';
import { toV1Beta1Condition } from '../api/capi-v1beta1.ts';
import type { Condition, KubeObject, OwnerReference } from '../kube/index.ts';
import { setCondition } from '../runtime/index.ts';
import type { Allocation, FailureReason } from './types.ts';

export const releaseAddressFinalizer = 'ipam.cluster.x-k8s.io/ReleaseAddress';
export const protectAddressFinalizer = 'ipam.cluster.x-k8s.io/ProtectAddress';
export const protectPoolFinalizer = 'ipam.cluster.x-k8s.io/ProtectPool';
export const clusterNameLabel = 'cluster.x-k8s.io/cluster-name';
export const pausedAnnotation = 'cluster.x-k8s.io/paused';

export const ClaimReasons = {
  AddressAllocated: 'AddressAllocated',
  Paused: 'Paused',
  NotPaused: 'NotPaused',
  PauseUnknown: 'PauseUnknown',
  /** On a claim being deleted: its provider could not release the address yet (it keeps trying). */
  ReleaseFailed: 'ReleaseFailed',
  DuplicateAddress: 'DuplicateAddress',
  UniqueAddress: 'UniqueAddress',
} as const;

/** The claim's Cluster: `spec.clusterName`, else the cluster-name label. */
export function clusterOf(claim: IPAddressClaim): string | undefined {
  return claim.spec.clusterName || claim.metadata.labels?.[clusterNameLabel] || undefined;
}

export const hasPausedAnnotation = (obj: KubeObject | undefined): boolean =>
  obj?.metadata.annotations?.[pausedAnnotation] !== undefined;

/** A Cluster is paused by `spec.paused: true` or the annotation. */
export function isClusterPaused(cluster: (KubeObject & { spec?: { paused?: boolean } }) | undefined): boolean {
  return cluster?.spec?.paused === true || hasPausedAnnotation(cluster);
}

/** What pauses the claim, in words; undefined if nothing does. A missing Cluster never pauses. */
export function pausedBy(
  claim: IPAddressClaim,
  pool: KubeObject | undefined,
  cluster: KubeObject | undefined,
): string | undefined {
  if (hasPausedAnnotation(claim)) return `the claim has the ${pausedAnnotation} annotation`;
  if (hasPausedAnnotation(pool)) return `${pool!.kind} ${pool!.metadata.name} has the ${pausedAnnotation} annotation`;
  if (isClusterPaused(cluster)) return `Cluster ${cluster!.metadata.name} is paused`;
  return undefined;
}

const ownerRef = (obj: KubeObject, controller: boolean): OwnerReference => ({
  apiVersion: obj.apiVersion!,
  kind: obj.kind!,
  name: obj.metadata.name!,
  uid: obj.metadata.uid!,
  controller,
  blockOwnerDeletion: true,
});

/** The claim (controller) and the pool (not controller), both blocking deletion; unrelated references are kept. */
export function ownerReferences(
  existing: readonly OwnerReference[] | undefined,
  claim: IPAddressClaim,
  pool: KubeObject | undefined,
): OwnerReference[] {
  const ours = [ownerRef(claim, true), ...(pool ? [ownerRef(pool, false)] : [])];
  const same = (a: OwnerReference, b: OwnerReference) =>
    a.uid === b.uid ||
    (a.kind === b.kind && a.name === b.name && a.apiVersion.split('/')[0] === b.apiVersion.split('/')[0]);
  const kept = (existing ?? []).filter((r) => !ours.some((o) => same(o, r)));
  return [...kept, ...ours];
}

export function ipAddressFor(claim: IPAddressClaim, pool: KubeObject, allocation: Allocation): IPAddress {
  const cluster = claim.metadata.labels?.[clusterNameLabel];
  return {
    apiVersion: `${ipAddressKind.group}/${ipAddressKind.version}`,
    kind: 'IPAddress',
    metadata: {
      name: claim.metadata.name,
      namespace: claim.metadata.namespace,
      finalizers: [protectAddressFinalizer],
      ownerReferences: ownerReferences(undefined, claim, pool),
      ...(cluster ? { labels: { [clusterNameLabel]: cluster } } : {}),
    },
    spec: {
      address: allocation.address,
      prefix: allocation.prefix,
      ...(allocation.gateway ? { gateway: allocation.gateway } : {}),
      poolRef: { apiGroup: claim.spec.poolRef.apiGroup ?? ipamGroup, kind: pool.kind!, name: pool.metadata.name! },
      claimRef: { name: claim.metadata.name! },
    },
  };
}

/**
 * How an IPAddress of the claim's name relates to the claim:
 * - `own`: written for it (the claim as controller, by uid);
 * - `adoptable`: it names the claim (`claimRef.name`) and the claim's pool, but its owner references are missing or
 *   stale — re-created before its claim by `clusterctl move` or a restore, or written by another provider: the
 *   claim takes it over with its address (spec 02 §2.3);
 * - `foreign`: it names another claim or another pool.
 */
export type IPAddressRelation = 'own' | 'adoptable' | 'foreign';

export function ipAddressRelation(ipa: IPAddress, claim: IPAddressClaim): IPAddressRelation {
  if (ipa.metadata.ownerReferences?.some((r) => r.controller && r.uid === claim.metadata.uid)) return 'own';
  const ref = ipa.spec.poolRef;
  const want = claim.spec.poolRef;
  const samePool = ref.kind === want.kind && ref.name === want.name && (ref.apiGroup ?? ipamGroup) === want.apiGroup;
  return ipa.spec.claimRef.name === claim.metadata.name && samePool ? 'adoptable' : 'foreign';
}

export function allocationOf(ipa: IPAddress): Allocation {
  const a: Allocation = { address: ipa.spec.address, prefix: ipa.spec.prefix };
  if (ipa.spec.gateway) a.gateway = ipa.spec.gateway;
  return a;
}

/**
 * The metadata patch an existing IPAddress of the claim needs (finalizer, owner references, cluster label), with
 * its resourceVersion so a concurrent change fails with 409; undefined if it has all of it.
 */
export function ipAddressMetadataPatch(ipa: IPAddress, claim: IPAddressClaim, pool: KubeObject | undefined) {
  const meta: Record<string, unknown> = {};
  const finalizers = ipa.metadata.finalizers ?? [];
  if (!finalizers.includes(protectAddressFinalizer)) meta.finalizers = [...finalizers, protectAddressFinalizer];
  const refs = ownerReferences(ipa.metadata.ownerReferences, claim, pool);
  const byUid = (list: readonly OwnerReference[]) => [...list].sort((a, b) => (a.uid < b.uid ? -1 : 1));
  if (!sameJSON(byUid(refs), byUid(ipa.metadata.ownerReferences ?? []))) meta.ownerReferences = refs;
  const cluster = claim.metadata.labels?.[clusterNameLabel];
  if (cluster && ipa.metadata.labels?.[clusterNameLabel] !== cluster) meta.labels = { [clusterNameLabel]: cluster };
  if (Object.keys(meta).length === 0) return undefined;
  return { metadata: { ...meta, resourceVersion: ipa.metadata.resourceVersion } };
}

export type ClaimStatus = NonNullable<IPAddressClaim['status']>;

export interface ClaimOutcome {
  /** The IPAddress's name once allocated. */
  addressRef?: string;
  /** Left as it is when absent (paused). */
  ready?: {
    status: 'True' | 'False';
    reason: FailureReason | typeof ClaimReasons.AddressAllocated | typeof ClaimReasons.ReleaseFailed;
    message: string;
  };
  /** Why the claim is paused; a Paused condition is written then, and set False (if present) when not. */
  paused?: string;
  /** Why it cannot be told whether the claim is paused (its pool or Cluster cannot be read): Paused=Unknown. */
  pauseUnknown?: string;
  /**
   * Other holders of the claim's address in its address domain (a duplicate, e.g. after merging two management
   * clusters): a DuplicateAddress condition says so while they exist, and turns False (if present) when not.
   */
  duplicate?: string;
}

/**
 * The status fields this provider owns for an outcome, to be written as a merge patch: conditions keep their
 * lastTransitionTime while their status holds; what other writers set (their conditions, in either shape, and any
 * other field) is kept as read.
 */
export function claimStatus(claim: IPAddressClaim, outcome: ClaimOutcome, now = new Date()): ClaimStatus {
  const before = (claim.status?.conditions ?? []) as Condition[];
  let conditions = before;
  const set = (type: string, status: 'True' | 'False' | 'Unknown', reason: string, message?: string) =>
    (conditions = setCondition(conditions, { type, status, reason, message }, claim.metadata.generation, now));
  const isSet = (type: string) => before.some((c) => c.type === type && c.status !== 'False');
  if (outcome.paused !== undefined) set('Paused', 'True', ClaimReasons.Paused, outcome.paused);
  else if (outcome.pauseUnknown !== undefined)
    set('Paused', 'Unknown', ClaimReasons.PauseUnknown, outcome.pauseUnknown);
  else {
    if (isSet('Paused')) set('Paused', 'False', ClaimReasons.NotPaused);
    if (outcome.ready) set('Ready', outcome.ready.status, outcome.ready.reason, outcome.ready.message);
    if (outcome.duplicate !== undefined) {
      set('DuplicateAddress', 'True', ClaimReasons.DuplicateAddress, outcome.duplicate);
    } else if (isSet('DuplicateAddress')) set('DuplicateAddress', 'False', ClaimReasons.UniqueAddress);
  }
  const status: ClaimStatus = { conditions };
  // Cluster API's v1beta2 transition asks providers to go on writing the v1beta1 conditions: v1beta1 readers (CAPV
  // aggregates the claims' Ready into its VSphereVM's IPAddressClaimed; clusterctl describe) see only these.
  const ready = conditions.find((c) => c.type === 'Ready');
  if (ready) {
    const older = claim.status?.deprecated?.v1beta1?.conditions ?? [];
    const mine = toV1Beta1Condition(ready);
    const at = older.findIndex((c) => c.type === 'Ready');
    status.deprecated = {
      v1beta1: { conditions: at < 0 ? [...older, mine] : older.map((c, i) => (i === at ? mine : c)) },
    };
  }
  const ref = outcome.addressRef ?? claim.status?.addressRef?.name;
  if (ref) status.addressRef = { name: ref };
  return status;
}

/** Whether writing `owned` (as claimStatus makes it, a merge patch) would leave the claim's status as it is. */
export function claimStatusHolds(owned: ClaimStatus, current: ClaimStatus | undefined): boolean {
  return (
    sameJSON(owned.conditions, current?.conditions ?? []) &&
    (!owned.addressRef || sameJSON(owned.addressRef, current?.addressRef)) &&
    (!owned.deprecated || sameJSON(owned.deprecated.v1beta1?.conditions, current?.deprecated?.v1beta1?.conditions))
  );
}
