// The address plan of a set of manifests, offline (`cluster-ipam check`): the same rules the controllers apply (claim
// planning, address domains and conflicts, node capacity, pool validation) and the same allocator, so the plan says
// which address each machine and endpoint will get. Pure.
import {
  addressDomain,
  domainIssue,
  type ClusterDeployment,
  type ClusterIPAMClaim,
  type GlobalInClusterIPPool,
  type InClusterIPPool,
} from '../api/index.ts';
import {
  Allocator,
  formatAddress,
  humanCount,
  parseAddress,
  validatePool,
  type Address,
  type FieldIssue,
  type Pool,
} from '../core/index.ts';
import { planClaim, type ClaimPlan } from './claim.ts';
import { describeConflicts, findConflicts, judge, type Holder } from './conflicts.ts';
import {
  attachment,
  checkNodeCapacity,
  endpointExcludedMessage,
  endpointInNodeNetwork,
  endpointNetwork,
  inlineClaimSpec,
} from './deployment.ts';
import { claimHolder, poolHolder } from './holders.ts';
import { allowOverlapAnnotation } from './kinds.ts';
import { desiredPoolSpec, poolKindFor } from './pools.ts';

/** A manifest as read: any object with a kind; `source` says where it came from (file and document). */
export interface Manifest {
  readonly source: string;
  readonly object: {
    apiVersion?: string;
    kind?: string;
    metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
    spec?: unknown;
  };
}

export interface Problem {
  readonly severity: 'error' | 'warning';
  readonly source: string;
  /** `Kind namespace/name`. */
  readonly object: string;
  readonly field: string;
  readonly message: string;
}

export interface MachineAddress {
  /** `control-plane-0`, `worker-2`. */
  readonly machine: string;
  /** Undefined when the pool is exhausted. */
  readonly address: string | undefined;
}

export interface ClusterPlan {
  readonly cluster: string;
  readonly namespace: string;
  readonly claim: string;
  /** The node network's pool, `InClusterIPPool namespace/name`. */
  readonly pool: string;
  readonly machines: readonly MachineAddress[];
  /** spec.config.controlPlaneEndpointIP, or the externalNetwork's first free address when it is unset. */
  readonly endpoint:
    { readonly address: string; readonly from: 'config' | 'externalNetwork' | 'nodeNetwork' } | undefined;
}

export interface PoolUsage {
  readonly pool: string;
  readonly addresses: string;
  readonly total: bigint;
  readonly used: bigint;
  readonly free: bigint;
  readonly totalHuman: string;
  readonly freeHuman: string;
}

export interface AddressPlan {
  readonly problems: readonly Problem[];
  readonly clusters: readonly ClusterPlan[];
  /** IPAddressClaims of the manifests, allocated after the machines. */
  readonly claims: readonly { readonly claim: string; readonly pool: string; readonly address: string | undefined }[];
  readonly pools: readonly PoolUsage[];
}

const poolKinds = ['InClusterIPPool', 'GlobalInClusterIPPool'] as const;

interface PlanPool {
  readonly key: string;
  readonly domain: string;
  readonly pool: Pool;
  readonly alloc: Allocator;
}

const title = (kind: string, namespace: string | undefined, name: string) =>
  `${kind} ${namespace ? `${namespace}/` : ''}${name}`;

