// IPAddressClaim → IPAddress, for every claim whose pool belongs to one of our providers (Cluster API's IPAM
// contract, spec 02): finalizers, the IPAddress (named after the claim, owned by claim and pool), the claim's
// status and Ready condition, pause, and release on deletion. The provider decides the address (providers/).
//
// Deletion order: the IPAddress goes first (finalizer removed, deleted), then the provider releases the address,
// then the claim's finalizer goes. The contract lists the release first; doing it last means an address is never
// free while an IPAddress still carries it, so a new claim can never get an address that a machine being deleted
// still shows.
import { IPAddressClaims, IPAddresses, sameJSON, type IPAddress, type IPAddressClaim } from '../api/index.ts';
import { isAlreadyExists, isNotFound, unlessNotFound, type KubeObject } from '../kube/index.ts';
import { ClusterLookup, ClusterUnreadableError } from '../providers/clusters.ts';
import { refusedPool, settingsOf } from './coexistence.ts';
import { inClusterPoolUpkeep } from './inclusterpool.ts';
import { ipamMetrics } from './ipam-metrics.ts';
import {
  allocationOf,
  ClaimReasons,
  claimStatus,
  clusterNameLabel,
  clusterOf,
  ipAddressFor,
  ipAddressMetadataPatch,
  ipAddressRelation,
  pausedBy,
  protectAddressFinalizer,
  releaseAddressFinalizer,
  type ClaimOutcome,
} from '../providers/claims.ts';
import { inClusterProvider } from '../providers/in-cluster/provider.ts';
import { enabledInfoblox } from '../providers/infoblox/provider.ts';
import { Overlay } from '../providers/overlay.ts';
import type { Allocation, IPAMProvider } from '../providers/types.ts';
import {
  notStatusOnly,
  hasFinalizer,
  requestFor,
  patchStatus,
  tolerateRaces,
  removeFinalizer,
  addFinalizer,
  type ControllerSetup,
  type Manager,
  type ReconcileContext,
  type Request,
  type Result,
  type WatchSpec,
} from '../runtime/index.ts';

export interface IPAddressClaimControllerOptions {
  /** Concurrent reconciles (default: `--workers` when given, else defaultClaimWorkers). */
  workers?: number;
  /** The providers to serve (default: in-cluster, and ipam-infoblox where its controllers were set up first). */
  providers?: (mgr: Manager) => IPAMProvider[];
  /** How old an IPAddress left without an owning claim must be before its address is released (default 5 min). */
  orphanGraceMs?: number;
}

const clusterIndex = 'ipaddressclaim.cluster';

/** Concurrent claim reconciles unless told otherwise (uniqueness never rests on how many run at once). */
export const defaultClaimWorkers = 32;

/** A move or restore may create an IPAddress before its claim: one without an owning claim waits this long. */
const defaultOrphanGraceMs = 5 * 60_000;

