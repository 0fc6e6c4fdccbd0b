// InClusterIPPool and GlobalInClusterIPPool: status counts and the Ready condition (validation errors naming the
// fields; warnings such as a gateway outside the subnet or an overlap with another pool, also as Events). And the
// in-cluster provider's upkeep of each pool, which runs whenever its claims or its pools are served (the status is
// optional, `controllers.inClusterPool: false`; the upkeep is not): the ProtectPool finalizer while addresses come
// from the pool, and the sweep (providers/in-cluster): grace periods that end, reservations left without a holder.
import {
  addressDomainAnnotation,
  IPAddressClaims,
  IPAddresses,
  IPAddressLedgers,
  IPAddressReservations,
  type Condition,
  type IPAddress,
  type IPAddressLedger,
  type IPAddressReservation,
} from '../api/index.ts';
import { sameJSON } from '../api/index.ts';
import { humanCount } from '../core/index.ts';
import type { KubeObject } from '../kube/index.ts';
import { inClusterProvider, poolTypes, type InClusterProvider } from '../providers/in-cluster/provider.ts';
import { poolKey, type PoolKind } from '../providers/in-cluster/names.ts';
import { refusedPool } from './coexistence.ts';
import { ipamMetrics } from './ipam-metrics.ts';
import { keyOfPool, overlapsWith, poolCondition, poolCounts, PoolReasons } from '../providers/in-cluster/pools.ts';
import {
  notStatusOnly,
  patchStatus,
  setCondition,
  tolerateRaces,
  type ControllerSetup,
  type Manager,
  type ReconcileContext,
  type Request,
  type Result,
  type WatchSpec,
} from '../runtime/index.ts';

export interface InClusterPoolControllerOptions {
  /** Count-only status changes are written at most this often per pool (default 1 s): they follow every claim. */
  countsIntervalMs?: number;
}

export function inClusterPoolController(opts: InClusterPoolControllerOptions = {}): ControllerSetup {
  const interval = opts.countsIntervalMs ?? 1000;
  return {
    name: 'inclusterippool',
    setup(mgr) {
      const provider = inClusterProvider(mgr);
      const recorder = mgr.eventRecorder('cluster-ipam');
      const metrics = ipamMetrics(mgr);
      const lastCountsWrite = new Map<string, number>();
      const lastWarnings = new Map<string, string>();

      inClusterPoolUpkeep(mgr);

      for (const kind of ['InClusterIPPool', 'GlobalInClusterIPPool'] as const) {
        const ofKind = (keys: readonly string[]) =>
          keys.flatMap((key) => {
            const [k, namespace, ...name] = key.split('/');
            return k === kind ? [{ namespace: namespace ?? '', name: name.join('/') }] : [];
          });
        // The pools whose spans met the changed pool's old or new span: their overlap reports may change.
        const neighbours = (p: KubeObject) => ofKind(provider.ranges.affected(keyOfPool(p)));
        const controller = mgr.addController({
          name: kind.toLowerCase(),
          for: poolTypes[kind],
          predicate: notStatusOnly,
          watches: [
            // A holder's change concerns every pool counting it: its own, and those sharing its address.
            { type: IPAddresses, map: (a: IPAddress) => ofKind(provider.poolsCountingIPAddress(a)) },
            {
              type: IPAddressReservations,
              map: (r: IPAddressReservation) => ofKind(provider.poolsCountingReservation(r)),
            },
            // Overlap warnings depend on the neighbours' addresses and domains.
            { type: poolTypes.InClusterIPPool, predicate: specChanged, map: neighbours },
            { type: poolTypes.GlobalInClusterIPPool, predicate: specChanged, map: neighbours },
          ] as WatchSpec[],
          reconcile: tolerateRaces((req) => reconcilePool(kind, req)),
        });
        // The book's own marks (an attempt held or given up) change counts without any object event.
        provider.book.onCountsChange((keys) => {
          for (const req of ofKind(keys)) controller.enqueue(req);
        });
      }

      async function reconcilePool(kind: PoolKind, req: Request): Promise<Result | void> {
        const key = poolKey(kind, req.namespace, req.name);
        const pool = provider.poolByKey(key);
        if (!pool) {
          lastCountsWrite.delete(key);
          lastWarnings.delete(key);
          metrics.forgetPool(kind, req.namespace, req.name);
          return;
        }
        const client = provider.poolClient(kind);
        const model = provider.syncPool(pool);
        // Going, once the upkeep removes its finalizer: nothing left to report.
        if (pool.metadata.deletionTimestamp && !inUse(provider, key)) return;

        const book = provider.book.counts(key);
        const counts = poolCounts(model, book);
        metrics.pool(kind, req.namespace, req.name, counts);
        const overlaps = overlapsWith(model, provider.ranges.overlapping(model));
        const cond = poolCondition(pool, model, counts, overlaps, book);
        const conditions = setCondition(
          (pool.status?.conditions ?? []) as Condition[],
          { type: 'Ready', ...cond },
          pool.metadata.generation,
        );
        const status = {
          ...pool.status,
          ...(counts && book
            ? { ipAddresses: { ...counts, totalHuman: humanCount(book.total), freeHuman: humanCount(book.free) } }
            : {}),
          conditions,
          observedGeneration: pool.metadata.generation,
        };
        if (sameJSON(status, pool.status ?? {})) return;

        const before = pool.status?.conditions?.find((c) => c.type === 'Ready');
        const countsOnly = before?.status === cond.status && before.reason === cond.reason;
        const since = Date.now() - (lastCountsWrite.get(key) ?? 0);
        if (countsOnly && since < interval) return { requeueAfter: interval - since };
        const written = provider.poolOverlays[kind].record(await patchStatus(client, pool, status));
        lastCountsWrite.set(key, Date.now());

        if (cond.status === 'False' && before?.reason !== cond.reason && cond.reason !== PoolReasons.Deleting) {
          recorder.event(written, 'Warning', cond.reason, cond.message);
        }
        const warnings = cond.reason === PoolReasons.ReadyWithWarnings ? cond.message.replace(/^[^;]*; /, '') : '';
        if (warnings && lastWarnings.get(key) !== warnings)
          recorder.event(written, 'Warning', 'PoolWarnings', warnings);
        lastWarnings.set(key, warnings);
      }
    },
  };
}

