// IPAddressClaim → IPAddress, for every claim whose pool belongs to one of our providers (Cluster API's IPAM
// contract, spec 02): finalizers, the IPAddress (named after the claim, owned by claim and pool), the claim's
// status and Ready condition, pause, and release on deletion. The provider decides the address (providers/). Here:
// the reconcile of a claim up to its address; each release or adoption flow has its own page (ipaddressclaim-work.ts
// lists them).
import { IPAddressClaims, IPAddresses, type IPAddress, type IPAddressClaim } from '../api/index.ts';
import { isNotFound, unlessNotFound, type KubeObject, type ResourceType } from '../kube/index.ts';
import { ClusterLookup, ClusterUnreadableError } from '../providers/clusters.ts';
import { refusedPool, settingsOf } from './coexistence.ts';
import { inClusterPoolUpkeep } from './inclusterpool.ts';
import { ipamMetrics } from './ipam-metrics.ts';
import { writeIPAddress } from './ipaddressclaim-adopt.ts';
import { orphanWatch, releaseOrphan } from './ipaddressclaim-orphan.ts';
import { releaseClaim } from './ipaddressclaim-release.ts';
import { releaseVanished, trackVanished } from './ipaddressclaim-vanished.ts';
import type { ClaimWork } from './ipaddressclaim-work.ts';
import {
  allocationOf,
  ClaimReasons,
  claimStatus,
  claimStatusHolds,
  clusterOf,
  ipAddressRelation,
  pausedBy,
  protectAddressFinalizer,
  releaseAddressFinalizer,
  type ClaimOutcome,
} from '../providers/claims.ts';
import { inClusterProvider } from '../providers/in-cluster/provider.ts';
import { Overlay } from '../providers/overlay.ts';
import { providerRegistry, type Served } from '../providers/registry.ts';
import type { ClaimHandler, PoolReadiness, PoolRef } from '../providers/types.ts';
import {
  notStatusOnly,
  hasFinalizer,
  patchStatus,
  tolerateRaces,
  addFinalizer,
  addMetadata,
  type ControllerSetup,
  type ReconcileContext,
  type Request,
  type Result,
} from '../runtime/index.ts';

export interface IPAddressClaimControllerOptions {
  /** Concurrent reconciles (default: `--workers` when given, else defaultClaimWorkers). */
  workers?: number;
  /** How old an IPAddress left without an owning claim must be before its address is released (default 5 min). */
  orphanGraceMs?: number;
}

const clusterIndex = 'ipaddressclaim.cluster';

/** Concurrent claim reconciles unless told otherwise (uniqueness never rests on how many run at once). */
export const defaultClaimWorkers = 64;

/** A move or restore may create an IPAddress before its claim: one without an owning claim waits this long. */
const defaultOrphanGraceMs = 5 * 60_000;