/** Plans `manifests` in order: machines of each ClusterDeployment (control planes, then workers), then IPAddressClaims. */
export function planManifests(manifests: readonly Manifest[]): AddressPlan {
  const problems: Problem[] = [];
  const report = (m: Manifest, severity: Problem['severity'], issues: readonly FieldIssue[]) => {
    const md = m.object.metadata ?? {};
    const object = title(m.object.kind ?? '', namespaceOf(m), md.name ?? '');
    for (const i of issues) problems.push({ severity, source: m.source, object, field: i.field, message: i.message });
  };
  const namespaceOf = (m: Manifest) =>
    m.object.kind === 'GlobalInClusterIPPool' ? undefined : (m.object.metadata?.namespace ?? 'default');
  const of = (kind: string) => manifests.filter((m) => m.object.kind === kind);

  const known = ['ClusterIPAMClaim', 'ClusterDeployment', ...poolKinds, 'IPAddressClaim'];
  for (const m of manifests.filter((m) => known.includes(m.object.kind ?? ''))) {
    if (!m.object.metadata?.name) report(m, 'error', [{ field: 'metadata.name', message: 'required' }]);
    else if (!m.object.spec) report(m, 'error', [{ field: 'spec', message: 'required' }]);
  }
  const named = (m: Manifest) => Boolean(m.object.metadata?.name && m.object.spec);

  // Claims: the ClusterIPAMClaims given, and the inline ones ClusterDeployments would create.
  interface PlannedClaim {
    readonly manifest: Manifest;
    readonly claim: ClusterIPAMClaim;
    readonly plan: ClaimPlan;
  }
  const claims = new Map<string, PlannedClaim>();
  const claimKey = (ns: string, name: string) => `${ns}/${name}`;
  const addClaim = (manifest: Manifest, claim: ClusterIPAMClaim, plan: ClaimPlan) => {
    const issue = domainIssue(claim);
    const errors = issue ? [...plan.errors, issue] : plan.errors;
    report(manifest, 'error', errors);
    report(manifest, 'warning', plan.warnings);
    const planned = { manifest, claim, plan: { ...plan, errors, networks: errors.length ? [] : plan.networks } };
    claims.set(claimKey(claim.metadata.namespace ?? 'default', claim.metadata.name ?? ''), planned);
  };
  for (const m of of('ClusterIPAMClaim').filter(named)) {
    const claim = withNamespace(m) as ClusterIPAMClaim;
    addClaim(m, claim, planClaim(claim.metadata.name ?? '', claim.spec));
  }
  const deployments = of('ClusterDeployment')
    .filter(named)
    .map((m) => ({ manifest: m, d: withNamespace(m) as ClusterDeployment }));
  for (const { manifest, d } of deployments) {
    const a = attachment(d);
    if (a.mode !== 'inline') continue;
    const name = d.metadata.name ?? '';
    const spec = inlineClaimSpec(name, a.spec);
    const claim = {
      apiVersion: 'k0rdent.mirantis.com/v1beta1',
      kind: 'ClusterIPAMClaim',
      metadata: { name: a.claim, namespace: d.metadata.namespace, annotations: d.metadata.annotations },
      spec,
    } as ClusterIPAMClaim;
    addClaim(manifest, claim, planClaim(a.claim, spec, 'spec.ipamClaim.spec'));
  }

  // Pools: those given, and the in-cluster pools the claims would create.
  const pools = new Map<string, PlanPool>();
  const holders: { manifest: Manifest; holder: Holder }[] = [];
  const addPool = (key: string, domain: string, pool: Pool) =>
    pools.set(key, { key, domain, pool, alloc: new Allocator(pool.usable) });
  for (const kind of poolKinds) {
    for (const m of of(kind).filter(named)) {
      const obj = withNamespace(m) as InClusterIPPool | GlobalInClusterIPPool;
      const check = validatePool(obj.spec);
      const issue = domainIssue(obj);
      report(m, 'error', issue ? [...check.errors, issue] : check.errors);
      report(m, 'warning', check.warnings);
      const holder = poolHolder(obj);
      if (holder) holders.push({ manifest: m, holder });
      if (check.pool)
        addPool(title(kind, obj.metadata.namespace, obj.metadata.name ?? ''), addressDomain(obj), check.pool);
    }
  }
  for (const { manifest, claim, plan } of claims.values()) {
    const holder = claimHolder(claim);
    if (holder) holders.push({ manifest, holder });
    if (plan.provider !== 'in-cluster') continue; // Infoblox: the appliance decides
    for (const n of plan.networks) {
      const key = title(poolKindFor(plan.provider), claim.metadata.namespace, n.poolName);
      if (pools.has(key)) {
        report(manifest, 'error', [{ field: n.path, message: `its pool ${key} is also among the manifests` }]);
        continue;
      }
      const check = validatePool(desiredPoolSpec('InClusterIPPool', n) as InClusterIPPool['spec']);
      if (check.pool) addPool(key, addressDomain(claim), check.pool);
    }
  }

  // Overlaps within address domains, as the claim controller and the pool reconciler judge them.
  for (const { manifest, holder } of holders) {
    const others = holders.map((h) => h.holder).filter((h) => h !== holder);
    if (holder.kind === 'ClusterIPAMClaim') {
      const verdict = judge(holder, others);
      if (verdict.conflicts.some((c) => !c.first)) {
        const text = describeConflicts(holder, verdict, allowOverlapAnnotation);
        report(manifest, verdict.blocked ? 'error' : 'warning', [{ field: 'spec', message: text }]);
      }
    } else {
      for (const c of findConflicts(holder, others).filter((c) => c.other.kind !== 'ClusterIPAMClaim' && c.first)) {
        const message = `overlaps ${c.other.kind} ${c.other.name} ${c.otherPath} (${c.shared}) in its address domain`;
        report(manifest, 'warning', [{ field: c.path, message }]);
      }
    }
  }

  // An address taken in one pool is taken in every pool of its domain (the in-cluster provider's book).
  const take = (from: PlanPool): Address | undefined => {
    const address = from.alloc.allocate();
    if (address) markTaken(from, address);
    return address;
  };
  const markTaken = (from: PlanPool, address: Address) => {
    for (const p of pools.values()) {
      if (p === from || p.domain !== from.domain || p.alloc.isInUse(address)) continue;
      if (p.pool.usable.family === address.family && p.pool.usable.has(address.value)) p.alloc.allocateAddress(address);
    }
  };

  const clusters: ClusterPlan[] = [];
  for (const { manifest, d } of deployments) {
    const a = attachment(d);
    if (a.mode === 'none') continue;
    const ns = d.metadata.namespace ?? 'default';
    const planned = claims.get(claimKey(ns, a.claim));
    if (!planned) {
      const message = `ClusterIPAMClaim ${a.claim} is not among the manifests: its machines are not planned`;
      report(manifest, 'warning', [{ field: 'spec.ipamClaim.ref', message }]);
      continue;
    }
    const node = planned.plan.networks.find((n) => n.network === 'nodeNetwork');
    if (!node) continue;
    const infoblox = planned.plan.provider === 'ipam-infoblox';
    const endpointTakes = !infoblox && endpointInNodeNetwork(d, planned.plan, node);
    const capacity = checkNodeCapacity(d.spec.config, node, a.claim, infoblox, undefined, endpointTakes);
    if (!capacity.ok) report(manifest, 'error', [{ field: 'spec.config', message: capacity.message }]);
    if (infoblox) continue;
    const poolKey = title('InClusterIPPool', ns, node.poolName);
    const pool = pools.get(poolKey);
    if (!pool) continue;
    // As the gate does live: a hand-set endpoint inside the node pool is excluded from it (and from its domain)
    // before any machine is given an address; an endpoint from the node network is claimed before the machines too.
    const endpoint = planEndpoint(d, manifest, pool, planned.plan, ns, pools, take, markTaken, report);
    const machines: MachineAddress[] = [];
    const count = (key: string) => {
      const v = d.spec.config?.[key];
      return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : 0;
    };
    for (const [role, key] of [
      ['control-plane', 'controlPlaneNumber'],
      ['worker', 'workersNumber'],
    ] as const) {
      for (let i = 0; i < count(key); i++) {
        const address = take(pool);
        machines.push({ machine: `${role}-${i}`, address: address && formatAddress(address) });
      }
    }
    clusters.push({ cluster: d.metadata.name ?? '', namespace: ns, claim: a.claim, pool: poolKey, machines, endpoint });
  }

  const addressClaims: AddressPlan['claims'][number][] = [];
  for (const m of of('IPAddressClaim').filter(named)) {
    const ns = namespaceOf(m) ?? 'default';
    const ref = (m.object.spec as { poolRef?: { kind?: string; name?: string } }).poolRef;
    const claim = title('IPAddressClaim', ns, m.object.metadata?.name ?? '');
    if (!ref?.kind || !ref.name) {
      report(m, 'error', [{ field: 'spec.poolRef', message: 'required: kind and name of the pool' }]);
      continue;
    }
    if (ref.kind !== 'InClusterIPPool' && ref.kind !== 'GlobalInClusterIPPool') continue; // another provider's
    const key = title(ref.kind, ref.kind === 'InClusterIPPool' ? ns : undefined, ref.name);
    const pool = pools.get(key);
    if (!pool) {
      report(m, 'warning', [{ field: 'spec.poolRef', message: `${key} is not among the manifests: not planned` }]);
      continue;
    }
    const address = take(pool);
    if (!address) report(m, 'error', [{ field: 'spec.poolRef', message: `${key} has no free address left` }]);
    addressClaims.push({ claim, pool: key, address: address && formatAddress(address) });
  }

  const usage = [...pools.values()].map(({ key, pool, alloc }) => {
    const c = alloc.counts();
    return {
      pool: key,
      addresses: pool.addresses.toStrings().join(','),
      total: c.total,
      used: c.used,
      free: c.free,
      totalHuman: humanCount(c.total),
      freeHuman: humanCount(c.free),
    };
  });
  return { problems, clusters, claims: addressClaims, pools: usage };
}

