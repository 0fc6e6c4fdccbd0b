// The manager on a management cluster without Infoblox, k0rdent's ClusterDeployment or Cluster API: it becomes ready,
// serves in-cluster claims, says once per absent kind that it is waiting for it, and follows each kind as soon as
// its CRD is installed, without a restart. A private control plane: the test deletes and installs CRDs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import {
  ClusterDeployments,
  ClusterIPAMClaims,
  IPAddressClaims,
  InfobloxIPPools,
  clusterDeploymentKind,
  infobloxInstanceKind,
  infobloxIPPoolKind,
  kinds,
  toCRD,
  type ClusterDeployment,
  type InfobloxIPPool,
  type KindDescriptor,
} from '../../src/api/index.ts';
import { startManager } from '../../src/cli/run.ts';
import { controllers } from '../../src/controllers/index.ts';
import { loadClusterAccess, type ClusterAccess } from '../../src/kube/config.ts';
import {
  CustomResourceDefinitions,
  KubeClient,
  Namespaces,
  resourceType,
  type CustomResourceDefinition,
  type KubeObject,
} from '../../src/kube/index.ts';
import { startControlPlane, type ControlPlane } from '../../src/local/controlplane.ts';
import { installCRDs } from '../../src/local/install.ts';
import { ClusterLookup, ClusterUnreadableError } from '../../src/providers/clusters.ts';
import { crdServes, Manager, type ControllerSetup } from '../../src/runtime/index.ts';
import { waitFor } from '../support/wait.ts';
import {
  IPAddresses,
  conditionOf,
  createClaim,
  createPool,
  getOrUndefined,
  readyOf,
  waitForAddress,
} from './in-cluster-support.ts';

// The kinds of components a management cluster may lack: Infoblox's provider, k0rdent.
const optionalKinds: readonly KindDescriptor[] = [infobloxIPPoolKind, infobloxInstanceKind, clusterDeploymentKind];

// Cluster API before v1.11 serves Cluster at v1beta1 only: the lookup must find it there.
const clusterCRD: CustomResourceDefinition = {
  metadata: { name: 'clusters.cluster.x-k8s.io' },
  spec: {
    group: 'cluster.x-k8s.io',
    scope: 'Namespaced',
    names: { plural: 'clusters', singular: 'cluster', kind: 'Cluster', listKind: 'ClusterList' },
    versions: [
      {
        name: 'v1beta1',
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      },
    ],
  },
};
const ClustersV1beta1 = resourceType<KubeObject & { spec?: { paused?: boolean } }>({
  group: 'cluster.x-k8s.io',
  version: 'v1beta1',
  kind: 'Cluster',
  plural: 'clusters',
  namespaced: true,
});

let cp: ControlPlane;
let client: KubeClient;
let mgr: Manager;
let health: string;
const stop = new AbortController();
let running: Promise<void>;
const logs: { level: number; msg: string }[] = [];
const signal = new AbortController().signal;

const readyz = async (): Promise<number> => (await fetch(`http://${health}/readyz`)).status;
const messages = (text: string): number => logs.filter((l) => l.msg === text).length;

async function namespace(name: string): Promise<string> {
  await client.resource(Namespaces).create({ metadata: { name } });
  return name;
}

async function established(name: string): Promise<void> {
  await waitFor(
    async () =>
      (await client.resource(CustomResourceDefinitions).get({ name })).status?.conditions?.some(
        (c) => c.type === 'Established' && c.status === 'True',
      ),
    { what: `CRD ${name} established` },
  );
}

before(async () => {
  cp = await startControlPlane({ gc: false });
  client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
  const crds = client.resource(CustomResourceDefinitions);
  for (const kind of kinds.filter((k) => !optionalKinds.includes(k))) {
    await crds.apply(toCRD(kind) as CustomResourceDefinition, { force: true });
    await established(`${kind.plural}.${kind.group}`);
  }

  const logger = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  let setUp!: (m: Manager) => void;
  const captured = new Promise<Manager>((resolve) => (setUp = resolve));
  const probe: ControllerSetup = { name: 'probe', setup: setUp };
  running = startManager(
    {
      kubeconfig: cp.kubeconfigPath,
      namespace: 'default',
      leaderElect: false,
      leaderElectionId: 'optional-kinds',
      metricsBindAddress: '0',
      healthProbeBindAddress: '127.0.0.1:0',
      workers: 2,
      logLevel: 'info',
      logger,
    },
    [...controllers, probe],
    stop.signal,
  );
  running.catch(() => {});
  mgr = await Promise.race([captured, running.then(() => Promise.reject(new Error('the manager stopped')))]);
  health = (await mgr.serving).health!;
});

after(async () => {
  stop.abort();
  await running;
  client?.close();
  await cp?.stop();
  const problems = logs.filter((l) => l.level >= 50);
  if (problems.length) console.log(`# manager errors:\n${problems.map((l) => JSON.stringify(l)).join('\n')}`);
});

