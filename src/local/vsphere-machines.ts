// The guide's flow for real in the local mode: each ClusterDeployment whose IPAMReady is True is rendered as
// k0rdent's vsphere-standalone-cp template would (src/render/vsphere.ts) and applied; from there Cluster API and CAPV
// make the machines, CAPV claims their addresses, the manager answers, and the simulator clones the VMs. A change of
// the deployment (workersNumber) is rendered again. Then what there is to show: per machine its VM, the address the
// VM's guest reports in vCenter, and its IPAddress.
import { ClusterDeployments, IPAddressClaims, IPAddresses, type ClusterDeployment } from '../api/index.ts';
import { Secrets, isNotFound, type KubeClient, type ResourceType } from '../kube/index.ts';
import { clusterNameLabel } from '../providers/claims.ts';
import {
  controlPlaneLabel,
  renderVSphereCluster,
  RenderError,
  type RenderedObject,
  type VSphereTarget,
} from '../render/vsphere.ts';
import { sleep } from '../runtime/backoff.ts';
import { findCondition } from '../runtime/conditions.ts';
import {
  Clusters,
  MachineDeployments,
  Machines,
  VSphereClusters,
  VSphereMachines,
  VSphereMachineTemplates,
  VSphereVMs,
  type CapiObject,
  type VCenterVM,
} from './capi.ts';
import type { Machine } from './machines.ts';

const fieldManager = 'cluster-ipam-local-render';

const typeOf: Record<string, ResourceType> = {
  Cluster: Clusters,
  Machine: Machines,
  MachineDeployment: MachineDeployments,
  VSphereCluster: VSphereClusters,
  VSphereMachine: VSphereMachines,
  VSphereMachineTemplate: VSphereMachineTemplates,
  Secret: Secrets,
};

const ipamReady = (d: ClusterDeployment) => findCondition(d.status?.conditions, 'IPAMReady')?.status === 'True';

export interface RenderOptions {
  target: VSphereTarget;
  /** Only this namespace's deployments (default: all). */
  namespace?: string;
  log?: (line: string) => void;
}

/**
 * Renders and applies what changed since the last call (`applied`: per deployment uid, what was applied): a
 * deployment whose IPAMReady is True, not a dry run and not being deleted; control-plane Machines it no longer asks for are
 * deleted. A deployment that cannot be rendered is logged with the field at fault and left alone.
 */
export async function renderClusters(
  client: KubeClient,
  applied: Map<string, string>,
  opts: RenderOptions,
  signal?: AbortSignal,
): Promise<void> {
  const log = opts.log ?? (() => {});
  const deployments = (await client.resource(ClusterDeployments).list({ namespace: opts.namespace, signal })).items;
  for (const d of deployments) {
    const uid = d.metadata.uid!;
    // dryRun: IPAM is resolved and checked, nothing is provisioned (as kcm does).
    if (!ipamReady(d) || d.metadata.deletionTimestamp || d.spec.dryRun === true) continue;
    let objects: RenderedObject[];
    try {
      objects = renderVSphereCluster(d, opts.target);
    } catch (err) {
      if (!(err instanceof RenderError)) throw err;
      const message = `ClusterDeployment ${d.metadata.namespace}/${d.metadata.name}: ${err.message}`;
      if (applied.get(uid) !== message) log(message);
      applied.set(uid, message);
      continue;
    }
    const fingerprint = JSON.stringify(objects);
    if (applied.get(uid) === fingerprint) continue;
    for (const o of objects) {
      await client.resource(typeOf[o.kind!]!).apply(o, { fieldManager, force: true, signal });
    }
    await pruneControlPlane(client, d, objects, signal);
    applied.set(uid, fingerprint);
    log(`${d.metadata.namespace}/${d.metadata.name}: rendered ${objects.length} objects (vsphere-standalone-cp)`);
  }
}

async function pruneControlPlane(
  client: KubeClient,
  d: ClusterDeployment,
  objects: readonly RenderedObject[],
  signal?: AbortSignal,
): Promise<void> {
  const wanted = new Set(objects.filter((o) => o.kind === 'Machine').map((o) => o.metadata.name));
  const machines = client.resource(Machines);
  const { items } = await machines.list({
    namespace: d.metadata.namespace,
    labelSelector: `${clusterNameLabel}=${d.metadata.name},${controlPlaneLabel}`,
    signal,
  });
  for (const m of items) {
    if (wanted.has(m.metadata.name) || m.metadata.deletionTimestamp) continue;
    await machines.delete({ namespace: m.metadata.namespace, name: m.metadata.name! }, { signal }).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
  }
}

