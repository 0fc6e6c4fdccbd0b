// The manager on a management cluster that has what a real one has (docs/install.md, "What the manager discovers at
// start"): Cluster API 1.10's IPAM CRDs (v1beta1 only, ../shared/fixtures/capi-v1.10.4) and kcm's CRDs
// (../shared/fixtures/kcm) installed instead of this project's, and a reference provider's Lease. A private control
// plane: these CRDs replace ours, and kcm's would turn the workflow off for every other test file.
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { kinds, toCRD } from '../../src/api/index.ts';
import { startManager, type StartOptions } from '../../src/cli/run.ts';
import { ipamReadyFieldManager } from '../../src/controllers/clusterdeployment.ts';
import { controllers } from '../../src/controllers/index.ts';
import {
  CustomResourceDefinitions,
  Events,
  KubeClient,
  Leases,
  Namespaces,
  resourceType,
  type CustomResourceDefinition,
  type KubeObject,
} from '../../src/kube/index.ts';
import { startControlPlane, type ControlPlane } from '../../src/local/controlplane.ts';
import { readManifests, yamlFilesIn } from '../../src/local/install.ts';
import { createLogger, microTime, type ControllerSetup } from '../../src/runtime/index.ts';
import { waitFor } from '../support/wait.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = process.env.CLUSTER_IPAM_FIXTURES ?? join(repo, 'test/fixtures/neighbours');

type Obj = KubeObject & { spec?: any; status?: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
type Cond = { type: string };
// What a v1beta1 client (Cluster API 1.10, an infrastructure provider) reads and writes: no conversion.
const raw = (group: string, version: string, kind: string, plural: string) =>
  resourceType<Obj>({ group, version, kind, plural, namespaced: true });
const ClaimsV1beta1 = raw('ipam.cluster.x-k8s.io', 'v1beta1', 'IPAddressClaim', 'ipaddressclaims');
const AddressesV1beta1 = raw('ipam.cluster.x-k8s.io', 'v1beta1', 'IPAddress', 'ipaddresses');
const Pools = raw('ipam.cluster.x-k8s.io', 'v1alpha2', 'InClusterIPPool', 'inclusterippools');
const KcmDeployments = raw('k0rdent.mirantis.com', 'v1beta1', 'ClusterDeployment', 'clusterdeployments');
const KcmClaims = raw('k0rdent.mirantis.com', 'v1beta1', 'ClusterIPAMClaim', 'clusteripamclaims');
const KcmIPAMs = raw('k0rdent.mirantis.com', 'v1beta1', 'ClusterIPAM', 'clusteripams');

let cp: ControlPlane;
let client: KubeClient;

/** Our CRDs but Cluster API's and kcm's kinds, and theirs from the fixtures; every one Established. */
async function installCRDs(kubeconfig: string): Promise<void> {
  const c = KubeClient.load({ kubeconfig });
  try {
    const crds = c.resource(CustomResourceDefinitions);
    const theirs = (await readManifests([
      ...(await yamlFilesIn(join(fixtures, 'capi-v1.10.4'))),
      ...(await yamlFilesIn(join(fixtures, 'kcm'))),
    ])) as CustomResourceDefinition[];
    const taken = new Set(theirs.map((crd) => crd.metadata.name));
    const ours = kinds.map((k) => toCRD(k) as CustomResourceDefinition).filter((crd) => !taken.has(crd.metadata.name));
    for (const crd of [...ours, ...theirs]) await crds.apply(crd, { force: true });
    for (const crd of [...ours, ...theirs]) {
      await waitFor(
        async () =>
          (await crds.get({ name: crd.metadata.name! })).status?.conditions?.some(
            (x) => x.type === 'Established' && x.status === 'True',
          ),
        { what: `CRD ${crd.metadata.name} Established` },
      );
    }
  } finally {
    c.close();
  }
}

interface Run {
  logs: string[];
  /** Settles when the manager stops by itself (or is stopped). */
  done: Promise<void>;
  stop(): Promise<void>;
}

async function run(opts: Partial<StartOptions> = {}, setups: readonly ControllerSetup[] = controllers): Promise<Run> {
  const logs: string[] = [];
  const abort = new AbortController();
  const done = startManager(
    {
      kubeconfig: cp.kubeconfigPath,
      namespace: 'default',
      leaderElect: false,
      leaderElectionId: 'cluster-ipam-test',
      metricsBindAddress: '0',
      healthProbeBindAddress: '0',
      workers: 2,
      logLevel: 'info',
      logger: createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(line) } }),
      ...opts,
    },
    setups,
    abort.signal,
  );
  done.catch(() => {});
  await Promise.race([
    done,
    waitFor(() => logs.some((l) => /"msg":"starting"/.test(l)), { what: 'the manager to start' }),
  ]);
  return {
    logs,
    done,
    async stop() {
      abort.abort();
      await done;
    },
  };
}

