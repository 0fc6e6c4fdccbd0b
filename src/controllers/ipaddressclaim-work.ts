// What the IPAddressClaim controller's flows share (ipaddressclaim.ts builds it once per manager): the caches with our
// own writes, the clients, and the steps every flow takes the same way. Each flow has its own page:
// ipaddressclaim-adopt.ts (the claim's IPAddress written or taken over), -release.ts (a claim deleted),
// -vanished.ts (a claim the API server deleted without its release), -orphan.ts (an IPAddress whose claim is gone).
import type { IPAddress, IPAddressClaim } from '../api/index.ts';
import { isNotFound, unlessNotFound, type ResourceClient } from '../kube/index.ts';
import type { ClaimOutcome } from '../providers/claims.ts';
import { protectAddressFinalizer } from '../providers/claims.ts';
import type { Overlay } from '../providers/overlay.ts';
import type { Served } from '../providers/registry.ts';
import type { ClaimHandler, PoolRef } from '../providers/types.ts';
import { hasFinalizer, removeFinalizer, type EventRecorder, type ReconcileContext } from '../runtime/index.ts';

export interface ClaimWork {
  readonly claims: Overlay<IPAddressClaim>;
  readonly ipAddresses: Overlay<IPAddress>;
  readonly claimClient: ResourceClient<IPAddressClaim>;
  readonly ipClient: ResourceClient<IPAddress>;
  readonly recorder: EventRecorder;
  /** Uids of the claims whose release this manager finished (it removed their finalizer): see -vanished.ts. */
  readonly releasedHere: Set<string>;
  /** The provider serving a poolRef; undefined leaves the claim to another IPAM provider, untouched. */
  servedBy(ref: PoolRef): Served | undefined;
  /**
   * The handler releasing for a claim that is gone, built from its pool as read from the API; undefined while the
   * pool or the claim's Cluster is paused (pause fails closed).
   */
  releaseHandler(
    claim: IPAddressClaim,
    clusterName: string | undefined,
    served: Served,
    ctx: ReconcileContext,
  ): Promise<ClaimHandler | undefined>;
  /** Writes the status if it changes; records an Event when Ready turns False with a new reason. */
  writeStatus(claim: IPAddressClaim, outcome: ClaimOutcome): Promise<void>;
}

/** The IPAddress of this name: the cache's, else the API's (a cache may not show one written moments ago). */
export async function ipAddressOf(
  work: ClaimWork,
  key: { namespace: string | undefined; name: string },
): Promise<IPAddress | undefined> {
  const cached = work.ipAddresses.get(`${key.namespace}/${key.name}`);
  if (cached) return cached;
  const ipa = await unlessNotFound(work.ipClient.get(key));
  return ipa && work.ipAddresses.record(ipa);
}

/** Deletes an IPAddress (this uid only), its ProtectAddress finalizer first. */
export async function deleteIPAddress(work: ClaimWork, ipa: IPAddress): Promise<void> {
  const key = { namespace: ipa.metadata.namespace, name: ipa.metadata.name! };
  try {
    if (hasFinalizer(ipa, protectAddressFinalizer))
      ipa = await removeFinalizer(work.ipClient, ipa, protectAddressFinalizer);
    await work.ipClient.delete(key, { preconditions: { uid: ipa.metadata.uid } });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  work.ipAddresses.forget(`${key.namespace}/${key.name}`);
}