/** Keeps rendering until `signal` aborts: deployments are read every `intervalMs` (default 2 s). */
export async function followClusters(
  client: KubeClient,
  opts: RenderOptions & { signal: AbortSignal; intervalMs?: number },
): Promise<void> {
  const applied = new Map<string, string>();
  while (!opts.signal.aborted) {
    try {
      await renderClusters(client, applied, opts, opts.signal);
    } catch (err) {
      if (opts.signal.aborted) return;
      // The next round applies again: nothing was recorded for the deployment that failed.
      opts.log?.(`rendering clusters: ${err instanceof Error ? err.message : String(err)}`);
    }
    await sleep(opts.intervalMs ?? 2000, opts.signal);
  }
}

/** The control-plane endpoint Cluster API was given, per cluster name. */
export async function clusterEndpoints(
  client: KubeClient,
  namespace: string,
  signal?: AbortSignal,
): Promise<Map<string, string>> {
  const { items } = await client.resource(Clusters).list({ namespace, signal });
  return new Map(
    items.map((c) => [
      c.metadata.name!,
      String((c.spec?.controlPlaneEndpoint as { host?: string } | undefined)?.host ?? ''),
    ]),
  );
}

/** CAPV's claim for a VM's first NIC and first pool: `<VSphereVM>-<device>-<pool>`. */
export const vmClaimName = (vm: string): string => `${vm}-0-0`;

function conditionMessage(o: CapiObject | undefined, type: string): string | undefined {
  const conditions = (o?.status?.conditions ?? []) as {
    type: string;
    status: string;
    reason?: string;
    message?: string;
  }[];
  const c = conditions.find((x) => x.type === type && x.status !== 'True');
  return c ? `${type}: ${c.reason ?? ''}${c.message ? ` ${c.message}` : ''}`.trim() : undefined;
}

/**
 * Every Cluster API Machine of `namespace` per cluster name: its VM, the address its guest reports in vCenter (`vms`,
 * read by the caller with a vSphere client) and the IPAddress CAPV's claim got; else why it waits.
 */
export async function readVSphereMachines(
  client: KubeClient,
  namespace: string,
  vms: readonly VCenterVM[],
  signal?: AbortSignal,
): Promise<Map<string, Machine[]>> {
  const [machines, vsphereVMs, claims, addresses] = await Promise.all([
    client.resource(Machines).list({ namespace, signal }),
    client.resource(VSphereVMs).list({ namespace, signal }),
    client.resource(IPAddressClaims).list({ namespace, signal }),
    client.resource(IPAddresses).list({ namespace, signal }),
  ]);
  const vmByName = new Map(vsphereVMs.items.map((v) => [v.metadata.name!, v]));
  const claimByName = new Map(claims.items.map((c) => [c.metadata.name!, c]));
  const addressByName = new Map(addresses.items.map((a) => [a.metadata.name!, a]));
  const inVCenter = new Map(vms.map((v) => [v.name, v]));
  const out = new Map<string, Machine[]>();
  for (const m of machines.items) {
    const cluster = m.metadata.labels?.[clusterNameLabel];
    if (!cluster) continue;
    const vm = String((m.spec?.infrastructureRef as { name?: string } | undefined)?.name ?? m.metadata.name);
    const vsphereVM = vmByName.get(vm);
    const claim = claimByName.get(vmClaimName(vm));
    const address = claim?.status?.addressRef?.name ? addressByName.get(claim.status.addressRef.name) : undefined;
    const guestIP = inVCenter.get(vm)?.guestIP || undefined;
    const claimReady = findCondition(claim?.status?.conditions, 'Ready');
    const waiting =
      address && guestIP
        ? undefined
        : ((claimReady && claimReady.status !== 'True'
            ? `claim ${claim!.metadata.name}: ${claimReady.message}`
            : undefined) ??
          conditionMessage(vsphereVM, 'IPAddressClaimed') ??
          conditionMessage(vsphereVM, 'VirtualMachineProvisioned') ??
          (address ? 'the guest has not reported its address yet' : `phase ${String(m.status?.phase ?? 'Pending')}`));
    const entry: Machine = {
      name: m.metadata.name!,
      role: m.metadata.labels?.[controlPlaneLabel] !== undefined ? 'control-plane' : 'worker',
      vm,
      claim: claim?.metadata.name ?? vmClaimName(vm),
      ...(address ? { address: address.spec.address, prefix: address.spec.prefix } : {}),
      ...(address?.spec.gateway ? { gateway: address.spec.gateway } : {}),
      ...(guestIP ? { guestIP } : {}),
      ...(waiting ? { waiting } : {}),
    };
    out.set(cluster, [...(out.get(cluster) ?? []), entry]);
  }
  for (const list of out.values()) {
    list.sort((a, b) => (a.role === b.role ? a.name.localeCompare(b.name) : a.role === 'control-plane' ? -1 : 1));
  }
  return out;
}
