// Serves the address-plan page (`--ui-bind-address`): read-only, from the manager's informer caches. The plan is
// built again when its objects changed (PlanCache); nothing here writes.
import {
  addressDomain,
  ClusterDeployments,
  globalDomain,
  IPAddressClaims,
  IPAddresses,
  IPAddressLedgers,
  IPAddressReservations,
  type ClusterDeployment,
  type IPAddress,
  type IPAddressClaim,
  type IPAddressLedger,
  type IPAddressReservation,
} from '../api/index.ts';
import { parseAddress, validatePool, type Address, type Pool } from '../core/index.ts';
import type { Informer } from '../runtime/index.ts';
import type { KubeObject } from '../kube/index.ts';
import type { ControllerSetup, Manager } from '../runtime/manager.ts';
import { clusterNameLabel } from '../providers/claims.ts';
import { isInClusterPoolRef, poolKey } from '../providers/in-cluster/names.ts';
import type { PoolObject } from '../providers/in-cluster/pools.ts';
import { poolTypes } from '../providers/in-cluster/provider.ts';
import { planDomainsSteps, type DomainPlan, type HolderInput, type PoolInput } from './model.ts';
import { renderJSONSteps, renderPageSteps } from './render.ts';
import { drain, every, runInSlices, type Steps } from './steps.ts';

export interface PlanSources {
  pools: readonly PoolObject[];
  ipAddresses: readonly IPAddress[];
  reservations: readonly IPAddressReservation[];
  ledgers: readonly IPAddressLedger[];
  claims: readonly IPAddressClaim[];
  clusterDeployments: readonly ClusterDeployment[];
}

interface DomainHolder {
  holder: HolderInput;
  /** Parsed once: every pool of the domain looks for its holders among the domain's. */
  at: Address | undefined;
}

function parsed(address: string): Address | undefined {
  try {
    return parseAddress(address);
  } catch {
    return undefined;
  }
}

const inSubnet = (pool: Pool, a: Address | undefined): boolean =>
  a !== undefined && a.family === pool.family && a.value >= pool.subnet.lo && a.value <= pool.subnet.hi;

/** The plan of every in-cluster pool from the objects the caches hold (pure: tests call it with objects). */
export function planFromObjects(src: PlanSources): DomainPlan[] {
  return drain(planFromObjectsSteps(src));
}

