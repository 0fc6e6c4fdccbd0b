// Shared by the in-cluster provider's integration tests: a manager running the claim and pool controllers, and
// small builders for pools and claims. Names are unique per test (namespaces, or a random suffix for cluster-scoped
// objects) because other test files run managers against the same control plane.
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import {
  GlobalInClusterIPPools,
  IPAddressClaims,
  IPAddresses,
  IPAddressLedgers,
  IPAddressReservations,
  InClusterIPPools,
  type IPAddress,
  type IPAddressClaim,
  type IPAddressLedger,
  type IPAddressLedgerEntry,
  type IPAddressReservation,
  type InClusterIPPoolSpec,
} from '../../src/api/index.ts';
import { inClusterPoolController } from '../../src/controllers/inclusterpool.ts';
import {
  ipAddressClaimController,
  type IPAddressClaimControllerOptions,
} from '../../src/controllers/ipaddressclaim.ts';
import {
  Events,
  KubeClient,
  isNotFound,
  type Condition,
  type CoreEvent,
  type KubeObject,
  type ResourceClient,
  type ResourceType,
} from '../../src/kube/index.ts';
import {
  inClusterProvider,
  poolTypes,
  type InClusterProviderOptions,
} from '../../src/providers/in-cluster/provider.ts';
import type { ControllerSetup, Manager } from '../../src/runtime/index.ts';
import type { PoolObject } from '../../src/providers/in-cluster/pools.ts';
import { testKubeconfig } from '../support/cluster.ts';
import { startTestManager, type TestManager } from '../support/manager.ts';
import { waitFor } from '../support/wait.ts';

export {
  GlobalInClusterIPPools,
  IPAddressClaims,
  IPAddresses,
  IPAddressLedgers,
  IPAddressReservations,
  InClusterIPPools,
};

export const suffix = (): string => randomBytes(3).toString('hex');

export interface Harness {
  client: KubeClient;
  manager: TestManager;
  stop(): Promise<void>;
}

export interface InClusterOptions {
  workers?: number;
  provider?: InClusterProviderOptions;
  /** Options of the IPAddressClaim controller. */
  claims?: IPAddressClaimControllerOptions;
  /** Run before the provider is made (e.g. to wrap the manager's client, or to capture the manager). */
  before?: ControllerSetup[];
  /** Run after the controllers are set up (e.g. the webhook). */
  after?: ControllerSetup[];
  /** Another control plane than the shared test one. */
  kubeconfig?: string;
}

/**
 * A setup that makes the manager's informer of `type` lag behind for some objects: for a key (namespace/name) in
 * `stale`, `get` answers the object kept there (undefined: not seen yet) instead of what the informer has.
 */
export function laggingCache<T extends KubeObject>(
  type: ResourceType<T>,
  stale: Map<string, T | undefined>,
): ControllerSetup {
  return {
    name: `lagging-${type.plural}-cache`,
    setup(mgr: Manager) {
      const informer = mgr.informer(type);
      const get = informer.get.bind(informer);
      informer.get = ((key: Parameters<typeof get>[0]) => {
        const k = typeof key === 'string' ? key : `${key.namespace}/${key.name}`;
        return stale.has(k) ? stale.get(k) : get(key);
      }) as typeof informer.get;
    },
  };
}

export async function startInCluster(opts: InClusterOptions = {}): Promise<Harness> {
  const configure = {
    name: 'in-cluster-options',
    setup: (mgr: Manager) => void inClusterProvider(mgr, opts.provider ?? {}),
  };
  const setups = [
    ...(opts.before ?? []),
    configure,
    ipAddressClaimController(opts.claims),
    inClusterPoolController(),
    ...(opts.after ?? []),
  ];
  const kubeconfig = opts.kubeconfig ?? (await testKubeconfig());
  const manager = await startTestManager(setups, { workers: opts.workers, kubeconfig });
  const client = KubeClient.load({ kubeconfig });
  return {
    client,
    manager,
    async stop() {
      await manager.stop();
      client.close();
    },
  };
}