/** The object with `default` as its namespace when it has none (kubectl's default), for namespaced kinds. */
function withNamespace(m: Manifest): unknown {
  if (m.object.kind === 'GlobalInClusterIPPool') return m.object;
  const metadata = { ...m.object.metadata, namespace: m.object.metadata?.namespace ?? 'default' };
  return { ...m.object, metadata };
}

/**
 * The endpoint address: the one in spec.config — excluded from the node pool when it is one of its usable addresses
 * (a machine must never be given it), an error when another holder of its domain already has it — or, when unset,
 * the externalNetwork's next free address, or the node network's with the endpoint-from-node-network annotation.
 */
function planEndpoint(
  d: ClusterDeployment,
  manifest: Manifest,
  node: PlanPool,
  plan: ClaimPlan,
  ns: string,
  pools: ReadonlyMap<string, PlanPool>,
  take: (p: PlanPool) => Address | undefined,
  markTaken: (p: PlanPool, a: Address) => void,
  report: (m: Manifest, s: Problem['severity'], issues: readonly FieldIssue[]) => void,
): ClusterPlan['endpoint'] {
  const field = 'spec.config.controlPlaneEndpointIP';
  const given = d.spec.config?.controlPlaneEndpointIP;
  if (typeof given === 'string' && given !== '') {
    let address: Address;
    try {
      address = parseAddress(given);
    } catch (e) {
      report(manifest, 'error', [{ field, message: e instanceof Error ? e.message : String(e) }]);
      return undefined;
    }
    const text = formatAddress(address);
    const usable = node.pool.usable.family === address.family && node.pool.usable.has(address.value);
    if (!usable) return { address: text, from: 'config' };
    if (node.alloc.isInUse(address)) {
      report(manifest, 'error', [
        {
          field,
          message:
            `${text} is inside the node pool ${node.key} and already held by another claim of its address ` +
            `domain: choose another address`,
        },
      ]);
      return { address: text, from: 'config' };
    }
    node.alloc.allocateAddress(address);
    markTaken(node, address);
    report(manifest, 'warning', [{ field, message: endpointExcludedMessage(text) + ` (node pool ${node.key})` }]);
    return { address: text, from: 'config' };
  }
  const network = endpointNetwork(plan, d.metadata.annotations);
  const pool = network && pools.get(title('InClusterIPPool', ns, network.poolName));
  const address = pool && take(pool);
  return address
    ? { address: formatAddress(address), from: network.network === 'nodeNetwork' ? 'nodeNetwork' : 'externalNetwork' }
    : undefined;
}
