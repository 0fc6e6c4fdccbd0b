// Claims the API server deleted without their release. It can delete a claim that carries our finalizer when a
// DELETE read it before the finalizer was added (its delete checks the finalizers of the object it read, not of the
// one it removes); a claim deleted a few ms after its creation then vanishes while its address is being allocated.
// Whatever was, or will still be, allocated for it is given back here, as its release would have.
import type { IPAddressClaim } from '../api/index.ts';
import { unlessNotFound } from '../kube/index.ts';
import { allocationOf, clusterOf, ipAddressRelation, releaseAddressFinalizer } from '../providers/claims.ts';
import { hasFinalizer, type Informer, type ReconcileContext } from '../runtime/index.ts';
import { deleteIPAddress, ipAddressOf, type ClaimWork } from './ipaddressclaim-work.ts';

/**
 * The last state of each claim that went without its release here, by `namespace/name`. A claim this manager released
 * is not one: its DELETED event still shows our finalizer (the event carries the object as last stored; the update
 * that removed the last finalizer deleted it instead of storing it), so `releasedHere` says which those are. Any other
 * claim that went with our finalizer is: deleted by a DELETE that read it before the finalizer was added (it never had
 * a deletionTimestamp), or released by another manager while this one (a replica during a hand-over, a second
 * manager) was still writing its IPAddress, which the garbage collector would leave behind (the pool owns it too).
 */
export function trackVanished(
  claimInformer: Informer<IPAddressClaim>,
  releasedHere: Set<string>,
): Map<string, IPAddressClaim> {
  const vanished = new Map<string, IPAddressClaim>();
  claimInformer.addEventHandler({
    onDelete: (c) => {
      const mine = releasedHere.delete(c.metadata.uid ?? '');
      // Not when the whole kind stopped being served: the claims may be there still, unseen.
      if (!claimInformer.isServed()) return;
      if (hasFinalizer(c, releaseAddressFinalizer) && !mine) {
        vanished.set(`${c.metadata.namespace}/${c.metadata.name}`, c);
      }
    },
  });
  return vanished;
}

/**
 * A claim deleted without its release: its IPAddress (written before or after it went) is deleted and its address
 * released, as a release would. Failures throw: retried with backoff, e.g. while a write of it that got no answer may
 * still be applied. A new claim of the same name (`current`) keeps what is its own.
 */
export async function releaseVanished(
  work: ClaimWork,
  gone: IPAddressClaim,
  current: IPAddressClaim | undefined,
  ctx: ReconcileContext,
): Promise<void> {
  const served = work.servedBy(gone.spec.poolRef);
  if (!served) return;
  const key = { namespace: gone.metadata.namespace, name: gone.metadata.name! };
  // The API decides that it is gone (a delete event may be a relist's, of a cache that was behind).
  if (!current) {
    current = await unlessNotFound(work.claimClient.get(key));
    if (current?.metadata.uid === gone.metadata.uid) return;
  }
  const handler = await work.releaseHandler(gone, clusterOf(gone), served, ctx);
  if (!handler) return;
  const ipa = await ipAddressOf(work, key);
  // Its own (by uid), or named after it in its pool once the garbage collector dropped the dangling owner.
  const owner = ipa?.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'IPAddressClaim');
  const its = ipa && (owner ? owner.uid === gone.metadata.uid : ipAddressRelation(ipa, gone) === 'adoptable');
  const allocation = ipa && its ? allocationOf(ipa) : undefined;
  if (ipa && allocation) {
    await handler.retain(allocation, ctx.signal);
    await deleteIPAddress(work, ipa);
  }
  // A claim of the same name now finds the same host name (and record): it is that claim's.
  if (!current) await handler.release(allocation, ctx.signal);
  ctx.log.info(
    { uid: gone.metadata.uid, address: allocation?.address },
    'released for a claim the API server deleted without its release',
  );
}
