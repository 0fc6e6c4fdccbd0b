// The summary of the local mode's example clusters: who got which address, so that a first run shows what the
// product is for. The machines are Cluster API's, cloned in the vCenter simulator (vsphere-machines.ts); on a machine
// where those cannot be built, `local up --claims-only` falls back to making them here as an infrastructure provider
// would: once a ClusterDeployment's IPAMReady is True, one IPAddressClaim per control-plane and worker node against
// the pool the controller merged into spec.config (`ipPool`), labelled with the cluster's name.
import {
  ClusterDeployments,
  ClusterIPAMClaims,
  GlobalInClusterIPPools,
  InClusterIPPools,
  InfobloxIPPools,
  IPAddressClaims,
  IPAddresses,
  type ClusterDeployment,
  type IPAddress,
  type IPAddressClaim,
} from '../api/index.ts';
import type { KubeClient } from '../kube/index.ts';
import { clusterNameLabel } from '../providers/claims.ts';
import { sleep } from '../runtime/backoff.ts';
import { findCondition } from '../runtime/conditions.ts';
import { listVMs, type VCenter, type VCenterVM } from './capi.ts';
import { clusterEndpoints, readVSphereMachines } from './vsphere-machines.ts';

export interface PoolRef {
  apiGroup?: string;
  kind: string;
  name: string;
}

export interface Machine {
  /** The Cluster API Machine; with --claims-only the claim's. */
  name: string;
  /** The IPAddressClaim's name: CAPV's `<VSphereVM>-0-0`, or with --claims-only `<cluster>-cp-<i>`/`<cluster>-worker-<i>`. */
  claim: string;
  /** The VM in vCenter. */
  vm?: string;
  /** The address the VM's guest reports in vCenter: must be `address`. */
  guestIP?: string;
  role: 'control-plane' | 'worker';
  address?: string;
  prefix?: number;
  gateway?: string;
  /** Why it has no address yet (the claim's Ready message). */
  waiting?: string;
}

export interface ClusterSummary {
  name: string;
  /** The ClusterIPAMClaim it points at and whether it is Bound. */
  claim: string | undefined;
  claimBound: boolean;
  /** IPAMReady: True lets provisioning (here: the machines) go ahead; else its reason and message. */
  ipamReady: boolean;
  ipamMessage: string | undefined;
  pool: PoolRef | undefined;
  /** spec.config.controlPlaneEndpointIP, the API server's virtual IP. */
  endpoint: string | undefined;
  /** The Cluster's spec.controlPlaneEndpoint.host, when Cluster API has one. */
  clusterEndpoint?: string;
  machines: Machine[];
}

export interface PoolSummary {
  kind: string;
  namespace: string | undefined;
  name: string;
  /**
   * In-cluster pools count in their status (exact, as `2^64-2` when no number holds it); an Infoblox network's free
   * addresses are the appliance's to know.
   */
  total: string | undefined;
  used: number;
  free: string | undefined;
}

export interface Summary {
  namespace: string;
  /** The vCenter simulator the machines are cloned in (none with --claims-only). */
  vcenter?: VCenter;
  clusters: ClusterSummary[];
  pools: PoolSummary[];
}

export interface SimulateOptions {
  namespace: string;
  /** How long to wait for IPAMReady and for the machines' addresses (default 60 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Progress lines (which cluster is waited for). */
  log?: (line: string) => void;
}

const fieldManager = { fieldManager: 'cluster-ipam-local-machines' };
/** Marks the claims made here, apart from the examples' own IPAddressClaims of the same clusters. */
export const simulatedLabel = 'cluster-ipam.k0rdent.mirantis.com/simulated-machine';