const inUse = (provider: InClusterProvider, key: string): boolean => {
  const holds = provider.book.holds(key);
  return holds.ipAddresses > 0 || holds.reservations > 0;
};

/** What holds addresses of a pool of `kind` (its IPAddresses, reservations, and claims going): mapped to the pool. */
function holderWatches(kind: PoolKind, provider: InClusterProvider): WatchSpec[] {
  const toPool = (ref: { kind?: string; name?: string; namespace?: string } | undefined, ns?: string) =>
    ref?.kind === kind && ref.name ? [{ namespace: kind === 'InClusterIPPool' ? (ns ?? '') : '', name: ref.name }] : [];
  return [
    {
      type: IPAddresses,
      map: (a: KubeObject) => {
        const spec = (a as { spec?: { poolRef?: { kind?: string; name?: string } } }).spec;
        return toPool(spec?.poolRef, a.metadata.namespace);
      },
    },
    // A claim gone may leave its reservation without an IPAddress: the sweep looks.
    {
      type: IPAddressClaims,
      predicate: (e: { type: string }) => e.type === 'delete',
      map: (c: KubeObject) => {
        const ref = (c as { spec?: { poolRef?: { kind?: string; name?: string } } }).spec?.poolRef;
        return toPool(ref, c.metadata.namespace);
      },
    },
    {
      type: IPAddressReservations,
      map: (r: KubeObject) => {
        const ref = (r as { spec?: { poolRef?: { kind?: string; name?: string; namespace?: string } } }).spec?.poolRef;
        return toPool(ref, ref?.namespace);
      },
    },
    // The pools of the entries a ledger write added, changed or removed.
    {
      type: IPAddressLedgers,
      map: (l: IPAddressLedger) =>
        provider.ledgerChanges(l).flatMap((i) => {
          const [k, namespace, ...name] = i.poolKey.split('/');
          return toPool({ kind: k, namespace, name: name.join('/') }, namespace);
        }),
    },
  ] as WatchSpec[];
}

const upkept = new WeakSet<Manager>();

/**
 * The in-cluster provider's upkeep of its pools, once per manager: set up by the claim controller and by the pool
 * controller, whichever run. Not for a pool kind a running reference provider serves (its pools, its finalizers).
 */
export function inClusterPoolUpkeep(mgr: Manager): void {
  if (upkept.has(mgr)) return;
  upkept.add(mgr);
  const provider = inClusterProvider(mgr);
  for (const kind of ['InClusterIPPool', 'GlobalInClusterIPPool'] as const) {
    if (refusedPool(mgr, { kind })) continue;
    mgr.addController({
      name: `${kind.toLowerCase()}-upkeep`,
      for: poolTypes[kind],
      predicate: notStatusOnly,
      watches: holderWatches(kind, provider),
      reconcile: tolerateRaces((req, ctx) => upkeep(provider, kind, req, ctx)),
    });
  }
}

async function upkeep(
  provider: InClusterProvider,
  kind: PoolKind,
  req: Request,
  ctx: ReconcileContext,
): Promise<Result | void> {
  const key = poolKey(kind, req.namespace, req.name);
  const pool = provider.poolByKey(key);
  const sweepAgain = await provider.sweep(key, pool, ctx.signal);
  const later: Result | undefined = sweepAgain ? { requeueAfter: sweepAgain } : undefined;
  if (!pool) return later;
  provider.syncPool(pool);
  const used = inUse(provider, key);
  await provider.protection[kind].follow(pool, used, ctx.signal);
  // Its finalizer gone, a pool being deleted goes: nothing left to sweep.
  return pool.metadata.deletionTimestamp && !used ? undefined : later;
}

/** Spec, domain and deletion changes (which change what overlaps what). */
function specChanged(event: { type: string; object: KubeObject; old?: KubeObject }): boolean {
  if (event.type !== 'update' || !event.old) return true;
  const [a, b] = [event.old.metadata, event.object.metadata];
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    a.annotations?.[addressDomainAnnotation] !== b.annotations?.[addressDomainAnnotation]
  );
}