export function ipAddressClaimController(opts: IPAddressClaimControllerOptions = {}): ControllerSetup {
  return {
    name: 'ipaddressclaim',
    setup(mgr) {
      const inCluster = inClusterProvider(mgr);
      const providers: IPAMProvider[] = opts.providers?.(mgr) ?? [inCluster, ...enabledInfoblox(mgr)];
      // Released addresses come back, and pools are protected, with or without the pool controller.
      if (providers.includes(inCluster)) inClusterPoolUpkeep(mgr);
      const orphanGraceMs = opts.orphanGraceMs ?? defaultOrphanGraceMs;
      const claims = new Overlay(mgr.informer(IPAddressClaims));
      const ipAddresses = new Overlay(mgr.informer(IPAddresses));
      const claimInformer = mgr.informer(IPAddressClaims);
      claimInformer.addIndex(clusterIndex, (c) => {
        const cluster = clusterOf(c);
        return cluster ? [`${c.metadata.namespace}/${cluster}`] : [];
      });
      // Claims that went without their release: their last state, by `namespace/name`. The API server can delete a
      // claim that carries our finalizer when a DELETE read it before the finalizer was added (its delete checks
      // the finalizers of the object it read, not of the one it removes); a claim deleted a few ms after its
      // creation then vanishes while its address is being allocated. Whatever was, or will still be, allocated for
      // it is given back by releaseVanished. Such a claim never had a deletionTimestamp. A claim released normally
      // has one: its DELETED event still shows our finalizer, as the event carries the object as last stored, and
      // the update that removed the last finalizer deleted it instead of storing it.
      const vanished = new Map<string, IPAddressClaim>();
      claimInformer.addEventHandler({
        onDelete: (c) => {
          // Not when the whole kind stopped being served: the claims may be there still, unseen.
          if (!claimInformer.isServed()) return;
          if (hasFinalizer(c, releaseAddressFinalizer) && !c.metadata.deletionTimestamp) {
            vanished.set(`${c.metadata.namespace}/${c.metadata.name}`, c);
          }
        },
      });
      const claimClient = mgr.client.resource(IPAddressClaims);
      const ipClient = mgr.client.resource(IPAddresses);
      const recorder = mgr.eventRecorder('cluster-ipam');
      const metrics = ipamMetrics(mgr);
      const requests = (list: readonly IPAddressClaim[]): Request[] =>
        list.map((c) => ({ namespace: c.metadata.namespace ?? '', name: c.metadata.name ?? '' }));

      const controller = mgr.addController({
        name: 'ipaddressclaim',
        for: IPAddressClaims,
        predicate: notStatusOnly,
        owns: [IPAddresses],
        // Claims wait on the API server, not on CPU: many in flight keep its write pipeline full.
        workers: opts.workers ?? settingsOf(mgr).workers ?? defaultClaimWorkers,
        // What each provider says concerns its claims (pools that change, addresses freed, duplicates).
        watches: [
          ...(providers.flatMap((p) => p.wakeups()) as WatchSpec[]),
          // An IPAddress without an owning claim (see releaseOrphan) is named after its claim, as the contract says.
          {
            type: IPAddresses,
            map: (ipa: IPAddress) =>
              ipa.metadata.ownerReferences?.some((r) => r.controller && r.kind === 'IPAddressClaim')
                ? []
                : requestFor(ipa),
          } as unknown as WatchSpec,
        ],
        reconcile: tolerateRaces(reconcileClaim),
      });
      const clusters = new ClusterLookup(mgr, (namespace, name) => {
        for (const req of requests(claimInformer.byIndex(clusterIndex, `${namespace}/${name}`))) {
          controller.enqueue(req);
        }
      });

      // Pause must not rest on a fresh cache (a pool paused a moment before a claim appears, as `clusterctl move`
      // does): before allocating or releasing, the pool is read from the API. A pool that cannot be read fails
      // closed: the error requeues the claim with backoff, nothing is done.
      // Reconciles of one pool's claims share a read, but only one sent after they started: it then shows every
      // change made before their claims were seen, which is all pause needs. While a read is on its way, the
      // reconciles that start wait for the next one, sent as soon as it is back: a burst of claims costs one read per
      // round trip, not one each.
      const poolReads = new Map<string, { current?: Promise<unknown>; next?: Promise<KubeObject | undefined> }>();
      async function freshPool<T extends KubeObject>(
        provider: IPAMProvider,
        pool: T | undefined,
      ): Promise<T | undefined> {
        if (!pool) return pool;
        const type = provider.poolType(pool);
        const key = `${pool.kind}/${pool.metadata.namespace ?? ''}/${pool.metadata.name}`;
        let reads = poolReads.get(key);
        if (!reads) poolReads.set(key, (reads = {}));
        const slot = reads;
        if (!slot.next) {
          const send = async (): Promise<KubeObject | undefined> => {
            // Always yield first: `slot.next` must be this promise until the read is actually sent.
            await (slot.current ?? Promise.resolve()).catch(() => {});
            const read = unlessNotFound<KubeObject>(
              mgr.client.resource(type).get({ namespace: pool.metadata.namespace, name: pool.metadata.name! }),
            );
            // From here on, reconciles that start wait for the read after this one.
            slot.current = read;
            slot.next = undefined;
            try {
              return await read;
            } finally {
              if (slot.current === read) slot.current = undefined;
              if (!slot.current && !slot.next) poolReads.delete(key);
            }
          };
          slot.next = send();
        }
        return (await slot.next) as T | undefined;
      }

      async function reconcileClaim(req: Request, ctx: ReconcileContext): Promise<Result | void> {
        const key = `${req.namespace}/${req.name}`;
        let claim = claims.get(key);
        const gone = vanished.get(key);
        if (gone && gone.metadata.uid !== claim?.metadata.uid) {
          // After the reconcile that was allocating for it (never two of one key at once): nothing more comes.
          await releaseVanished(gone, claim, ctx);
          if (vanished.get(key) === gone) vanished.delete(key);
          if (claim) return { requeue: true };
        }
        if (!claim) return releaseOrphan(req, ctx);
        const provider = providers.find((p) => p.handles(claim!.spec.poolRef));
        if (!provider) return;
        // A reference provider runs and serves this pool kind (coexistence.ts): the claim is its, left untouched.
        if (refusedPool(mgr, claim.spec.poolRef)) return;
        let pool = provider.pool(claim);
        // The Cluster is read only when there is something to do: while Cluster API is absent each read is a GET.
        const clusterName = clusterOf(claim);
        const settled = isSettled(claim, ipAddresses.get(key));
        let paused: string | undefined;
        try {
          const cluster =
            clusterName && !settled ? await clusters.get(req.namespace, clusterName, ctx.signal) : undefined;
          // Whatever is allocated or released goes on with the pool just read, not the cached one: a pool changed
          // (an address excluded) or deleted a moment before the claim was seen is what the API says it is.
          if (!settled) pool = await freshPool(provider, pool);
          paused = pausedBy(claim, pool, cluster);
        } catch (err) {
          // Pause fails closed: what cannot be read may be paused. Say so, and retry with backoff.
          if (!settled && !isNotFound(err)) {
            const why = err instanceof ClusterUnreadableError ? err.message : `cannot read ${poolName(claim)}: ${err}`;
            await writeStatus(claim, { pauseUnknown: why }).catch(() => {});
          }
          throw err;
        }
        if (paused !== undefined) {
          // Nothing is allocated or released; the condition says why (on a claim being deleted too).
          if (hasFinalizer(claim, releaseAddressFinalizer) || !claim.metadata.deletionTimestamp) {
            await writeStatus(claim, { paused });
          }
          return;
        }

        if (claim.metadata.deletionTimestamp) return release(claim, provider, pool, ctx);
        if (!hasFinalizer(claim, releaseAddressFinalizer)) {
          claim = claims.record(await addFinalizer(claimClient, claim, releaseAddressFinalizer));
        }

        const ipa = ipAddresses.get(key);
        const relation = ipa && ipAddressRelation(ipa, claim);
        if (ipa && relation === 'foreign') {
          const message = ipa.metadata.deletionTimestamp
            ? `IPAddress ${req.name} of an earlier claim of this name is being deleted`
            : `IPAddress ${req.name} exists and belongs to another claim (its claimRef is ` +
              `${ipa.spec.claimRef.name}, its pool ${ipa.spec.poolRef.kind} ${ipa.spec.poolRef.name})`;
          return writeStatus(claim, { ready: { status: 'False', reason: 'AllocationFailed', message } });
        }
        const kindName = `${claim.spec.poolRef.kind} ${claim.spec.poolRef.name}`;
        if (!pool) {
          if (ipa && relation === 'own') return writeStatus(claim, ready(req.name));
          return writeStatus(claim, {
            ready: { status: 'False', reason: 'PoolNotReady', message: `${kindName} not found` },
          });
        }
        if (!ipa) {
          const readiness = provider.poolReadiness(pool);
          if (!readiness.ready) {
            return writeStatus(claim, {
              ready: { status: 'False', reason: 'PoolNotReady', message: readiness.message },
            });
          }
        }

        const prepared = await provider.prepare?.(claim, pool, ctx.signal);
        if (prepared) claim = claims.record(prepared);
        const existing = ipa ? allocationOf(ipa) : undefined;
        const result = await provider.allocate(claim, pool, existing, ctx.signal);
        if ('failed' in result) {
          const duplicate = existing && provider.duplicates(claim, pool, existing);
          if (existing && result.failed === 'AllocationFailed') {
            ctx.log.error({ address: existing.address, reason: result.message }, 'duplicate address');
            recorder.event(claim, 'Warning', 'DuplicateAddress', result.message);
          }
          await writeStatus(claim, {
            ready: { status: 'False', reason: result.failed, message: result.message },
            ...(duplicate ? { duplicate } : {}),
          });
          return result.retryAfterMs ? { requeueAfter: result.retryAfterMs } : undefined;
        }

        if (ipa?.metadata.deletionTimestamp && relation === 'adoptable') {
          // Adopted while being deleted (the garbage collector saw its stale owner references): the address is now
          // the claim's reservation; let this IPAddress go and write the claim's own with the same address.
          await deleteIPAddress(ipa);
          ctx.log.info({ address: result.allocated.address }, 'adopted the address of an IPAddress being deleted');
          return { requeue: true };
        }
        if (!ipa) {
          if (!(await createIPAddress(claim, provider, pool, result.allocated, ctx))) return { requeue: true };
        } else {
          const patch = ipAddressMetadataPatch(ipa, claim, pool);
          if (patch) ipAddresses.record(await ipClient.patch({ namespace: req.namespace, name: req.name }, patch));
          if (relation === 'adoptable') {
            ctx.log.info({ address: ipa.spec.address }, 'adopted an existing IPAddress');
            recorder.event(claim, 'Normal', 'AddressAdopted', `adopted IPAddress ${req.name} (${ipa.spec.address})`);
          }
        }
        const duplicate = provider.duplicates(claim, pool, result.allocated);
        return writeStatus(claim, { ...ready(req.name), ...(duplicate ? { duplicate } : {}) });
      }

      /** Allocated, reported, not paused, not being deleted: a reconcile has nothing to write. */
      function isSettled(claim: IPAddressClaim, ipa: IPAddress | undefined): boolean {
        const conditions = claim.status?.conditions ?? [];
        return (
          !claim.metadata.deletionTimestamp &&
          hasFinalizer(claim, releaseAddressFinalizer) &&
          ipa !== undefined &&
          ipAddressRelation(ipa, claim) === 'own' &&
          hasFinalizer(ipa, protectAddressFinalizer) &&
          claim.status?.addressRef?.name === claim.metadata.name &&
          conditions.some((c) => c.type === 'Ready' && c.status === 'True') &&
          !conditions.some((c) => c.type === 'Paused' && c.status === 'True')
        );
      }

      function poolName(claim: IPAddressClaim): string {
        return `${claim.spec.poolRef.kind} ${claim.spec.poolRef.name} to tell whether it is paused`;
      }

      function ready(name: string): ClaimOutcome {
        return {
          addressRef: name,
          ready: { status: 'True', reason: ClaimReasons.AddressAllocated, message: `IPAddress ${name} allocated` },
        };
      }

      async function createIPAddress(
        claim: IPAddressClaim,
        provider: IPAMProvider,
        pool: KubeObject,
        allocation: Allocation,
        ctx: ReconcileContext,
      ): Promise<boolean> {
        try {
          ipAddresses.record(await ipClient.create(ipAddressFor(claim, pool, allocation)));
          return true;
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
        }
        // Written by an earlier attempt our cache has not shown yet, or by another replica, or by someone else.
        const live = ipAddresses.record(
          await ipClient.get({ namespace: claim.metadata.namespace, name: claim.metadata.name! }),
        );
        const relation = ipAddressRelation(live, claim);
        if (relation === 'foreign') throw new Error(`IPAddress ${claim.metadata.name} belongs to another claim`);
        if (relation === 'adoptable') {
          // Appeared meanwhile (a move or restore in progress): ours goes back, the next reconcile adopts it.
          await provider.release(claim, pool, allocation, ctx.signal);
          return false;
        }
        if (live.spec.address !== allocation.address) {
          // Another replica answered the claim first: its address stands, ours is released (after the grace period).
          ctx.log.info({ kept: live.spec.address, released: allocation.address }, 'claim answered by another replica');
          await provider.release(claim, pool, allocation, ctx.signal);
        }
        return true;
      }

      /** Writes the status if it changes; records an Event when Ready turns False with a new reason. */
      async function writeStatus(claim: IPAddressClaim, outcome: ClaimOutcome): Promise<void> {
        const status = claimStatus(claim, outcome);
        if (sameJSON(status, claim.status ?? {})) return;
        const written = claims.record(await patchStatus(claimClient, claim, status));
        const before = claim.status?.conditions?.find((c) => c.type === 'Ready');
        const r = outcome.ready;
        if (r?.status === 'True' && before?.status !== 'True') metrics.allocated(claim);
        if (r && r.status === 'False' && before?.reason !== r.reason) {
          recorder.event(written, 'Warning', r.reason, r.message);
        }
      }

      async function release(
        claim: IPAddressClaim,
        provider: IPAMProvider,
        pool: KubeObject | undefined,
        ctx: ReconcileContext,
      ): Promise<void> {
        if (!hasFinalizer(claim, releaseAddressFinalizer)) return;
        const key = `${claim.metadata.namespace}/${claim.metadata.name}`;
        // No IPAddress in the cache is not "none": a new leader's informer may not show one written moments ago
        // (by the replica that led before, or before a restart). Releasing without it would drop the finalizer and
        // leave the IPAddress for ever (the pool, a live owner, keeps it from the garbage collector) with its
        // address. The API decides, as it does for allocation; a claim with an IPAddress costs no read.
        const ipa =
          ipAddresses.get(key) ??
          (await getOrNone(ipClient.get({ namespace: claim.metadata.namespace, name: claim.metadata.name! })));
        const allocation = ipa && ipAddressRelation(ipa, claim) !== 'foreign' ? allocationOf(ipa) : undefined;
        if (ipa && allocation) await deleteIPAddress(ipa);
        try {
          await provider.release(claim, pool, allocation, ctx.signal);
        } catch (err) {
          // Never forgotten: the finalizer stays, the claim says why, and the release is retried with backoff.
          const what = allocation ? allocation.address : 'its address';
          const message = `releasing ${what} failed, retrying: ${err instanceof Error ? err.message : String(err)}`;
          await writeStatus(claim, { ready: { status: 'False', reason: 'ReleaseFailed', message } }).catch(() => {});
          throw err;
        }
        claims.record(await removeFinalizer(claimClient, claim, releaseAddressFinalizer));
      }

      async function getOrNone(read: Promise<IPAddress>): Promise<IPAddress | undefined> {
        const ipa = await unlessNotFound(read);
        return ipa && ipAddresses.record(ipa);
      }

      async function deleteIPAddress(ipa: IPAddress): Promise<void> {
        const key = { namespace: ipa.metadata.namespace, name: ipa.metadata.name! };
        try {
          if (hasFinalizer(ipa, protectAddressFinalizer))
            ipa = await removeFinalizer(ipClient, ipa, protectAddressFinalizer);
          await ipClient.delete(key, { preconditions: { uid: ipa.metadata.uid } });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        ipAddresses.forget(`${key.namespace}/${key.name}`);
      }

      /**
       * A claim deleted without its release (see `vanished`): its IPAddress (written before or after it went) is
       * deleted and its address released, as a release would. Failures throw: retried with backoff, e.g. while a
       * write of it that got no answer may still be applied. A new claim of the same name keeps what is its own.
       */
      async function releaseVanished(
        gone: IPAddressClaim,
        current: IPAddressClaim | undefined,
        ctx: ReconcileContext,
      ): Promise<void> {
        const provider = providers.find((p) => p.handles(gone.spec.poolRef));
        if (!provider || refusedPool(mgr, gone.spec.poolRef)) return;
        const key = { namespace: gone.metadata.namespace, name: gone.metadata.name! };
        // The API decides that it is gone (a delete event may be a relist's, of a cache that was behind).
        if (!current) {
          current = await unlessNotFound(claimClient.get(key));
          if (current?.metadata.uid === gone.metadata.uid) return;
        }
        const pool = provider.pool(gone);
        if (await pausedNow(gone, clusterOf(gone), provider, pool, ctx)) return;
        const ipa = ipAddresses.get(`${key.namespace}/${key.name}`) ?? (await getOrNone(ipClient.get(key)));
        // Its own (by uid), or named after it in its pool once the garbage collector dropped the dangling owner.
        const owner = ipa?.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'IPAddressClaim');
        const its = ipa && (owner ? owner.uid === gone.metadata.uid : ipAddressRelation(ipa, gone) === 'adoptable');
        const allocation = ipa && its ? allocationOf(ipa) : undefined;
        if (ipa && allocation) await deleteIPAddress(ipa);
        // A claim of the same name now finds the same host name (and record): it is that claim's.
        if (!current) await provider.release(gone, pool, allocation, ctx.signal);
        ctx.log.info(
          { uid: gone.metadata.uid, address: allocation?.address },
          'released for a claim the API server deleted without its release',
        );
      }

      /** Whether the pool or the Cluster of a claim that is gone is paused, read from the API (pause fails closed). */
      async function pausedNow(
        claim: IPAddressClaim,
        clusterName: string | undefined,
        provider: IPAMProvider,
        pool: KubeObject | undefined,
        ctx: ReconcileContext,
      ): Promise<boolean> {
        const namespace = claim.metadata.namespace!;
        const cluster = clusterName ? await clusters.get(namespace, clusterName, ctx.signal) : undefined;
        return pausedBy(claim, await freshPool(provider, pool), cluster) !== undefined;
      }

      /**
       * The claim is gone but its IPAddress is not. Either the IPAddress is being deleted (the garbage collector found
       * its owner gone: the claim's finalizer was removed by hand), or it stayed without an owning claim (the claim
       * went without its release — see `vanished` — while this manager was not running, so the garbage collector
       * dropped the dangling reference and the pool, a live owner, keeps the IPAddress). Nothing else would ever
       * release that address. The second kind waits `orphanGraceMs` (a move or restore may bring the claim after its
       * IPAddress) and the API server must confirm the claim is gone.
       */
      async function releaseOrphan(req: Request, ctx: ReconcileContext): Promise<Result | void> {
        const ipa = ipAddresses.get(`${req.namespace}/${req.name}`);
        if (!ipa || !hasFinalizer(ipa, protectAddressFinalizer)) return;
        const owner = ipa.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'IPAddressClaim');
        const provider = providers.find((p) => p.handles(ipa.spec.poolRef));
        if (!provider || refusedPool(mgr, ipa.spec.poolRef)) return;
        if (ipa.metadata.deletionTimestamp ? !owner : owner) return; // the garbage collector acts first
        if (!ipa.metadata.deletionTimestamp) {
          const age = Date.now() - Date.parse(ipa.metadata.creationTimestamp ?? '');
          if (!(age >= orphanGraceMs)) return { requeueAfter: orphanGraceMs - (Number.isNaN(age) ? 0 : age) };
          // The API decides that the claim is gone (the cache may be behind a claim just created).
          if (await unlessNotFound(claimClient.get({ namespace: req.namespace, name: ipa.spec.claimRef.name }))) return;
        }
        const claim = {
          apiVersion: ipa.apiVersion,
          kind: 'IPAddressClaim',
          metadata: { namespace: req.namespace, name: owner?.name ?? ipa.spec.claimRef.name, uid: owner?.uid ?? '' },
          spec: { poolRef: ipa.spec.poolRef },
        } as IPAddressClaim;
        const pool = provider.pool(claim);
        // During a move the IPAddress may arrive with stale owner references before its claim: the paused pool or
        // Cluster keeps it, as it keeps every claim of a paused Cluster.
        if (await pausedNow(claim, ipa.metadata.labels?.[clusterNameLabel], provider, pool, ctx)) return;
        const allocation = allocationOf(ipa);
        await deleteIPAddress(ipa);
        // Without the claim's uid (the in-cluster reservation then goes with the pool's sweep), by address.
        await provider.release(claim, pool, allocation, ctx.signal);
        ctx.log.info({ address: allocation.address }, 'released the address of a claim deleted without release');
      }
    },
  };
}
