// The lifecycle tests' world: a control plane of their own running Cluster API, CAPV and the vCenter simulator (the
// binaries found as `npm test` finds them, through capi-binaries.ts), the manager, and the render loop of the local
// mode. Nothing is mocked: CAPV makes the claims, the manager answers, the simulator clones the VMs and its guest
// agent reports the addresses CAPV wrote into them.
import { controllers } from '../../src/controllers/index.ts';
import {
  ClusterDeployments,
  IPAddressClaims,
  IPAddresses,
  type ClusterDeployment,
  type IPAddress,
} from '../../src/api/index.ts';
import { KubeClient, Namespaces } from '../../src/kube/index.ts';
import { listVMs, startVSphereControlPlane, type VSphereControlPlane } from '../../src/local/capi.ts';
import type { Machine } from '../../src/local/machines.ts';
import { followClusters, readVSphereMachines } from '../../src/local/vsphere-machines.ts';
import { findCondition } from '../../src/runtime/conditions.ts';
import { startManagerOn, type TestManager } from '../support/manager.ts';
import { waitFor } from '../support/wait.ts';

export interface MachinesWorld {
  mode: VSphereControlPlane;
  client: KubeClient;
  stop(): Promise<void>;
}

export async function startMachinesWorld(): Promise<MachinesWorld> {
  const mode = await startVSphereControlPlane();
  let manager: TestManager | undefined;
  const client = KubeClient.load({ kubeconfig: mode.cp.kubeconfigPath });
  const render = new AbortController();
  let following: Promise<void> = Promise.resolve();
  try {
    manager = startManagerOn(mode.cp.kubeconfigPath, controllers, { namespace: 'default' });
    following = followClusters(client, { target: mode.machines.target, signal: render.signal, intervalMs: 1000 });
  } catch (err) {
    await mode.stop();
    throw err;
  }
  return {
    mode,
    client,
    async stop() {
      render.abort();
      await following;
      await manager?.stop();
      client.close();
      await mode.stop();
    },
  };
}

async function namespace(client: KubeClient, name: string): Promise<string> {
  await client.resource(Namespaces).apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

export interface ClusterOptions {
  controlPlane: number;
  workers: number;
  nodeNetwork: Record<string, unknown>;
  endpoint: string;
}

/**
 * A vSphere cluster as the guide writes it with Option 2 (the claim inline), in a namespace made for it; resolves once
 * IPAMReady is True, with the pool the gate merged into spec.config.
 */
export async function createCluster(world: MachinesWorld, ns: string, name: string, opts: ClusterOptions) {
  await namespace(world.client, ns);
  await world.client.resource(ClusterDeployments).apply(inlineDeployment(ns, name, opts), { force: true });
  const deployment = await ready(world.client, ns, name);
  const pool = ((deployment.spec.config as Record<string, unknown>).ipPool as { config: Record<string, string> })
    .config as { apiGroup: string; kind: string; name: string };
  return { deployment, pool };
}

function inlineDeployment(ns: string, name: string, opts: ClusterOptions): ClusterDeployment {
  return {
    apiVersion: 'k0rdent.mirantis.com/v1beta1',
    kind: 'ClusterDeployment',
    metadata: { name, namespace: ns },
    spec: {
      template: 'vsphere-standalone-cp-1-0-14',
      credential: 'vsphere-cluster-identity-cred',
      config: {
        controlPlaneNumber: opts.controlPlane,
        workersNumber: opts.workers,
        controlPlaneEndpointIP: opts.endpoint,
        nameservers: ['10.0.0.53'],
      },
      ipamClaim: { spec: { provider: 'in-cluster', nodeNetwork: opts.nodeNetwork } },
    },
  } as ClusterDeployment;
}

export function setWorkers(client: KubeClient, ns: string, name: string, workers: number): Promise<unknown> {
  return client
    .resource(ClusterDeployments)
    .patch({ namespace: ns, name }, { spec: { config: { workersNumber: workers } } }, { type: 'merge' });
}

/** The cluster's machines as the summary shows them: VM, guest IP in vCenter, IPAddress. */
export async function machines(world: MachinesWorld, ns: string, cluster: string): Promise<Machine[]> {
  const vms = await listVMs(world.mode.bin, world.mode.machines.vcenter.url);
  return (await readVSphereMachines(world.client, ns, vms)).get(cluster) ?? [];
}

/** Every machine up: its IPAddress, and the same address reported by its guest in vCenter. */
export const allUp = (ms: readonly Machine[], n: number) =>
  ms.length === n && ms.every((m) => m.address && m.guestIP === m.address) ? ms : undefined;

export const describeMachines = (ms: readonly Machine[]) =>
  ms.map((m) => `${m.name} vm=${m.vm} guest=${m.guestIP ?? '-'} ip=${m.address ?? '-'} ${m.waiting ?? ''}`).join('; ');

/** Waits until the cluster has exactly `n` machines, every one up. */
export async function waitForMachines(world: MachinesWorld, ns: string, cluster: string, n: number) {
  let last: Machine[] = [];
  return waitFor(
    async () => {
      last = await machines(world, ns, cluster);
      return allUp(last, n);
    },
    { timeoutMs: 600_000, intervalMs: 2000, what: `${n} machines of ${ns}/${cluster} up` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last seen: ${describeMachines(last)}`);
  });
}

/** The deployment once IPAMReady is True (what the gate merged into spec.config). */
function ready(client: KubeClient, ns: string, name: string): Promise<ClusterDeployment> {
  return waitFor(
    async () => {
      const d = await client.resource(ClusterDeployments).get({ namespace: ns, name });
      return findCondition(d.status?.conditions, 'IPAMReady')?.status === 'True' ? d : undefined;
    },
    { timeoutMs: 120_000, what: `IPAMReady of ${ns}/${name}` },
  );
}

export async function ipAddresses(client: KubeClient, ns: string): Promise<IPAddress[]> {
  return (await client.resource(IPAddresses).list({ namespace: ns })).items;
}

export async function claimsIn(client: KubeClient, ns: string) {
  return (await client.resource(IPAddressClaims).list({ namespace: ns })).items;
}