describe('optional kinds', () => {
  let ns: string;

  it('becomes ready without the Infoblox and ClusterDeployment CRDs, saying so once per kind', async () => {
    await waitFor(async () => (await readyz()) === 200, { what: '/readyz 200', timeoutMs: 30_000 });
    for (const title of [
      'InfobloxIPPool (ipam.cluster.x-k8s.io/v1alpha1)',
      'InfobloxInstance (ipam.cluster.x-k8s.io/v1alpha1)',
      'ClusterDeployment (k0rdent.mirantis.com/v1beta1)',
    ]) {
      assert.equal(messages(`${title} is not served; following it once its CRD is installed`), 1, title);
    }
  });

  it('serves in-cluster IPAddressClaims (of a Cluster, with Cluster API absent) and ClusterIPAMClaims', async () => {
    ns = await namespace('optional-kinds');
    await createPool(client, ns, 'pool', { addresses: ['10.77.0.10-10.77.0.20'], prefix: 24, gateway: '10.77.0.1' });
    await createClaim(client, ns, 'machine-0', 'pool', 'InClusterIPPool', { clusterName: 'prod' });
    const ipa = await waitForAddress(client, ns, 'machine-0');
    assert.equal(ipa.spec.address, '10.77.0.10');
    assert.equal(await new ClusterLookup(mgr, () => {}).get(ns, 'prod', signal), undefined);

    // The ClusterIPAMClaim controller watches InfobloxIPPools and ClusterDeployments: it runs all the same.
    await client.resource(ClusterIPAMClaims).create({
      apiVersion: 'k0rdent.mirantis.com/v1beta1',
      kind: 'ClusterIPAMClaim',
      metadata: { namespace: ns, name: 'dev-ipam' },
      spec: { provider: 'in-cluster', nodeNetwork: { cidr: '10.78.0.0/25', prefix: 24, gateway: '10.78.0.1' } },
    });
    await waitFor(
      async () =>
        readyOf(await client.resource(ClusterIPAMClaims).get({ namespace: ns, name: 'dev-ipam' }))?.status === 'True',
      { what: 'the ClusterIPAMClaim bound' },
    );
  });

  it('follows the Infoblox and ClusterDeployment kinds once their CRDs are installed', async () => {
    await installCRDs(client);
    const pool: InfobloxIPPool = {
      apiVersion: infobloxIPPoolKind.apiVersion,
      kind: 'InfobloxIPPool',
      metadata: { namespace: ns, name: 'edge' },
      spec: {
        instance: { name: 'infoblox-dc1' },
        subnets: [{ cidr: '203.0.113.0/25', gateway: '203.0.113.1' }],
        networkView: 'default',
      },
    };
    await client.resource(InfobloxIPPools).create(pool);
    await waitFor(() => mgr.informer(InfobloxIPPools).get(`${ns}/edge`), { what: 'the pool in the cache' });

    // A ClusterDeployment made now is reconciled: the controller says its claim is missing.
    const deployment: ClusterDeployment = {
      apiVersion: 'k0rdent.mirantis.com/v1beta1',
      kind: 'ClusterDeployment',
      metadata: { namespace: ns, name: 'dev-1' },
      spec: { template: 'vsphere-standalone', ipamClaim: { ref: 'no-such-claim' } },
    };
    await client.resource(ClusterDeployments).create(deployment);
    const gate = await waitFor(
      async () =>
        (await client.resource(ClusterDeployments).get({ namespace: ns, name: 'dev-1' })).status?.conditions?.find(
          (c) => c.type === 'IPAMReady',
        ),
      { what: 'IPAMReady on the ClusterDeployment' },
    );
    assert.equal(gate.status, 'False');
    assert.equal(gate.reason, 'ClaimNotFound');
    assert.equal(messages('ClusterDeployment (k0rdent.mirantis.com/v1beta1) is served now; following it'), 1);
    assert.equal(await readyz(), 200);
  });

  it('Cluster API installed later: a paused Cluster holds its claims; an unreadable one is an error, not "unpaused"', async () => {
    await client.resource(CustomResourceDefinitions).create(clusterCRD);
    await established(clusterCRD.metadata.name!);
    assert.ok(
      crdServes(
        await client.resource(CustomResourceDefinitions).get({ name: clusterCRD.metadata.name! }),
        ClustersV1beta1,
      ),
    );
    await client
      .resource(ClustersV1beta1)
      .create({ metadata: { namespace: ns, name: 'prod' }, spec: { paused: true } });

    const lookup = new ClusterLookup(mgr, () => {});
    assert.equal((await lookup.get(ns, 'prod', signal))?.spec?.paused, true, 'found at v1beta1');
    assert.equal(await lookup.get(ns, 'staging', signal), undefined, 'a Cluster that does not exist pauses nothing');
    await createClaim(client, ns, 'machine-1', 'pool', 'InClusterIPPool', { clusterName: 'prod' });
    const held = await waitFor(
      async () => {
        const claim = await client.resource(IPAddressClaims).get({ namespace: ns, name: 'machine-1' });
        return conditionOf(claim, 'Paused')?.status === 'True' ? claim : undefined;
      },
      { what: 'machine-1 to report Paused' },
    );
    assert.match(conditionOf(held, 'Paused')!.message, /Cluster prod is paused/);
    assert.equal(
      await getOrUndefined(client.resource(IPAddresses).get({ namespace: ns, name: 'machine-1' })),
      undefined,
    );

    // Someone without access to Clusters: the answer is 403, so whether it is paused is unknown.
    const base = loadClusterAccess(cp.kubeconfigPath);
    const nobody: ClusterAccess = {
      server: base.server,
      namespace: base.namespace,
      connection: async () => {
        const conn = await base.connection();
        return { ...conn, headers: { ...conn.headers, 'Impersonate-User': 'nobody' } };
      },
      invalidate: () => base.invalidate(),
      close: () => base.close(),
    };
    const forbidden = new Manager({ client: new KubeClient(nobody) });
    try {
      const err = await new ClusterLookup(forbidden, () => {}).get(ns, 'prod', signal).catch((e: unknown) => e);
      assert.ok(err instanceof ClusterUnreadableError, String(err));
      assert.match(
        err.message,
        new RegExp(`^cannot read Cluster ${ns}/prod to tell whether it is paused: .*forbidden`),
      );
    } finally {
      base.close();
    }
  });
});
