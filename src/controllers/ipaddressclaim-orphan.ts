// An IPAddress whose claim is gone. Either the IPAddress is being deleted (the garbage collector found its owner
// gone: the claim's finalizer was removed by hand), or it stayed without an owning claim (the claim went without its
// release — see ipaddressclaim-vanished.ts — while this manager was not running, so the garbage collector dropped the
// dangling reference and the pool, a live owner, keeps the IPAddress). Nothing else would ever release that address.
import { IPAddresses, type IPAddress, type IPAddressClaim } from '../api/index.ts';
import { unlessNotFound } from '../kube/index.ts';
import { allocationOf, clusterNameLabel, protectAddressFinalizer } from '../providers/claims.ts';
import {
  hasFinalizer,
  requestFor,
  type ReconcileContext,
  type Request,
  type Result,
  type WatchSpec,
} from '../runtime/index.ts';
import { deleteIPAddress, type ClaimWork } from './ipaddressclaim-work.ts';

/** An IPAddress without an owning claim is named after its claim, as the contract says: it wakes that claim's key. */
export const orphanWatch = {
  type: IPAddresses,
  map: (ipa: IPAddress) =>
    ipa.metadata.ownerReferences?.some((r) => r.controller && r.kind === 'IPAddressClaim') ? [] : requestFor(ipa),
} as unknown as WatchSpec;

/**
 * Releases the address of the IPAddress named `req` when its claim is gone. One without an owning claim waits
 * `orphanGraceMs` (a move or restore may bring the claim after its IPAddress) and the API server must confirm the
 * claim is gone.
 */
export async function releaseOrphan(
  work: ClaimWork,
  req: Request,
  orphanGraceMs: number,
  ctx: ReconcileContext,
): Promise<Result | void> {
  const ipa = work.ipAddresses.get(`${req.namespace}/${req.name}`);
  if (!ipa || !hasFinalizer(ipa, protectAddressFinalizer)) return;
  const owner = ipa.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'IPAddressClaim');
  const served = work.servedBy(ipa.spec.poolRef);
  if (!served) return;
  if (ipa.metadata.deletionTimestamp ? !owner : owner) return; // the garbage collector acts first
  if (!ipa.metadata.deletionTimestamp) {
    const age = Date.now() - Date.parse(ipa.metadata.creationTimestamp ?? '');
    if (!(age >= orphanGraceMs)) return { requeueAfter: orphanGraceMs - (Number.isNaN(age) ? 0 : age) };
    // The API decides that the claim is gone (the cache may be behind a claim just created).
    if (await unlessNotFound(work.claimClient.get({ namespace: req.namespace, name: ipa.spec.claimRef.name }))) return;
  }
  const claim = {
    apiVersion: ipa.apiVersion,
    kind: 'IPAddressClaim',
    metadata: { namespace: req.namespace, name: owner?.name ?? ipa.spec.claimRef.name, uid: owner?.uid ?? '' },
    spec: { poolRef: ipa.spec.poolRef },
  } as IPAddressClaim;
  // During a move the IPAddress may arrive with stale owner references before its claim: the paused pool or Cluster
  // keeps it, as it keeps every claim of a paused Cluster.
  const handler = await work.releaseHandler(claim, ipa.metadata.labels?.[clusterNameLabel], served, ctx);
  if (!handler) return;
  const allocation = allocationOf(ipa);
  await handler.retain(allocation, ctx.signal);
  await deleteIPAddress(work, ipa);
  // Without the claim's uid (the in-cluster reservation then goes with the pool's sweep), by address.
  await handler.release(allocation, ctx.signal);
  ctx.log.info({ address: allocation.address }, 'released the address of a claim deleted without release');
}