export async function createPool(
  client: KubeClient,
  namespace: string | undefined,
  name: string,
  spec: InClusterIPPoolSpec,
  annotations?: Record<string, string>,
): Promise<PoolObject> {
  const global = namespace === undefined;
  const type = poolTypes[global ? 'GlobalInClusterIPPool' : 'InClusterIPPool'];
  return client.resource(type).create({
    apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
    kind: global ? 'GlobalInClusterIPPool' : 'InClusterIPPool',
    metadata: { name, ...(global ? {} : { namespace }), ...(annotations ? { annotations } : {}) },
    spec,
  });
}

export function claimObject(
  namespace: string,
  name: string,
  pool: string,
  kind = 'InClusterIPPool',
  extra: { labels?: Record<string, string>; annotations?: Record<string, string>; clusterName?: string } = {},
): IPAddressClaim {
  return {
    apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
    kind: 'IPAddressClaim',
    metadata: {
      name,
      namespace,
      ...(extra.labels ? { labels: extra.labels } : {}),
      ...(extra.annotations ? { annotations: extra.annotations } : {}),
    },
    spec: {
      poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind, name: pool },
      ...(extra.clusterName ? { clusterName: extra.clusterName } : {}),
    },
  };
}

export async function createClaim(
  client: KubeClient,
  namespace: string,
  name: string,
  pool: string,
  kind = 'InClusterIPPool',
  extra: Parameters<typeof claimObject>[4] = {},
): Promise<IPAddressClaim> {
  return client.resource(IPAddressClaims).create(claimObject(namespace, name, pool, kind, extra));
}

export async function getOrUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The claim's IPAddress once the claim reports it (Ready and addressRef). */
export async function waitForAddress(
  client: KubeClient,
  namespace: string,
  name: string,
  timeoutMs = 30_000,
): Promise<IPAddress> {
  return waitFor(
    async (note) => {
      const claim = await client.resource(IPAddressClaims).get({ namespace, name });
      note(claim.status);
      if (claim.status?.addressRef?.name !== name || readyOf(claim)?.status !== 'True') return undefined;
      return client.resource(IPAddresses).get({ namespace, name });
    },
    { timeoutMs, what: `an IPAddress for claim ${namespace}/${name}` },
  );
}

export function readyOf(obj: { status?: { conditions?: readonly Condition[] } }): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === 'Ready');
}

export function conditionOf(obj: { status?: { conditions?: readonly Condition[] } }, type: string) {
  return obj.status?.conditions?.find((c) => c.type === type);
}

/** The claim once its Ready condition has `reason`. */
export async function waitForReason(
  client: KubeClient,
  namespace: string,
  name: string,
  reason: string,
): Promise<IPAddressClaim> {
  return waitFor(
    async (note) => {
      const claim = await client.resource(IPAddressClaims).get({ namespace, name });
      note(readyOf(claim) ?? 'no Ready condition');
      return readyOf(claim)?.reason === reason ? claim : undefined;
    },
    { what: `claim ${namespace}/${name} to report ${reason}` },
  );
}

export async function waitGone(read: () => Promise<unknown>, what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => (await getOrUndefined(read())) === undefined, { what: `${what} to be gone`, timeoutMs });
}

/** A ledger entry as the tests read it: with its address, domain and ledger's name. */
export interface LedgerEntryView extends IPAddressLedgerEntry {
  address: string;
  domain: string;
  ledger: string;
}

/** Every entry of every IPAddressLedger, as the API server holds them. */
export async function ledgerEntries(client: KubeClient): Promise<LedgerEntryView[]> {
  const { items } = await client.resource(IPAddressLedgers).listAll();
  return items.flatMap((l) =>
    Object.entries(l.spec.entries ?? {}).map(([address, e]) => ({
      ...e,
      address,
      domain: l.spec.domain,
      ledger: l.metadata.name ?? '',
    })),
  );
}

/** The ledger entries of a namespaced pool (pool names repeat across test files and namespaces). */
export async function entriesOfPool(
  client: KubeClient,
  namespace: string,
  poolName: string,
): Promise<LedgerEntryView[]> {
  return (await ledgerEntries(client)).filter((e) => e.poolRef.namespace === namespace && e.poolRef.name === poolName);
}

/**
 * Waits until no ledger entry of the pool is left but those of claims whose IPAddress carries the entry's address
 * (in flight until the next ledger write drops them): what a losing replica or a lost answer took went back.
 * Awaited, never read once: a replica whose caches lag may still be writing after every IPAddress exists.
 */
