// The IPAM metrics an operator alerts on, next to the runtime's: addresses per pool, claims by state (bound, pending
// with the reason, releasing), duplicates, and how long a claim waits for its address. Claim states are counted from
// the informer's cache when Prometheus scrapes, so the reconcile path pays nothing for them.
import { Gauge, Histogram } from 'prom-client';
import { IPAddressClaims, type IPAddressClaim } from '../api/index.ts';
import type { StatusCounts } from '../core/index.ts';
import type { Manager } from '../runtime/index.ts';

const readyOf = (c: IPAddressClaim) => c.status?.conditions?.find((x) => x.type === 'Ready');

export class IPAMMetrics {
  private readonly allocation: Histogram<'pool_kind'>;
  private readonly pools: Gauge<'kind' | 'namespace' | 'name' | 'state'>;

  constructor(mgr: Manager) {
    const registers = [mgr.registry];
    const claims = mgr.informer(IPAddressClaims);
    this.allocation = new Histogram({
      name: 'cluster_ipam_allocation_duration_seconds',
      help: 'Time from an IPAddressClaim’s creation to its Ready=True status, by pool kind',
      labelNames: ['pool_kind'],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    this.pools = new Gauge({
      name: 'cluster_ipam_pool_addresses',
      help: 'Addresses of an in-cluster pool by state: total, used (by any holder of its address domain), free, out_of_range',
      labelNames: ['kind', 'namespace', 'name', 'state'],
      registers,
    });
    new Gauge({
      name: 'cluster_ipam_claims',
      help: 'IPAddressClaims this manager serves, by state (bound, pending, releasing) and the Ready reason',
      labelNames: ['state', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const c of claims.list()) {
          const ready = readyOf(c);
          const state = c.metadata.deletionTimestamp
            ? 'releasing'
            : ready?.status === 'True' && c.status?.addressRef?.name
              ? 'bound'
              : 'pending';
          if (!ready && state !== 'releasing') continue; // not (yet) ours: other providers' claims carry no condition
          this.inc({ state, reason: ready?.reason ?? '' });
        }
      },
    });
    new Gauge({
      name: 'cluster_ipam_duplicate_addresses',
      help: 'IPAddressClaims whose address another IPAddress of the same address domain also carries',
      registers,
      collect() {
        let n = 0;
        for (const c of claims.list()) {
          if (c.status?.conditions?.some((x) => x.type === 'DuplicateAddress' && x.status === 'True')) n++;
        }
        this.set(n);
      },
    });
  }

  /** The claim just became Ready. */
  allocated(claim: IPAddressClaim, now = Date.now()): void {
    const created = Date.parse(claim.metadata.creationTimestamp ?? '');
    if (!Number.isNaN(created)) this.allocation.labels(claim.spec.poolRef.kind).observe((now - created) / 1000);
  }

  pool(kind: string, namespace: string, name: string, counts: StatusCounts | undefined): void {
    if (!counts) return this.forgetPool(kind, namespace, name);
    for (const [state, value] of [
      ['total', counts.total],
      ['used', counts.used],
      ['free', counts.free],
      ['out_of_range', counts.outOfRange],
    ] as const) {
      this.pools.labels(kind, namespace, name, state).set(value);
    }
  }

  forgetPool(kind: string, namespace: string, name: string): void {
    for (const state of ['total', 'used', 'free', 'out_of_range']) {
      this.pools.remove(kind, namespace, name, state);
    }
  }
}

const perManager = new WeakMap<Manager, IPAMMetrics>();

/** One set per manager (its registry), shared by the controllers. */
export function ipamMetrics(mgr: Manager): IPAMMetrics {
  let m = perManager.get(mgr);
  if (!m) perManager.set(mgr, (m = new IPAMMetrics(mgr)));
  return m;
}
