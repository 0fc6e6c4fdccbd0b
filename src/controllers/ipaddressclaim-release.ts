// A claim being deleted: its IPAddress goes first (finalizer removed, deleted), then the provider releases the
// address, then the claim's finalizer goes. The contract lists the release first; doing it last means an address is
// never free while an IPAddress still carries it, so a new claim can never get an address that a machine being
// deleted still shows.
import type { IPAddressClaim } from '../api/index.ts';
import { allocationOf, ipAddressRelation, releaseAddressFinalizer } from '../providers/claims.ts';
import type { ClaimHandler } from '../providers/types.ts';
import { hasFinalizer, removeFinalizer, type ReconcileContext } from '../runtime/index.ts';
import { deleteIPAddress, ipAddressOf, type ClaimWork } from './ipaddressclaim-work.ts';

export async function releaseClaim(
  work: ClaimWork,
  claim: IPAddressClaim,
  handler: ClaimHandler,
  ctx: ReconcileContext,
): Promise<void> {
  // The claim as the cache shows it now, not as the reconcile read it: a release this process finished may have
  // removed the finalizer meanwhile (the IPAddress's delete event brought the claim back). Releasing again would find
  // no IPAddress, and a provider may then wait on writes of its predecessor that cannot matter any more. Said by
  // releasedHere until the claim's delete event comes, by the cache once it came.
  const now = work.claims.get(`${claim.metadata.namespace}/${claim.metadata.name}`);
  if (work.releasedHere.has(claim.metadata.uid!) || !now || now.metadata.uid !== claim.metadata.uid) return;
  if (!hasFinalizer(now, releaseAddressFinalizer)) return;
  // No IPAddress in the cache is not "none": a new leader's informer may not show one written moments ago (by the
  // replica that led before, or before a restart). Releasing without it would drop the finalizer and leave the
  // IPAddress for ever (the pool, a live owner, keeps it from the garbage collector) with its address. The API
  // decides, as it does for allocation; a claim with an IPAddress costs no read.
  const ipa = await ipAddressOf(work, { namespace: claim.metadata.namespace, name: claim.metadata.name! });
  const allocation = ipa && ipAddressRelation(ipa, claim) !== 'foreign' ? allocationOf(ipa) : undefined;
  try {
    if (ipa && allocation) {
      await handler.retain(allocation, ctx.signal);
      await deleteIPAddress(work, ipa);
    }
    await handler.release(allocation, ctx.signal);
  } catch (err) {
    // Never forgotten: the finalizer stays, the claim says why, and the release is retried with backoff.
    const what = allocation ? allocation.address : 'its address';
    const message = `releasing ${what} failed, retrying: ${err instanceof Error ? err.message : String(err)}`;
    await work.writeStatus(claim, { ready: { status: 'False', reason: 'ReleaseFailed', message } }).catch(() => {});
    throw err;
  }
  work.releasedHere.add(claim.metadata.uid!);
  try {
    work.claims.record(await removeFinalizer(work.claimClient, claim, releaseAddressFinalizer));
  } catch (err) {
    work.releasedHere.delete(claim.metadata.uid!);
    throw err;
  }
}