export async function entriesSettle(
  client: KubeClient,
  namespace: string,
  poolName: string,
  ipAddresses: readonly IPAddress[],
  timeoutMs?: number,
): Promise<void> {
  await waitFor(
    async (note) => {
      const held = await entriesOfPool(client, namespace, poolName);
      const stray = held.filter(
        (e) =>
          e.releasedAt !== undefined ||
          ipAddresses.find((i) => i.metadata.name === e.claimRef.name)?.spec.address !== e.address,
      );
      note({ entries: held.length, stray: stray.map((e) => `${e.claimRef.name}: ${e.address}`) });
      return stray.length === 0;
    },
    { timeoutMs, intervalMs: 500, what: 'no ledger entry left but those of claims whose IPAddress carries it' },
  );
}

/**
 * The IPAddressLedger of namespace `ns`'s domain holding addresses of the InClusterIPPool `pool` for the claims given
 * (address → [claim name, claim uid]), as the provider would have written it.
 */
export function ledgerOf(ns: string, pool: string, held: Record<string, [string, string]>): IPAddressLedger {
  return {
    apiVersion: 'ipam.k0rdent.mirantis.com/v1alpha1',
    kind: 'IPAddressLedger',
    metadata: { name: `ns.${ns}` },
    spec: {
      domain: `namespace/${ns}`,
      entries: Object.fromEntries(
        Object.entries(held).map(([address, [name, uid]]) => [
          address,
          {
            poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', namespace: ns, name: pool },
            claimRef: { namespace: ns, name, uid },
          },
        ]),
      ),
    },
  };
}

/** The ledger entry of an address in a domain (`namespace/<ns>`, `global`, ...), if any. */
export async function entryAt(
  client: KubeClient,
  domain: string,
  address: string,
): Promise<LedgerEntryView | undefined> {
  return (await ledgerEntries(client)).find((e) => e.domain === domain && e.address === address);
}

/** The reservations (of an older release) of a namespaced pool (test files share the control plane, and pool names). */
export async function reservationsOfPool(
  client: KubeClient,
  namespace: string,
  poolName: string,
): Promise<IPAddressReservation[]> {
  const { items } = await client.resource(IPAddressReservations).listAll();
  return items.filter((r) => r.spec.poolRef.namespace === namespace && r.spec.poolRef.name === poolName);
}

export async function eventsFor(client: KubeClient, namespace: string, name: string): Promise<CoreEvent[]> {
  const { items } = await client.resource(Events).listAll({ namespace });
  return items.filter((e) => e.involvedObject.name === name);
}

/** An InClusterIPPool manifest for kubectl, labelled (tests' webhooks select their pools by label). */
export function labelledPoolYaml(
  ns: string,
  name: string,
  addresses: string[],
  labels: Record<string, string>,
  extra = '',
): string {
  return [
    'apiVersion: ipam.cluster.x-k8s.io/v1alpha2',
    'kind: InClusterIPPool',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${ns}`,
    `  labels: ${JSON.stringify(labels)}`,
    extra,
    'spec:',
    `  addresses: ${JSON.stringify(addresses)}`,
    '  prefix: 24',
    '',
  ].join('\n');
}

/**
 * A setup (for `before`) that makes the manager's client of `type` the one `wrap` returns, to inject faults or hold a
 * race open; the provider takes its clients after it. `wrap` gets the real client.
 */
export function wrapClient<T extends KubeObject>(
  type: ResourceType<T>,
  wrap: (real: ResourceClient<T>, wrapped: ResourceClient<T>) => void,
): ControllerSetup {
  return {
    name: `wrap-${type.plural}`,
    setup(mgr: Manager) {
      const client = mgr.client;
      const resource = client.resource.bind(client);
      client.resource = ((t: ResourceType<KubeObject>) => {
        const real = resource(t);
        if (t !== (type as unknown)) return real;
        const wrapped = Object.create(real) as ResourceClient<T>;
        wrap(real as unknown as ResourceClient<T>, wrapped);
        return wrapped;
      }) as typeof client.resource;
    },
  };
}

/** A loopback port free now (for flags that need a port known in advance). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
