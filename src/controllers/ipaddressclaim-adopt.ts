// The claim's IPAddress, once the provider gave the claim its address: created, or an existing one taken over.
// `clusterctl move` and restores re-create IPAddresses before their claims (owner references missing or stale), and
// another provider may have written one before a migration: a claim adopts the IPAddress of its name that names it
// and its pool, with its address (spec 02 §2.3). Two writers of one claim's IPAddress (a replica that led before,
// an earlier attempt whose answer was lost) settle on the one the API server kept.
import type { IPAddress, IPAddressClaim } from '../api/index.ts';
import { isAlreadyExists, type KubeObject } from '../kube/index.ts';
import {
  ipAddressFor,
  ipAddressMetadataPatch,
  ipAddressRelation,
  type IPAddressRelation,
} from '../providers/claims.ts';
import type { Allocation, ClaimHandler } from '../providers/types.ts';
import type { ReconcileContext } from '../runtime/index.ts';
import { deleteIPAddress, type ClaimWork } from './ipaddressclaim-work.ts';

/**
 * Writes (or adopts) the IPAddress carrying `allocation` for the claim; `ipa` is the one of the claim's name seen
 * before allocating, not foreign. False when the claim must be reconciled again first.
 */
export async function writeIPAddress(
  work: ClaimWork,
  claim: IPAddressClaim,
  handler: ClaimHandler,
  pool: KubeObject,
  ipa: IPAddress | undefined,
  relation: IPAddressRelation | undefined,
  allocation: Allocation,
  ctx: ReconcileContext,
): Promise<boolean> {
  const name = claim.metadata.name!;
  if (ipa?.metadata.deletionTimestamp && relation === 'adoptable') {
    // Adopted while being deleted (the garbage collector saw its stale owner references): the address is now the
    // claim's reservation; let this IPAddress go and write the claim's own with the same address.
    await deleteIPAddress(work, ipa);
    ctx.log.info({ address: allocation.address }, 'adopted the address of an IPAddress being deleted');
    return false;
  }
  if (!ipa) return createIPAddress(work, claim, handler, pool, allocation, ctx);
  const patch = ipAddressMetadataPatch(ipa, claim, pool);
  if (patch) work.ipAddresses.record(await work.ipClient.patch({ namespace: claim.metadata.namespace, name }, patch));
  if (relation === 'adoptable') {
    ctx.log.info({ address: ipa.spec.address }, 'adopted an existing IPAddress');
    work.recorder.event(claim, 'Normal', 'AddressAdopted', `adopted IPAddress ${name} (${ipa.spec.address})`);
  }
  return true;
}

async function createIPAddress(
  work: ClaimWork,
  claim: IPAddressClaim,
  handler: ClaimHandler,
  pool: KubeObject,
  allocation: Allocation,
  ctx: ReconcileContext,
): Promise<boolean> {
  try {
    work.ipAddresses.record(await work.ipClient.create(ipAddressFor(claim, pool, allocation)));
    return true;
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
  // Written by an earlier attempt our cache has not shown yet, or by another replica, or by someone else.
  const live = work.ipAddresses.record(
    await work.ipClient.get({ namespace: claim.metadata.namespace, name: claim.metadata.name! }),
  );
  const relation = ipAddressRelation(live, claim);
  if (relation === 'foreign') throw new Error(`IPAddress ${claim.metadata.name} belongs to another claim`);
  if (relation === 'adoptable') {
    // Appeared meanwhile (a move or restore in progress): ours goes back, the next reconcile adopts it.
    await handler.release(allocation, ctx.signal);
    return false;
  }
  if (live.spec.address !== allocation.address) {
    // Another replica answered the claim first: its address stands, ours is released (after the grace period).
    ctx.log.info({ kept: live.spec.address, released: allocation.address }, 'claim answered by another replica');
    await handler.release(allocation, ctx.signal);
  }
  return true;
}