export function* planFromObjectsSteps(src: PlanSources): Steps<DomainPlan[]> {
  const tick = every();
  const poolByKey = new Map(
    src.pools.map((p) => [poolKey(p.kind ?? '', p.metadata.namespace, p.metadata.name ?? ''), p]),
  );
  const claimAt = new Map(src.claims.map((c) => [`${c.metadata.namespace}/${c.metadata.name}`, c]));
  const clusterOf = (c: IPAddressClaim | undefined) =>
    c?.metadata.labels?.[clusterNameLabel] ?? (c?.spec as { clusterName?: string } | undefined)?.clusterName;
  const duplicateOf = (c: IPAddressClaim | undefined) => {
    const d = c?.status?.conditions?.find((x) => x.type === 'DuplicateAddress' && x.status === 'True');
    return d ? `DuplicateAddress: ${d.message ?? ''}` : undefined;
  };

  const byDomain = new Map<string, DomainHolder[]>();
  const hold = (domain: string, holder: HolderInput) => {
    let list = byDomain.get(domain);
    if (!list) byDomain.set(domain, (list = []));
    list.push({ holder, at: parsed(holder.address) });
  };
  const seen = new Set<string>();
  for (const ipa of src.ipAddresses) {
    const ref = ipa.spec?.poolRef;
    if (!isInClusterPoolRef(ref)) continue;
    const key = poolKey(ref.kind, ipa.metadata.namespace, ref.name);
    const pool = poolByKey.get(key);
    const ns = ipa.metadata.namespace ?? '';
    const machine = ipa.spec.claimRef?.name ?? ipa.metadata.name ?? '';
    const claim = claimAt.get(`${ns}/${machine}`);
    const domain = pool ? addressDomain(pool) : ref.kind === 'GlobalInClusterIPPool' ? globalDomain : `namespace/${ns}`;
    seen.add(`${domain}|${ns}/${machine}|${ipa.spec.address}`);
    hold(domain, {
      address: ipa.spec.address,
      kind: 'IPAddress',
      namespace: ns,
      name: ipa.metadata.name ?? '',
      machine,
      cluster: clusterOf(claim),
      pool: key,
      problem: duplicateOf(claim),
    });
    if (tick()) yield;
  }
  // What holds an address without an IPAddress: reservations of older releases, ledger entries.
  const records = [
    ...src.reservations.map((r) => ({ kind: 'IPAddressReservation' as const, name: r.metadata.name, ...r.spec })),
    ...src.ledgers.flatMap((l) =>
      Object.entries(l.spec.entries ?? {}).map(([address, e]) => ({
        kind: 'IPAddressLedger' as const,
        name: l.metadata.name,
        domain: l.spec.domain,
        address,
        ...e,
      })),
    ),
  ];
  for (const r of records) {
    const domain = r.domain ?? globalDomain;
    const { claimRef, poolRef } = r;
    // A claim's record and its IPAddress are one holder: show the IPAddress.
    if (seen.has(`${domain}|${claimRef.namespace}/${claimRef.name}|${r.address}`)) continue;
    hold(domain, {
      address: r.address,
      kind: r.kind,
      namespace: claimRef.namespace,
      name: r.name ?? '',
      machine: claimRef.name,
      cluster: clusterOf(claimAt.get(`${claimRef.namespace}/${claimRef.name}`)),
      pool: poolKey(poolRef.kind, poolRef.namespace, poolRef.name),
      released: r.releasedAt !== undefined,
    });
    if (tick()) yield;
  }

  const endpoints: DomainHolder[] = [];
  for (const cd of src.clusterDeployments) {
    const ip = (cd.spec.config as { controlPlaneEndpointIP?: unknown } | undefined)?.controlPlaneEndpointIP;
    if (typeof ip !== 'string') continue;
    const name = cd.metadata.name ?? '';
    endpoints.push({
      holder: { address: ip, kind: 'Endpoint', namespace: cd.metadata.namespace, name, cluster: name },
      at: parsed(ip),
    });
  }
  const checked = src.pools.map((obj) => ({ obj, check: validatePool(obj.spec), domain: addressDomain(obj) }));
  const inputs: PoolInput[] = [];
  for (const { obj, check, domain } of checked) {
    const key = poolKey(obj.kind ?? '', obj.metadata.namespace, obj.metadata.name ?? '');
    const pool = check.pool;
    const conditionWarnings = (obj.status?.conditions ?? [])
      .filter((c) => /Warning|Overlap/i.test(c.reason ?? '') && c.message)
      .map((c) => `${c.type} ${c.reason}: ${c.message}`);
    const input: PoolInput = {
      key,
      kind: obj.kind ?? '',
      ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
      name: obj.metadata.name ?? '',
      domain,
      pool,
      errors: check.errors.map((e) => `${e.field}: ${e.message}`),
      warnings: [...check.warnings.map((w) => `${w.field}: ${w.message}`), ...conditionWarnings],
      holders: [],
    };
    if (!pool) {
      inputs.push(input);
      continue;
    }
    const mine: HolderInput[] = [];
    for (const h of byDomain.get(domain) ?? []) {
      if (inSubnet(pool, h.at)) mine.push(h.holder);
      if (tick()) yield;
    }
    for (const e of endpoints) if (inSubnet(pool, e.at)) mine.push(e.holder);
    const overlaps = checked
      .filter((o) => o.obj !== obj && o.domain === domain && o.check.pool?.family === pool.family)
      .map((o) => ({
        pool: poolKey(o.obj.kind ?? '', o.obj.metadata.namespace, o.obj.metadata.name ?? ''),
        set: o.check.pool!.usable.intersection(pool.usable),
      }))
      .filter((o) => !o.set.isEmpty);
    for (const o of overlaps) {
      input.warnings = [...input.warnings, `shares ${o.set.toString()} with ${o.pool} in its address domain`];
    }
    inputs.push({ ...input, holders: mine, overlaps });
  }
  return yield* planDomainsSteps(inputs);
}

export const planPagePaths = { html: '/', json: '/plan.json' } as const;

/** How often the plan is built again at most while its objects keep changing. */
export const planRebuildIntervalMs = 1000;

/** How long a build is kept after the last GET: while someone reads the page, not for ever after. */
export const planKeepMs = 60_000;

