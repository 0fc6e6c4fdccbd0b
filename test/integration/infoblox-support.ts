// Shared by the Infoblox provider's integration tests: a private control plane (every manager of the shared one
// serves Infoblox claims too, and these tests must be alone with theirs: one of them kills its manager mid-allocation),
// the WAPI simulator in the test's process, the credentials Secret in the manager's namespace, an InfobloxInstance
// pointed at the simulator (its CA through customCAPath), and the manager with every controller `cluster-ipam run`
// starts, tuned for short timeouts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  IPAddressClaims,
  InfobloxInstances,
  InfobloxIPPools,
  type IPAddress,
  type IPAddressClaim,
  type InfobloxInstance,
  type InfobloxInstanceSpec,
  type InfobloxIPPool,
  type InfobloxIPPoolSpec,
} from '../../src/api/index.ts';
import type { StartOptions } from '../../src/cli/run.ts';
import { controllers } from '../../src/controllers/index.ts';
import { startWapiSimulator, type WapiSimulator } from '../../src/infoblox/simulator/index.ts';
import {
  KubeClient,
  Namespaces,
  Secrets,
  isNotFound,
  type Condition,
  type CustomResourceDefinition,
} from '../../src/kube/index.ts';
import type { ControlPlane } from '../../src/local/controlplane.ts';
import { infobloxProvider, type InfobloxProviderOptions } from '../../src/providers/infoblox/provider.ts';
import type { ControllerSetup, Manager } from '../../src/runtime/index.ts';
import { privateControlPlane } from '../support/cluster.ts';
import { startTestManager, type TestManager } from '../support/manager.ts';
import { startManagerProcess, type ManagerProcess } from '../support/manager-process.ts';
import { waitFor } from '../support/wait.ts';

// The IPAddress of a claim once the claim reports it: the same wait for every provider.
export { waitForAddress } from './in-cluster-support.ts';

export const username = 'svc-cluster-ipam';
export const password = 'change-me-9f3a7c';
export const managerNamespace = 'cluster-ipam-system';

/** Short timeouts, so faults and failures show in seconds. */
export const testTuning: InfobloxProviderOptions = {
  wapiTimeoutMs: 1500,
  wapiRetry: { attempts: 3, initialMs: 20, maxMs: 200 },
  settleMs: 4000,
  recheckMs: 60_000,
  retryMs: 1000,
};

export interface Env {
  cp: ControlPlane;
  client: KubeClient;
  sim: WapiSimulator;
  /** The simulator's CA, for customCAPath. */
  caFile: string;
  dir: string;
  /**
   * Starts (another) manager in this process (`opts`: e.g. a logger to read its log); `setups` replace the
   * controllers of the same name.
   */
  startManager(
    tuning?: InfobloxProviderOptions,
    opts?: Partial<StartOptions>,
    setups?: readonly ControllerSetup[],
  ): Promise<TestManager>;
  /** The InfobloxInstance's spec pointing at the simulator. */
  instanceSpec(extra?: Partial<InfobloxInstanceSpec>): InfobloxInstanceSpec;
  stop(): Promise<void>;
}

export async function infobloxEnv(seed: unknown): Promise<Env> {
  const cp = await privateControlPlane();
  // kubectl, the test manager and everything in test/support follow this file's control plane.
  process.env.CLUSTER_IPAM_TEST_KUBECONFIG = cp.kubeconfigPath;
  const client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
  const sim = await startWapiSimulator({ username, password, seed });
  const dir = mkdtempSync(join(tmpdir(), 'infoblox-test-'));
  const caFile = writeSimulatorCA(sim, dir);
  await client.resource(Namespaces).create({ metadata: { name: managerNamespace } });
  await createSecret(client, 'infoblox-credentials', { username, password });
  const managers: TestManager[] = [];
  return {
    cp,
    client,
    sim,
    caFile,
    dir,
    async startManager(tuning = testTuning, opts = {}, setups = []) {
      const configure: ControllerSetup = {
        name: 'infoblox-options',
        setup: (mgr: Manager) => void infobloxProvider(mgr, tuning),
      };
      const list = controllers.map((c) => setups.find((s) => s.name === c.name) ?? c);
      const m = await startTestManager([configure, ...list], {
        namespace: managerNamespace,
        kubeconfig: cp.kubeconfigPath,
        ...opts,
      });
      managers.push(m);
      return m;
    },
    instanceSpec: (extra = {}) => simulatorInstanceSpec(sim, { caFile, ...extra }),
    async stop() {
      for (const m of managers) await m.stop().catch(() => {});
      client.close();
      await sim.close();
      await cp.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `cluster-ipam run` against the env's control plane in a process of its own, so that it can be killed for real. */
export const runManagerProcess = (env: Pick<Env, 'cp'>): ManagerProcess =>
  startManagerProcess({
    args: [
      '--kubeconfig',
      env.cp.kubeconfigPath,
      '--namespace',
      managerNamespace,
      '--leader-elect=false',
      '--metrics-bind-address',
      '0',
      '--health-probe-bind-address',
      '0',
      '--log-level',
      'warn',
    ],
  });

/** Host records with their comments (the claim's tag) and addresses. */
export function taggedRecords(sim: WapiSimulator): { name: string; comment?: string; addresses: string[] }[] {
  return (
    sim.state.search('record:host', [], { fields: ['name', 'comment', 'ipv4addrs', 'ipv6addrs'] }) as {
      name: string;
      comment?: string;
      ipv4addrs: { ipv4addr: string }[];
      ipv6addrs: { ipv6addr: string }[];
    }[]
  ).map((r) => ({
    name: r.name,
    ...(r.comment === undefined ? {} : { comment: r.comment }),
    addresses: [...r.ipv4addrs.map((a) => a.ipv4addr), ...r.ipv6addrs.map((a) => a.ipv6addr)],
  }));
}

/** A namespaced kind with any content, just enough to own things (Cluster API's Machine, infrastructure kinds). */
export const ownerKindCRD = (
  group: string,
  kind: string,
  plural: string,
  version: string,
): CustomResourceDefinition => ({
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope: 'Namespaced',
    names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
    versions: [
      {
        name: version,
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      },
    ],
  },
});

export async function createSecret(client: KubeClient, name: string, data: Record<string, string>): Promise<void> {
  await client.resource(Secrets).apply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: managerNamespace },
    stringData: data,
  });
}