export function ipAddressClaimController(opts: IPAddressClaimControllerOptions = {}): ControllerSetup {
  return {
    name: 'ipaddressclaim',
    setup(mgr) {
      // The in-cluster provider is always served; the others where their controllers create them (registry.ts).
      inClusterProvider(mgr);
      // Released addresses come back, and pools are protected, with or without the pool controller.
      inClusterPoolUpkeep(mgr);
      const registry = providerRegistry(mgr);
      const orphanGraceMs = opts.orphanGraceMs ?? defaultOrphanGraceMs;
      const claims = new Overlay(mgr.informer(IPAddressClaims));
      const ipAddresses = new Overlay(mgr.informer(IPAddresses));
      const claimInformer = mgr.informer(IPAddressClaims);
      claimInformer.addIndex(clusterIndex, (c) => {
        const cluster = clusterOf(c);
        return cluster ? [`${c.metadata.namespace}/${cluster}`] : [];
      });
      // Claims that went without their release (ipaddressclaim-vanished.ts).
      const releasedHere = new Set<string>();
      const vanished = trackVanished(claimInformer, releasedHere);
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
        watches: [orphanWatch],
        reconcile: tolerateRaces(reconcileClaim),
      });
      // What each provider says concerns its claims (pools that change, addresses freed, duplicates), whether it was
      // registered before or after this controller was set up.
      registry.each((provider) => {
        for (const w of provider.wakeups()) controller.watch(mgr.informer(w.type), w.map, w.predicate);
      });
      /** The provider serving a poolRef; undefined leaves the claim to another IPAM provider, untouched. */
      const servedBy = (ref: PoolRef): Served | undefined =>
        // A reference provider runs and serves this pool kind (coexistence.ts): its claims are its own.
        refusedPool(mgr, ref) ? undefined : registry.lookup(ref);
      const work: ClaimWork = {
        claims,
        ipAddresses,
        claimClient,
        ipClient,
        recorder,
        releasedHere,
        servedBy,
        releaseHandler,
        writeStatus,
      };
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
        type: ResourceType<KubeObject>,
        pool: T | undefined,
      ): Promise<T | undefined> {
        if (!pool) return pool;
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
          await releaseVanished(work, gone, claim, ctx);
          if (vanished.get(key) === gone) vanished.delete(key);
          if (claim) return { requeue: true };
        }
        if (!claim) return releaseOrphan(work, req, orphanGraceMs, ctx);
        const served = servedBy(claim.spec.poolRef);
        if (!served) return;
        const { provider } = served;
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
          if (!settled) pool = await freshPool(served.poolType, pool);
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
        // Unpaused (or readable again): said at once, whatever the allocation or release below does (it may fail
        // and be retried for a while); the other conditions stay as they are.
        const conditions = claim.status?.conditions ?? [];
        if (conditions.some((c) => c.type === 'Paused' && c.status !== 'False')) {
          const duplicate = conditions.find((c) => c.type === 'DuplicateAddress' && c.status === 'True')?.message;
          await writeStatus(claim, duplicate !== undefined ? { duplicate } : {});
          claim = claims.get(key) ?? claim;
        }

        if (claim.metadata.deletionTimestamp) return releaseClaim(work, claim, provider.handler(claim, pool), ctx);

        const ipa = ipAddresses.get(key);
        const relation = ipa && ipAddressRelation(ipa, claim);
        // A claim is allocated for when its pool is there and ready (or its IPAddress exists: kept whatever the pool
        // says), and no other claim's IPAddress is in the way.
        const candidate = pool && relation !== 'foreign' ? provider.handler(claim, pool) : undefined;
        const readiness: PoolReadiness = candidate && !ipa ? candidate.readiness() : { ready: true };
        claim = await writeMetadata(claim, readiness.ready ? candidate : undefined, ctx.signal);

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
        if (!readiness.ready) {
          return writeStatus(claim, { ready: { status: 'False', reason: 'PoolNotReady', message: readiness.message } });
        }
        // From here on, every step deals with the claim as written and the pool read above, through one handler.
        const handler = provider.handler(claim, pool);
        const existing = ipa ? allocationOf(ipa) : undefined;
        const result = await handler.ensureAddress(existing, ctx.signal);
        if ('failed' in result) {
          const duplicate = existing && handler.duplicates(existing);
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

        if (!(await writeIPAddress(work, claim, handler, pool, ipa, relation, result.allocated, ctx))) {
          return { requeue: true };
        }
        const duplicate = handler.duplicates(result.allocated);
        await writeStatus(claim, { ...ready(req.name), ...(duplicate ? { duplicate } : {}) });
        return result.retryAfterMs ? { requeueAfter: result.retryAfterMs } : undefined;
      }

      /**
       * The claim with its finalizer and, when `handler` is given (the claim is about to be allocated for), with the
       * annotations its provider records on it first: one patch when both are missing, so that a fresh Infoblox
       * claim costs one write less. Otherwise the finalizer goes on alone, before anything else is written.
       */
      async function writeMetadata(
        claim: IPAddressClaim,
        handler: ClaimHandler | undefined,
        signal: AbortSignal,
      ): Promise<IPAddressClaim> {
        let annotations: Record<string, string> | undefined;
        try {
          annotations = await handler?.annotations(signal);
        } catch (err) {
          // Not decided now (an owner that cannot be read): the finalizer goes on all the same; the claim is retried.
          if (!hasFinalizer(claim, releaseAddressFinalizer)) {
            claims.record(await addFinalizer(claimClient, claim, releaseAddressFinalizer));
          }
          throw err;
        }
        const written = await addMetadata(claimClient, claim, releaseAddressFinalizer, annotations ?? {});
        return written === claim ? claim : claims.record(written);
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

      /** Writes the status if it changes; records an Event when Ready turns False with a new reason. */
      async function writeStatus(claim: IPAddressClaim, outcome: ClaimOutcome): Promise<void> {
        // Only the fields we own, guarded by the resourceVersion read: the lists in it (conditions) are written whole
        // with the other writers' entries as read, so a concurrent change to them fails with 409, never lost.
        const status = claimStatus(claim, outcome);
        if (claimStatusHolds(status, claim.status)) return;
        const written = claims.record(await patchStatus(claimClient, claim, status));
        const before = claim.status?.conditions?.find((c) => c.type === 'Ready');
        const r = outcome.ready;
        if (r?.status === 'True' && before?.status !== 'True') metrics.allocated(claim);
        if (r && r.status === 'False' && before?.reason !== r.reason) {
          recorder.event(written, 'Warning', r.reason, r.message);
        }
      }

      /** ClaimWork.releaseHandler: the pool read from the API, as for a claim being reconciled. */
      async function releaseHandler(
        claim: IPAddressClaim,
        clusterName: string | undefined,
        served: Served,
        ctx: ReconcileContext,
      ): Promise<ClaimHandler | undefined> {
        const namespace = claim.metadata.namespace!;
        const cluster = clusterName ? await clusters.get(namespace, clusterName, ctx.signal) : undefined;
        const pool = await freshPool(served.poolType, served.provider.pool(claim));
        return pausedBy(claim, pool, cluster) === undefined ? served.provider.handler(claim, pool) : undefined;
      }
    },
  };
}
