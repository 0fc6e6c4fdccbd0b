// Serves the address-plan page (`--ui-bind-address`): read-only, from the manager's informer caches. Each request
// builds the plan afresh from what the caches hold; nothing here writes.
import {
  addressDomain,
  ClusterDeployments,
  globalDomain,
  IPAddressClaims,
  IPAddresses,
  IPAddressReservations,
  type ClusterDeployment,
  type IPAddress,
  type IPAddressClaim,
  type IPAddressReservation,
} from '../api/index.ts';
import { parseAddress, validatePool, type Pool } from '../core/index.ts';
import type { Informer } from '../runtime/index.ts';
import type { ControllerSetup, Manager } from '../runtime/manager.ts';
import { clusterNameLabel } from '../providers/claims.ts';
import { isInClusterPoolRef, poolKey } from '../providers/in-cluster/names.ts';
import type { PoolObject } from '../providers/in-cluster/pools.ts';
import { poolTypes } from '../providers/in-cluster/provider.ts';
import { planDomains, type DomainPlan, type HolderInput, type PoolInput } from './model.ts';
import { renderJSON, renderPage } from './render.ts';

export interface PlanSources {
  pools: readonly PoolObject[];
  ipAddresses: readonly IPAddress[];
  reservations: readonly IPAddressReservation[];
  claims: readonly IPAddressClaim[];
  clusterDeployments: readonly ClusterDeployment[];
}

interface DomainHolder extends HolderInput {
  domain: string;
}

const inSubnet = (pool: Pool, address: string): boolean => {
  try {
    const a = parseAddress(address);
    return a.family === pool.family && a.value >= pool.subnet.lo && a.value <= pool.subnet.hi;
  } catch {
    return false;
  }
};

/** The plan of every in-cluster pool from the objects the caches hold (pure: tests call it with objects). */
export function planFromObjects(src: PlanSources): DomainPlan[] {
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

  const holders: DomainHolder[] = [];
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
    holders.push({
      domain,
      address: ipa.spec.address,
      kind: 'IPAddress',
      namespace: ns,
      name: ipa.metadata.name ?? '',
      machine,
      cluster: clusterOf(claim),
      pool: key,
      problem: duplicateOf(claim),
    });
  }
  for (const r of src.reservations) {
    const domain = r.spec.domain ?? globalDomain;
    const { claimRef, poolRef } = r.spec;
    // A claim's reservation and its IPAddress are one holder: show the IPAddress.
    if (seen.has(`${domain}|${claimRef.namespace}/${claimRef.name}|${r.spec.address}`)) continue;
    holders.push({
      domain,
      address: r.spec.address,
      kind: 'IPAddressReservation',
      namespace: claimRef.namespace,
      name: r.metadata.name ?? '',
      machine: claimRef.name,
      cluster: clusterOf(claimAt.get(`${claimRef.namespace}/${claimRef.name}`)),
      pool: poolKey(poolRef.kind, poolRef.namespace, poolRef.name),
      released: r.spec.releasedAt !== undefined,
    });
  }

  const checked = src.pools.map((obj) => ({ obj, check: validatePool(obj.spec), domain: addressDomain(obj) }));
  const inputs: PoolInput[] = checked.map(({ obj, check, domain }) => {
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
    if (!pool) return input;
    const mine: HolderInput[] = holders
      .filter((h) => h.domain === domain && inSubnet(pool, h.address))
      .map(({ domain: _, ...h }) => h);
    for (const cd of src.clusterDeployments) {
      const ip = (cd.spec.config as { controlPlaneEndpointIP?: unknown } | undefined)?.controlPlaneEndpointIP;
      if (typeof ip === 'string' && inSubnet(pool, ip)) {
        const name = cd.metadata.name ?? '';
        mine.push({ address: ip, kind: 'Endpoint', namespace: cd.metadata.namespace, name, cluster: name });
      }
    }
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
    return { ...input, holders: mine, overlaps };
  });
  return planDomains(inputs);
}

export const planPagePaths = { html: '/', json: '/plan.json' } as const;

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
        claims: mgr.informer(IPAddressClaims),
        clusterDeployments: mgr.informer(ClusterDeployments) as Informer<ClusterDeployment>,
      };
      const plan = () =>
        planFromObjects({
          pools: [...informers.inCluster.list(), ...informers.global.list()],
          ipAddresses: informers.ipAddresses.list(),
          reservations: informers.reservations.list(),
          claims: informers.claims.list(),
          clusterDeployments: informers.clusterDeployments.list(),
        });
      const page = async () => {
        if (!mgr.cache.hasSynced()) return { status: 503, body: 'caches not synced yet; reload in a moment' };
        return {
          status: 200,
          body: renderPage(plan(), new Date().toISOString()),
          contentType: 'text/html; charset=utf-8',
        };
      };
      const json = async () => {
        if (!mgr.cache.hasSynced()) return { status: 503, body: '{"error":"caches not synced"}' };
        return { status: 200, body: renderJSON(plan(), new Date().toISOString()), contentType: 'application/json' };
      };
      mgr.serve(bindAddress, { [planPagePaths.html]: page, [planPagePaths.json]: json }).then(
        (address) => resolveUrl(address && `http://${address}/`),
        () => resolveUrl(undefined),
      );
    },
  };
}