/**
 * An InfobloxInstance's spec pointing at the simulator `sim` (WAPI 2.12 on 127.0.0.1), with the credentials Secret
 * `infoblox-credentials` and no customCAPath unless given (the simulator's CA: `writeSimulatorCA`).
 */
export function simulatorInstanceSpec(
  sim: Pick<WapiSimulator, 'port'>,
  opts: { secret?: string; caFile?: string } & Partial<InfobloxInstanceSpec> = {},
): InfobloxInstanceSpec {
  const { secret = 'infoblox-credentials', caFile, ...extra } = opts;
  return {
    host: '127.0.0.1',
    port: String(sim.port),
    wapiVersion: '2.12',
    credentialsSecretRef: { name: secret },
    ...(caFile ? { customCAPath: caFile } : {}),
    ...extra,
  };
}

/** Writes the simulator's CA into `dir` (for customCAPath); returns the file. */
export function writeSimulatorCA(sim: Pick<WapiSimulator, 'caPem'>, dir: string): string {
  const caFile = join(dir, 'wapi-ca.crt');
  writeFileSync(caFile, sim.caPem!);
  return caFile;
}

export function createInstance(client: KubeClient, name: string, spec: InfobloxInstanceSpec) {
  return client.resource(InfobloxInstances).create({
    apiVersion: 'ipam.cluster.x-k8s.io/v1alpha1',
    kind: 'InfobloxInstance',
    metadata: { name },
    spec,
  });
}

export function createPool(client: KubeClient, namespace: string, name: string, spec: InfobloxIPPoolSpec) {
  return client.resource(InfobloxIPPools).create({
    apiVersion: 'ipam.cluster.x-k8s.io/v1alpha1',
    kind: 'InfobloxIPPool',
    metadata: { name, namespace },
    spec,
  });
}

export function claimObject(
  namespace: string,
  name: string,
  pool: string,
  metadata: Partial<IPAddressClaim['metadata']> = {},
): IPAddressClaim {
  return {
    apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
    kind: 'IPAddressClaim',
    metadata: { name, namespace, ...metadata },
    spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InfobloxIPPool', name: pool } },
  };
}

export function createClaim(
  client: KubeClient,
  namespace: string,
  name: string,
  pool: string,
  metadata: Partial<IPAddressClaim['metadata']> = {},
) {
  return client.resource(IPAddressClaims).create(claimObject(namespace, name, pool, metadata));
}

export const readyOf = (obj: { status?: { conditions?: readonly Condition[] } } | undefined) =>
  obj?.status?.conditions?.find((c) => c.type === 'Ready');

/** The object once its Ready condition (for its current generation) has `reason`. */
export function waitForReady<T extends InfobloxInstance | InfobloxIPPool | IPAddressClaim>(
  read: () => Promise<T>,
  reason: string,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  return waitFor(
    async (note) => {
      const obj = await read();
      const ready = readyOf(obj as { status?: { conditions?: Condition[] } });
      note(ready ?? 'no Ready condition');
      const current = ready?.observedGeneration === undefined || ready.observedGeneration === obj.metadata.generation;
      return ready?.reason === reason && current ? obj : undefined;
    },
    { what: `${what} to report ${reason}`, timeoutMs },
  );
}

export const instanceReady = (client: KubeClient, name: string, reason = 'ConfigurationValid') =>
  waitForReady(() => client.resource(InfobloxInstances).get({ name }), reason, `InfobloxInstance ${name}`);

export const poolReady = (client: KubeClient, namespace: string, name: string, reason = 'Ready') =>
  waitForReady(
    () => client.resource(InfobloxIPPools).get({ namespace, name }),
    reason,
    `InfobloxIPPool ${namespace}/${name}`,
  );

/** An InfobloxIPPool, once it reports Ready. */
export async function readyPool(client: KubeClient, namespace: string, name: string, spec: InfobloxIPPoolSpec) {
  await createPool(client, namespace, name, spec);
  return poolReady(client, namespace, name);
}

export const claimReason = (client: KubeClient, namespace: string, name: string, reason: string, timeoutMs?: number) =>
  waitForReady(
    () => client.resource(IPAddressClaims).get({ namespace, name }),
    reason,
    `IPAddressClaim ${namespace}/${name}`,
    timeoutMs,
  );

export async function gone(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return false;
  } catch (err) {
    if (isNotFound(err)) return true;
    throw err;
  }
}

/** Host records on the simulator, by name → addresses. */
export function recordsByName(sim: WapiSimulator): Map<string, string[][]> {
  const out = new Map<string, string[][]>();
  for (const r of sim.state.hostRecords()) {
    out.set(r.name, [...(out.get(r.name) ?? []), [...r.ipv4addrs, ...r.ipv6addrs]]);
  }
  return out;
}

export type { IPAddress };