/**
 * The plan and its two renderings, built when a GET finds that the objects changed since the last build, and at most
 * once per `intervalMs`: a GET in between is answered with the last build, which says when it was made. A GET of an
 * unchanged plan costs nothing but sending it. Building and rendering it at 10,000 holders takes a few hundred ms of
 * CPU (bench:plan-page), run in slices (runInSlices) so the event loop never waits on it for long; GETs meanwhile
 * wait for the same build. A build is dropped `keepMs` after the last GET: at 10,000 holders it holds ~9 MB of text.
 */
export class PlanCache {
  private changed = true;
  private built:
    | {
        at: number;
        domains: Promise<DomainPlan[]>;
        generatedAt: string;
        html?: Promise<string>;
        json?: Promise<string>;
      }
    | undefined;
  private forget: NodeJS.Timeout | undefined;

  constructor(
    private readonly plan: () => Steps<DomainPlan[]>,
    private readonly opts: { intervalMs?: number; keepMs?: number; now?: () => number } = {},
  ) {}

  /** One of the plan's objects changed. */
  invalidate(): void {
    this.changed = true;
  }

  html(): Promise<string> {
    const b = this.current();
    return (b.html ??= b.domains.then((domains) => runInSlices(renderPageSteps(domains, b.generatedAt))));
  }

  json(): Promise<string> {
    const b = this.current();
    return (b.json ??= b.domains.then((domains) => runInSlices(renderJSONSteps(domains, b.generatedAt))));
  }

  private current() {
    const now = (this.opts.now ?? Date.now)();
    if (!this.built || (this.changed && now - this.built.at >= (this.opts.intervalMs ?? planRebuildIntervalMs))) {
      this.changed = false;
      const domains = runInSlices(this.plan());
      this.built = { at: now, domains, generatedAt: new Date(now).toISOString() };
      // A failed build is not kept: the next GET tries again.
      domains.catch(() => {
        if (this.built?.domains === domains) [this.built, this.changed] = [undefined, true];
      });
    }
    clearTimeout(this.forget);
    this.forget = setTimeout(() => {
      this.built = undefined;
      this.changed = true;
    }, this.opts.keepMs ?? planKeepMs).unref();
    return this.built;
  }
}

export interface PlanPage extends ControllerSetup {
  /** `http://host:port/` once the page is served (undefined when disabled). */
  readonly url: Promise<string | undefined>;
}

/** The page as a manager setup: informers of the in-cluster kinds (shared), and a server from start to stop. */
export function planPage(bindAddress: string): PlanPage {
  let resolveUrl!: (url: string | undefined) => void;
  const url = new Promise<string | undefined>((resolve) => (resolveUrl = resolve));
  return {
    name: 'plan-page',
    url,
    setup(mgr: Manager) {
      const informers = {
        inCluster: mgr.informer(poolTypes.InClusterIPPool),
        global: mgr.informer(poolTypes.GlobalInClusterIPPool),
        ipAddresses: mgr.informer(IPAddresses),
        reservations: mgr.informer(IPAddressReservations),
        ledgers: mgr.informer(IPAddressLedgers),
        claims: mgr.informer(IPAddressClaims),
        clusterDeployments: mgr.informer(ClusterDeployments) as Informer<ClusterDeployment>,
      };
      const cache = new PlanCache(() =>
        planFromObjectsSteps({
          pools: [...informers.inCluster.list(), ...informers.global.list()],
          ipAddresses: informers.ipAddresses.list(),
          reservations: informers.reservations.list(),
          ledgers: informers.ledgers.list(),
          claims: informers.claims.list(),
          clusterDeployments: informers.clusterDeployments.list(),
        }),
      );
      const changed = () => cache.invalidate();
      for (const informer of Object.values(informers) as Informer<KubeObject>[]) {
        informer.addEventHandler({ onAdd: changed, onUpdate: changed, onDelete: changed });
      }
      const page = async () => {
        if (!mgr.cache.hasSynced()) return { status: 503, body: 'caches not synced yet; reload in a moment' };
        return { status: 200, body: await cache.html(), contentType: 'text/html; charset=utf-8' };
      };
      const json = async () => {
        if (!mgr.cache.hasSynced()) return { status: 503, body: '{"error":"caches not synced"}' };
        return { status: 200, body: await cache.json(), contentType: 'application/json' };
      };
      mgr.serve(bindAddress, { [planPagePaths.html]: page, [planPagePaths.json]: json }).then(
        (address) => resolveUrl(address && `http://${address}/`),
        () => resolveUrl(undefined),
      );
    },
  };
}