function count(config: Record<string, unknown>, key: string): number {
  const n = Number(config[key] ?? 0);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

function poolOf(d: ClusterDeployment): PoolRef | undefined {
  const entry = (d.spec.config as Record<string, unknown> | undefined)?.ipPool as { config?: PoolRef } | undefined;
  const ref = entry?.config;
  return ref?.kind && ref.name ? ref : undefined;
}

/** The IPAddressClaims a provider would make for `d`'s machines. */
export function machineClaims(d: ClusterDeployment, pool: PoolRef): IPAddressClaim[] {
  const config = (d.spec.config ?? {}) as Record<string, unknown>;
  const roles = [
    { role: 'cp', n: count(config, 'controlPlaneNumber') },
    { role: 'worker', n: count(config, 'workersNumber') },
  ];
  return roles.flatMap(({ role, n }) =>
    Array.from({ length: n }, (_, i) => ({
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
      kind: 'IPAddressClaim',
      metadata: {
        name: `${d.metadata.name}-${role}-${i}`,
        namespace: d.metadata.namespace,
        labels: { [clusterNameLabel]: d.metadata.name!, [simulatedLabel]: 'true' },
        // Gone with their cluster, as machines are (kube-controller-manager's garbage collector).
        ownerReferences: [{ apiVersion: d.apiVersion!, kind: d.kind!, name: d.metadata.name!, uid: d.metadata.uid! }],
      },
      spec: { poolRef: { apiGroup: pool.apiGroup ?? 'ipam.cluster.x-k8s.io', kind: pool.kind, name: pool.name } },
    })),
  ) as IPAddressClaim[];
}

/**
 * Makes the machines' IPAddressClaims of every ClusterDeployment of the namespace whose IPAMReady turns True within
 * the timeout, waits for their addresses (within the same timeout), and returns what there is to show.
 */
export async function simulateMachines(client: KubeClient, opts: SimulateOptions): Promise<Summary> {
  const { namespace, signal } = opts;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  const log = opts.log ?? (() => {});
  const cds = client.resource(ClusterDeployments);
  const claims = client.resource(IPAddressClaims);
  const made = new Set<string>();
  // Clusters are served one by one as their gate opens: one that never does must not hold back the others.
  for (;;) {
    const deployments = (await cds.list({ namespace, signal })).items;
    let pending = 0;
    for (const d of deployments) {
      const pool = poolOf(d);
      const ready = findCondition(d.status?.conditions, 'IPAMReady')?.status === 'True';
      if (!ready || !pool) {
        pending++;
        continue;
      }
      if (made.has(d.metadata.name!)) continue;
      made.add(d.metadata.name!);
      const existing = new Set(
        (
          await claims.list({
            namespace,
            labelSelector: `${simulatedLabel},${clusterNameLabel}=${d.metadata.name}`,
            signal,
          })
        ).items.map((c) => c.metadata.name),
      );
      const machines = machineClaims(d, pool).filter((c) => !existing.has(c.metadata.name));
      if (machines.length === 0) continue;
      log(`${d.metadata.name}: IPAMReady, ${machines.length} machines claim addresses from ${pool.kind} ${pool.name}`);
      // One at a time, control plane first, as machines come up in order: each gets the address
      // `cluster-ipam check` plans for it, not whichever a race hands out.
      for (const claim of machines) {
        await claims.apply(claim, { ...fieldManager, force: true, signal });
        const key = { namespace, name: claim.metadata.name! };
        while (!(await claims.get(key, { signal })).status?.addressRef?.name && Date.now() < deadline) {
          if (signal?.aborted) break;
          await sleep(100, signal);
        }
      }
    }
    const summary = await readSummary(client, namespace, signal);
    const waiting = summary.clusters.some((c) => c.machines.some((m) => !m.address));
    if ((pending === 0 && !waiting) || Date.now() > deadline || signal?.aborted) return summary;
    await sleep(500, signal);
  }
}

/**
 * Keeps the machines in step with the ClusterDeployments while the local mode runs (a cluster applied later, a
 * machine's claim deleted) and calls `onChange` with the summary whenever what it prints changes.
 */
export async function followMachines(
  client: KubeClient,
  opts: SimulateOptions & {
    /** What was shown last. */
    initial: Summary;
    intervalMs?: number;
    onChange: (summary: Summary) => Promise<void> | void;
  },
): Promise<void> {
  let last = JSON.stringify(opts.initial);
  while (!opts.signal?.aborted) {
    await sleep(opts.intervalMs ?? 5000, opts.signal);
    if (opts.signal?.aborted) return;
    try {
      // New machines get a moment to be served, so that a change is shown once, with its addresses.
      const summary = await simulateMachines(client, { ...opts, timeoutMs: opts.timeoutMs ?? 10_000 });
      const text = JSON.stringify(summary);
      if (text !== last) await opts.onChange(summary);
      last = text;
    } catch (err) {
      if (opts.signal?.aborted) return;
      opts.log?.(`machines: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/**
 * The summary with the machines cloned in the simulator, once every machine the namespace's provisioned deployments
 * ask for has its IPAddress and the address vCenter reports for its VM (or when `timeoutMs` has passed: it then says
 * what each one waits for).
 */
export async function vsphereSummary(
  client: KubeClient,
  namespace: string,
  vsphere: { bin: string; vcenter: VCenter },
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<Summary> {
  const deadline = Date.now() + (opts.timeoutMs ?? 0);
  for (;;) {
    const vms = await listVMs(vsphere.bin, vsphere.vcenter.url);
    const summary = await readSummary(client, namespace, opts.signal, { vcenter: vsphere.vcenter, vms });
    const deployments = (await client.resource(ClusterDeployments).list({ namespace, signal: opts.signal })).items;
    const done = deployments.every((d) => {
      const c = summary.clusters.find((x) => x.name === d.metadata.name);
      if (!c?.ipamReady || d.spec.dryRun === true) return true;
      const config = (d.spec.config ?? {}) as Record<string, unknown>;
      const wanted = count(config, 'controlPlaneNumber') + count(config, 'workersNumber');
      return c.machines.length === wanted && c.machines.every((m) => m.address && m.guestIP);
    });
    if (done || Date.now() > deadline || opts.signal?.aborted) return summary;
    await sleep(2000, opts.signal);
  }
}

/**
 * What the namespace holds now: clusters, their machines' addresses, and the pools they draw from. With `vsphere`
 * the machines are Cluster API's, next to what the simulator's vSphere API reports for their VMs; else the claims
 * made by `simulateMachines`.
 */
export async function readSummary(
  client: KubeClient,
  namespace: string,
  signal?: AbortSignal,
  vsphere?: { vcenter: VCenter; vms: readonly VCenterVM[] },
): Promise<Summary> {
  const [deployments, cipamClaims, claims, addresses] = await Promise.all([
    client.resource(ClusterDeployments).list({ namespace, signal }),
    client.resource(ClusterIPAMClaims).list({ namespace, signal }),
    client.resource(IPAddressClaims).list({ namespace, labelSelector: simulatedLabel, signal }),
    client.resource(IPAddresses).list({ namespace, signal }),
  ]);
  const addressOf = new Map(addresses.items.map((a) => [a.metadata.name!, a]));
  const [real, endpoints] = vsphere
    ? await Promise.all([
        readVSphereMachines(client, namespace, vsphere.vms, signal),
        clusterEndpoints(client, namespace, signal),
      ])
    : [undefined, undefined];
  const clusters: ClusterSummary[] = deployments.items.map((d) => {
    const name = d.metadata.name!;
    const claimName = (d.spec as { ipamClaim?: { ref?: string } }).ipamClaim?.ref;
    const claim = cipamClaims.items.find((c) => c.metadata.name === claimName);
    const gate = findCondition(d.status?.conditions, 'IPAMReady');
    const config = (d.spec.config ?? {}) as Record<string, unknown>;
    const machines = real
      ? (real.get(name) ?? [])
      : claims.items
          .filter((c) => c.metadata.labels?.[clusterNameLabel] === name)
          .map((c): Machine => {
            const ipa: IPAddress | undefined = c.status?.addressRef?.name
              ? addressOf.get(c.status.addressRef.name)
              : undefined;
            const role = c.metadata.name!.startsWith(`${name}-cp-`) ? 'control-plane' : 'worker';
            if (!ipa) {
              const ready = findCondition(c.status?.conditions, 'Ready');
              return {
                name: c.metadata.name!,
                claim: c.metadata.name!,
                role,
                waiting: ready?.message || ready?.reason || 'not served yet',
              };
            }
            return {
              name: c.metadata.name!,
              claim: c.metadata.name!,
              role,
              address: ipa.spec.address,
              prefix: ipa.spec.prefix,
              ...(ipa.spec.gateway ? { gateway: ipa.spec.gateway } : {}),
            };
          })
          .sort((a, b) => (a.role === b.role ? byIndex(a.claim, b.claim) : a.role === 'control-plane' ? -1 : 1));
    return {
      name,
      claim: claimName,
      claimBound: (claim?.status as { bound?: boolean } | undefined)?.bound === true,
      ipamReady: gate?.status === 'True',
      ipamMessage: gate && gate.status !== 'True' ? `${gate.reason}: ${gate.message}` : undefined,
      pool: poolOf(d),
      endpoint: typeof config.controlPlaneEndpointIP === 'string' ? config.controlPlaneEndpointIP : undefined,
      ...(endpoints?.get(name) ? { clusterEndpoint: endpoints.get(name) } : {}),
      machines,
    };
  });
  return {
    namespace,
    ...(vsphere ? { vcenter: vsphere.vcenter } : {}),
    clusters,
    pools: await readPools(client, namespace, addresses.items, signal),
  };
}

const byIndex = (a: string, b: string) => Number(a.split('-').at(-1)) - Number(b.split('-').at(-1));

async function readPools(
  client: KubeClient,
  namespace: string,
  addresses: readonly IPAddress[],
  signal?: AbortSignal,
): Promise<PoolSummary[]> {
  const used = (kind: string, name: string) =>
    addresses.filter((a) => a.spec.poolRef.kind === kind && a.spec.poolRef.name === name).length;
  const [inCluster, global, infoblox] = await Promise.all([
    client.resource(InClusterIPPools).list({ namespace, signal }),
    client.resource(GlobalInClusterIPPools).list({ signal }),
    client
      .resource(InfobloxIPPools)
      .list({ namespace, signal })
      .catch(() => ({ items: [] })),
  ]);
  const counted = [...inCluster.items, ...global.items].map((p): PoolSummary => {
    // Counted from the IPAddresses read just now: the pool's status follows them a moment later.
    const counts = p.status?.ipAddresses;
    const n = used(p.kind!, p.metadata.name!);
    const exact = counts?.total !== undefined && counts.total < Number.MAX_SAFE_INTEGER;
    return {
      kind: p.kind!,
      namespace: p.metadata.namespace,
      name: p.metadata.name!,
      total: counts?.totalHuman ?? counts?.total?.toString(),
      used: n,
      free: exact ? String(Math.max(0, counts.total! - n)) : (counts?.freeHuman ?? counts?.free?.toString()),
    };
  });
  const appliance = infoblox.items.map((p): PoolSummary => ({
    kind: 'InfobloxIPPool',
    namespace: p.metadata.namespace,
    name: p.metadata.name!,
    total: undefined,
    used: used('InfobloxIPPool', p.metadata.name!),
    free: undefined,
  }));
  return [...counted, ...appliance];
}

/** The summary as printed by `local up`, with the commands to look further and how to stop. */
export function formatSummary(summary: Summary, opts: { kubeconfig: string; planPage?: string }): string {
  const ns = summary.namespace;
  const vsphere = summary.vcenter !== undefined;
  const out: string[] = [];
  if (vsphere) {
    out.push(
      `Example clusters in namespace "${ns}": Cluster API made their machines, CAPV claimed each VM's address and`,
    );
    out.push('cloned it in the vCenter simulator; the guest address is what vCenter reports for the VM:');
  } else {
    out.push(
      `Example clusters in namespace "${ns}", with one IPAddressClaim per machine as an infrastructure provider`,
    );
    out.push('makes them (--claims-only: no Cluster API, no vCenter):');
  }
  for (const c of summary.clusters) {
    const claim = c.claim ? `claim ${c.claim} ${c.claimBound ? 'Bound' : 'not bound'}` : 'no claim yet';
    const pool = c.pool ? `, pool ${c.pool.kind}/${c.pool.name}` : '';
    out.push('');
    out.push(
      `  ${c.name}: ${claim}${pool}${c.ipamReady ? '' : ` — IPAMReady not True (${c.ipamMessage ?? 'pending'})`}`,
    );
    const width = Math.max(14, ...c.machines.map((m) => m.name.length));
    const vmWidth = Math.max(2, ...c.machines.map((m) => (m.vm ?? '').length));
    if (c.endpoint) {
      const clash = c.machines.filter((m) => m.address === c.endpoint).map((m) => m.name);
      const warn = clash.length > 0 ? `  ⚠ also given to ${clash.join(', ')}` : '';
      const cluster =
        c.clusterEndpoint === undefined
          ? ''
          : c.clusterEndpoint === c.endpoint
            ? ", the Cluster's controlPlaneEndpoint"
            : `, but the Cluster's controlPlaneEndpoint is ${c.clusterEndpoint}`;
      out.push(`    ${'endpoint'.padEnd(width)}  ${c.endpoint}  (spec.config.controlPlaneEndpointIP${cluster})${warn}`);
    }
    if (vsphere && c.machines.length > 0) {
      const head = `${'MACHINE'.padEnd(width)}  ${'VM'.padEnd(vmWidth)}  ${'GUEST IP (vCenter)'.padEnd(18)}  IPADDRESS`;
      out.push(`    ${head}`);
    }
    for (const m of c.machines) {
      const address = m.address ? `${m.address}/${m.prefix}${m.gateway ? `  gateway ${m.gateway}` : ''}` : '';
      if (!vsphere) {
        out.push(`    ${m.name.padEnd(width)}  ${address || `waiting: ${m.waiting}`}`);
        continue;
      }
      const mismatch = m.guestIP && m.address && m.guestIP !== m.address ? '  ⚠ vCenter and IPAddress differ' : '';
      const waiting = m.waiting ? `  waiting: ${m.waiting}` : '';
      out.push(
        `    ${m.name.padEnd(width)}  ${(m.vm ?? '').padEnd(vmWidth)}  ${(m.guestIP ?? '-').padEnd(18)}  ` +
          `${address || '-'}${mismatch}${waiting}`,
      );
    }
  }
  out.push('');
  out.push('Pools:');
  const label = (p: PoolSummary) => `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name}`;
  const width = Math.max(...summary.pools.map((p) => label(p).length), 10);
  for (const p of summary.pools) {
    const free = p.free === undefined ? 'free: ask the appliance' : `free ${p.free}`;
    const total = p.total === undefined ? '' : ` of ${p.total}`;
    out.push(`  ${label(p).padEnd(width)}  used ${p.used}${total}, ${free}`);
  }
  out.push('');
  if (opts.planPage) out.push(`Address plan: ${opts.planPage}`, '');
  if (summary.vcenter) {
    out.push('The vCenter simulator, for any vSphere client (govc, pyvmomi, PowerCLI):');
    out.push(`  export GOVC_URL=${summary.vcenter.url}`);
    out.push('  export GOVC_INSECURE=1');
    out.push('  govc ls /DC0/vm; govc vm.ip -a <VM>');
    out.push('');
  }
  out.push('Look further (Kubernetes has an IPAddress kind of its own: name the group):');
  out.push(`  export KUBECONFIG=${opts.kubeconfig}`);
  out.push(`  kubectl get clusterdeployments,clusteripamclaims,clusteripams -n ${ns}`);
  out.push(`  kubectl get ipaddressclaims.ipam.cluster.x-k8s.io,ipaddresses.ipam.cluster.x-k8s.io -n ${ns}`);
  out.push('  kubectl get ipaddresses.ipam.cluster.x-k8s.io -A');
  out.push(`  kubectl get inclusterippools,globalinclusterippools,infobloxippools -A`);
  if (summary.vcenter) out.push(`  kubectl get clusters,machines,vspheremachines,vspherevms -n ${ns}`);
  const first = summary.clusters[0]?.name;
  if (first) out.push(`  kubectl describe clusterdeployment ${first} -n ${ns}`);
  out.push('');
  return out.join('\n');
}