async function namespace(name: string): Promise<string> {
  await client.resource(Namespaces).create({ metadata: { name } });
  return name;
}

async function pool(ns: string, name: string, addresses: string): Promise<void> {
  await client.resource(Pools).create({
    apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
    kind: 'InClusterIPPool',
    metadata: { name, namespace: ns },
    spec: { addresses: [addresses], prefix: 24, gateway: '10.9.0.1' },
  });
}

async function claimV1beta1(ns: string, name: string, poolName: string): Promise<void> {
  await client.resource(ClaimsV1beta1).create({
    apiVersion: 'ipam.cluster.x-k8s.io/v1beta1',
    kind: 'IPAddressClaim',
    metadata: { name, namespace: ns },
    spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: poolName } },
  });
}

describe('coexistence: Cluster API 1.10, kcm and a reference provider', () => {
  before(async () => {
    cp = await startControlPlane({ beforeControllerManager: installCRDs });
    client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
  });
  after(async () => {
    client?.close();
    await cp?.stop();
  });

  it('speaks v1beta1 to Cluster API 1.10 CRDs: a claim gets its IPAddress, Ready in the shape the CRD accepts', async () => {
    const m = await run();
    try {
      const ns = await namespace('capi-v110');
      await pool(ns, 'nodes', '10.9.0.10-10.9.0.20');
      await claimV1beta1(ns, 'm-0', 'nodes');
      const claim = await waitFor(
        async () => {
          const c = await client.resource(ClaimsV1beta1).get({ namespace: ns, name: 'm-0' });
          return c.status?.addressRef?.name === 'm-0' && c;
        },
        { what: 'the claim to name its IPAddress' },
      );
      // The older condition shape under status.conditions (what v1beta1 readers see), metav1 under status.v1beta2.
      const older = claim.status.conditions.find((c: Cond) => c.type === 'Ready');
      assert.deepEqual(Object.keys(older).sort(), ['lastTransitionTime', 'message', 'reason', 'status', 'type']);
      assert.equal(older.status, 'True');
      assert.equal(older.reason, 'AddressAllocated');
      const newer = claim.status.v1beta2.conditions.find((c: Cond) => c.type === 'Ready');
      assert.equal(newer.status, 'True');
      assert.equal(newer.observedGeneration, 1);
      assert.deepEqual(claim.metadata.finalizers, ['ipam.cluster.x-k8s.io/ReleaseAddress']);

      const address = await client.resource(AddressesV1beta1).get({ namespace: ns, name: 'm-0' });
      assert.equal(address.apiVersion, 'ipam.cluster.x-k8s.io/v1beta1');
      assert.deepEqual(address.spec, {
        address: '10.9.0.10',
        prefix: 24,
        gateway: '10.9.0.1',
        claimRef: { name: 'm-0' },
        poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'nodes' },
      });
      // Owner references name the version served, so the garbage collector resolves them.
      const owner = address.metadata.ownerReferences?.find((r) => r.controller);
      assert.deepEqual(
        [owner?.apiVersion, owner?.kind, owner?.uid],
        ['ipam.cluster.x-k8s.io/v1beta1', 'IPAddressClaim', claim.metadata.uid],
      );
      assert.ok(m.logs.some((l) => /"version":"v1beta1".*Cluster API ≤ 1\.10/.test(l)));

      // A failure is written in the older shape too: Warning severity, the reason, the message.
      await claimV1beta1(ns, 'm-1', 'missing');
      const failed = await waitFor(
        async () =>
          (await client.resource(ClaimsV1beta1).get({ namespace: ns, name: 'm-1' })).status?.conditions?.find(
            (c: Cond) => c.type === 'Ready',
          ),
        { what: 'm-1 to report why it has no address' },
      );
      assert.deepEqual([failed.status, failed.severity, failed.reason], ['False', 'Warning', 'PoolNotReady']);

      // Release on deletion goes through the same conversion.
      await client.resource(ClaimsV1beta1).delete({ namespace: ns, name: 'm-0' });
      await waitFor(async () => (await client.resource(AddressesV1beta1).list({ namespace: ns })).items.length === 0, {
        what: 'the IPAddress to go with its claim',
      });
    } finally {
      await m.stop();
    }
  });

  it("next to kcm's CRDs the workflow controllers stay off, and the provider serves", async () => {
    const m = await run();
    try {
      const off = m.logs.filter((l) => /controller not started/.test(l)).map((l) => JSON.parse(l).controller);
      assert.deepEqual(off.sort(), ['clusterdeployment-ipam', 'clusteripam', 'clusteripamclaim']);
      assert.ok(
        m.logs.some((l) => /kcm detected: .*clusteripams\.k0rdent\.mirantis\.com is not this project's/.test(l)),
      );
      const ns = await namespace('kcm-auto');
      await client.resource(KcmClaims).create({
        apiVersion: 'k0rdent.mirantis.com/v1beta1',
        kind: 'ClusterIPAMClaim',
        metadata: { name: 'untouched', namespace: ns },
        spec: { provider: 'in-cluster', nodeNetwork: { cidr: '10.8.0.0/24' } },
      });
      await pool(ns, 'kcm-made', '10.9.1.10-10.9.1.20');
      await claimV1beta1(ns, 'm-0', 'kcm-made');
      await waitFor(async () => (await client.resource(AddressesV1beta1).list({ namespace: ns })).items.length === 1, {
        what: 'the machine address',
      });
      // Nothing of this manager touched kcm's claim.
      const claim = await client.resource(KcmClaims).get({ namespace: ns, name: 'untouched' });
      assert.equal(claim.status, undefined);
      assert.deepEqual(claim.metadata.finalizers ?? [], []);
    } finally {
      await m.stop();
    }
  });

  it("with --kcm=absent the workflow runs on kcm's CRDs: kcm's claim field, and kcm's status survives", async () => {
    const ns = await namespace('kcm-absent');
    await client.resource(KcmClaims).create({
      apiVersion: 'k0rdent.mirantis.com/v1beta1',
      kind: 'ClusterIPAMClaim',
      metadata: { name: 'dev-ipam', namespace: ns },
      spec: { provider: 'in-cluster', cluster: 'dev', nodeNetwork: { cidr: '10.7.0.0/24', gateway: '10.7.0.1' } },
    });
    const created = await client.resource(KcmDeployments).create({
      apiVersion: 'k0rdent.mirantis.com/v1beta1',
      kind: 'ClusterDeployment',
      metadata: { name: 'dev', namespace: ns },
      spec: {
        template: 'vsphere-standalone-cp-1-0-0',
        credential: 'vsphere-cred',
        propagateCredentials: true,
        ipamClaim: { ref: 'dev-ipam' },
        config: { controlPlaneNumber: 1, workersNumber: 1 },
      },
    });
    // kcm's own status, as its controller manager writes it.
    const kcmStatus = {
      k8sVersion: 'v1.31.1+k0s.0',
      region: 'eu-1',
      observedGeneration: created.metadata.generation,
      services: [
        {
          name: 'ingress',
          namespace: 'ingress-nginx',
          template: 'ingress-nginx-4-11-3',
          type: 'Helm',
          state: 'Provisioning',
          lastStateTransitionTime: '2025-01-01T00:00:00Z',
        },
      ],
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'Provisioning',
          message: 'kcm is provisioning',
          lastTransitionTime: '2025-01-01T00:00:00Z',
          observedGeneration: created.metadata.generation,
        },
      ],
    };
    await client
      .resource(KcmDeployments)
      .patchStatus({ namespace: ns, name: 'dev' }, { status: kcmStatus }, { fieldManager: 'kcm-controller-manager' });

    const m = await run({ kcm: 'absent' });
    try {
      assert.ok(!m.logs.some((l) => /controller not started/.test(l)));
      assert.ok(m.logs.some((l) => /--kcm=absent \(overriding: /.test(l)));
      const deployment = await waitFor(
        async () => {
          const d = await client.resource(KcmDeployments).get({ namespace: ns, name: 'dev' });
          return d.status?.conditions?.find((c: Cond) => c.type === 'IPAMReady')?.status === 'True' && d;
        },
        { what: 'IPAMReady on the ClusterDeployment', timeoutMs: 60_000 },
      );
      // kcm's ClusterIPAM CRD has clusterIPAMClaimRef: that is the field written.
      const cipam = await client.resource(KcmIPAMs).get({ namespace: ns, name: 'dev-ipam' });
      assert.deepEqual(cipam.spec, { provider: 'in-cluster', clusterIPAMClaimRef: 'dev-ipam' });
      assert.equal(deployment.spec.config.ipamEnabled, true);
      assert.equal(deployment.spec.propagateCredentials, true);

      // kcm's status fields are as kcm wrote them; IPAMReady is the only thing added.
      const { conditions, ...rest } = deployment.status;
      const { conditions: kcmConditions, ...kcmRest } = kcmStatus;
      assert.deepEqual(rest, kcmRest);
      assert.deepEqual(
        conditions.filter((c: Cond) => c.type !== 'IPAMReady'),
        kcmConditions,
      );
      const ours = (
        deployment.metadata.managedFields as { manager: string; subresource?: string; fieldsV1: unknown }[]
      ).filter((f) => f.subresource === 'status' && f.manager.startsWith('cluster-ipam'));
      assert.deepEqual(
        ours.map((f) => f.manager),
        [ipamReadyFieldManager],
      );
      assert.deepEqual(ours[0]!.fieldsV1, {
        'f:status': { 'f:conditions': { 'k:{"type":"IPAMReady"}': expect(ours[0]!.fieldsV1) } },
      });

      // Removing the IPAM attachment removes IPAMReady alone.
      const live = await client.resource(KcmDeployments).get({ namespace: ns, name: 'dev' });
      delete live.spec.ipamClaim;
      await client.resource(KcmDeployments).update(live);
      const after = await waitFor(
        async () => {
          const d = await client.resource(KcmDeployments).get({ namespace: ns, name: 'dev' });
          return !d.status.conditions.some((c: Cond) => c.type === 'IPAMReady') && d;
        },
        { what: 'IPAMReady to be removed' },
      );
      const { conditions: left, ...restAfter } = after.status;
      assert.deepEqual(restAfter, kcmRest);
      assert.deepEqual(left, kcmConditions);
    } finally {
      await m.stop();
    }
  });

  it('stops to start anew when a reference provider starts while it runs (--rediscovery-interval)', async () => {
    const m = await run({ rediscoveryIntervalMs: 200 });
    const leaseNs = await namespace('capi-ipam-in-cluster-system');
    const now = microTime(Date.now());
    // A reference in-cluster provider's leader election Lease: its holder is one of its Deployment's pods.
    await client.resource(Leases).create({
      metadata: { name: 'reference-leader-election', namespace: leaseNs },
      spec: {
        holderIdentity: 'capi-ipam-in-cluster-controller-manager-6d4b9c7f8-x2x9q_0b3c5e4a-1d2f-4c1b-9a7e-3f2d1c0b9a8e',
        leaseDurationSeconds: 15,
        acquireTime: now,
        renewTime: now,
      },
    });
    await assert.rejects(m.done, (err: Error) => {
      assert.equal(err.name, 'DiscoveryChangedError');
      assert.match(err.message, /reference in-cluster IPAM provider .* started \(Lease capi-ipam-in-cluster-system\//);
      return true;
    });
  });

  it("refuses in-cluster pools while the reference provider's Lease is held, saying why; takes over when told", async () => {
    const ns = await namespace('reference');
    await pool(ns, 'theirs', '10.9.2.10-10.9.2.20');
    await claimV1beta1(ns, 'm-0', 'theirs');

    const refusing = await run();
    try {
      const event = await waitFor(
        async () =>
          (await client.resource(Events).list({ namespace: ns })).items.find(
            (e) => e.reason === 'ReferenceProviderRunning' && e.involvedObject.name === 'theirs',
          ),
        { what: 'the pool to say why it is not served' },
      );
      assert.equal(event.type, 'Warning');
      assert.match(
        event.message!,
        /reference in-cluster IPAM provider .* is running \(Lease capi-ipam-in-cluster-system\//,
      );
      assert.match(event.message!, /--take-over-from-reference-providers/);
      assert.ok(refusing.logs.some((l) => /"level":"error".*reference in-cluster IPAM provider/.test(l)));
      const off = refusing.logs.filter((l) => /controller not started/.test(l)).map((l) => JSON.parse(l).controller);
      assert.ok(off.includes('inclusterippool'), off.join(', '));
      // The claim and the pool are left to the reference provider: no finalizer, no status, no address.
      const claim = await client.resource(ClaimsV1beta1).get({ namespace: ns, name: 'm-0' });
      assert.equal(claim.status, undefined);
      assert.equal(claim.metadata.finalizers, undefined);
      const p = await client.resource(Pools).get({ namespace: ns, name: 'theirs' });
      assert.equal(p.status, undefined);
      assert.equal(p.metadata.finalizers, undefined);
      assert.equal((await client.resource(AddressesV1beta1).list({ namespace: ns })).items.length, 0);
    } finally {
      await refusing.stop();
    }

    const taking = await run({ takeOverFromReferenceProviders: true });
    try {
      await waitFor(async () => (await client.resource(AddressesV1beta1).list({ namespace: ns })).items.length === 1, {
        what: 'the claim to be served once told to take over',
      });
      assert.ok(taking.logs.some((l) => /taking over its kinds as told/.test(l)));
    } finally {
      await taking.stop();
    }
  });
});

/** The managed fields under the IPAMReady entry, whatever they are: the test is about what is around them. */
function expect(fields: unknown): unknown {
  return (fields as Record<string, Record<string, Record<string, unknown>>>)['f:status']!['f:conditions']![
    'k:{"type":"IPAMReady"}'
  ];
}
