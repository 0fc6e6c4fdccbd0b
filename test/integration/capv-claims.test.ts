// Claims made as the Cluster API vSphere provider (CAPV 1.14/1.15) makes them (spec 07 §7.4), on a control plane with
// Cluster API 1.11's IPAM CRDs (../shared/fixtures/capi-v1.11.2: storage v1beta2, v1beta1 served) in place of the
// project's, as on a real management cluster. CAPV writes its claims at v1beta1: named `<VSphereVM>-<device>-<pool
// index>`, owned by the VSphereVM, with its finalizer and the cluster-name label, and no spec.clusterName. Minimal
// Cluster and VSphereVM CRDs stand in for Cluster API's and CAPV's: only their kinds matter here (pause, and the
// garbage collector deleting a VM's claims). A private control plane: Cluster API's CRDs replace ours, and the
// manager's log must be its own alone.
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { inClusterPoolController } from '../../src/controllers/inclusterpool.ts';
import { ipAddressClaimController } from '../../src/controllers/ipaddressclaim.ts';
import { KubeClient, Namespaces, resourceType, type KubeObject } from '../../src/kube/index.ts';
import type { ControlPlane } from '../../src/local/controlplane.ts';
import { readManifests } from '../../src/local/install.ts';
import { createLogger } from '../../src/runtime/index.ts';
import { kubectlAt, privateControlPlane } from '../support/cluster.ts';
import { startManagerOn, type TestManager } from '../support/manager.ts';
import { waitFor } from '../support/wait.ts';
import {
  conditionOf,
  createClaim,
  createPool,
  getOrUndefined,
  IPAddressClaims,
  IPAddresses,
  InClusterIPPools,
  waitForAddress,
  waitGone,
} from './in-cluster-support.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = process.env.CLUSTER_IPAM_FIXTURES ?? join(repo, 'test/fixtures/neighbours');

type Obj = KubeObject & { spec?: any; status?: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
const kind = (group: string, version: string, kindName: string, plural: string) =>
  resourceType<Obj>({ group, version, kind: kindName, plural, namespaced: true });
// CAPV reads and writes claims at v1beta1.
const ClaimsV1beta1 = kind('ipam.cluster.x-k8s.io', 'v1beta1', 'IPAddressClaim', 'ipaddressclaims');
const VSphereVMs = kind('infrastructure.cluster.x-k8s.io', 'v1beta1', 'VSphereVM', 'vspherevms');
const Clusters = kind('cluster.x-k8s.io', 'v1beta2', 'Cluster', 'clusters');

/** A CRD that accepts any spec and status: enough for owner references, the garbage collector and pause. */
const standIn = (group: string, version: string, kindName: string, plural: string) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope: 'Namespaced',
    names: { plural, singular: kindName.toLowerCase(), kind: kindName, listKind: `${kindName}List` },
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

const capvFinalizer = 'vspherevm.infrastructure.cluster.x-k8s.io/ip-claim-protection';
const clusterNameLabel = 'cluster.x-k8s.io/cluster-name';
const misleading = /released for a claim the API server deleted without its release/;

describe('claims made as the Cluster API vSphere provider makes them', () => {
  let cp: ControlPlane;
  let client: KubeClient;
  let manager: TestManager;
  const logs: string[] = [];

  before(async () => {
    // Before the garbage collector starts, so that it follows the VSphereVM kind at once (not at its next 30 s
    // rediscovery).
    cp = await privateControlPlane(async (kubeconfig) => {
      const kubectl = async (args: string[], input?: string) => {
        const r = await kubectlAt(kubeconfig, args, { input });
        assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
      };
      // Cluster API's CRDs are too big for client-side apply; they replace ours, as on a management cluster.
      await kubectl(['apply', '--server-side', '--force-conflicts', '-f', join(fixtures, 'capi-v1.11.2')]);
      const standIns = [
        standIn('cluster.x-k8s.io', 'v1beta2', 'Cluster', 'clusters'),
        standIn('infrastructure.cluster.x-k8s.io', 'v1beta1', 'VSphereVM', 'vspherevms'),
      ];
      await kubectl(
        ['apply', '--server-side', '-f', '-'],
        JSON.stringify({ apiVersion: 'v1', kind: 'List', items: standIns }),
      );
      await kubectl(['wait', '--for', 'condition=Established', '--timeout=60s', 'crd', '--all']);
    });
    client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
    manager = startManagerOn(cp.kubeconfigPath, [ipAddressClaimController(), inClusterPoolController()], {
      logger: createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(line) } }),
    });
  });

  after(async () => {
    await manager?.stop();
    client?.close();
    await cp?.stop();
  });

  async function namespace(name: string): Promise<string> {
    await client.resource(Namespaces).create({ metadata: { name } });
    return name;
  }

  /** A VSphereVM of `cluster` and its claim for device 0, pool 0, created as CAPV creates them. */
  async function capvClaim(ns: string, vm: string, cluster: string, pool: string): Promise<Obj> {
    const owner = await client.resource(VSphereVMs).create({
      apiVersion: 'infrastructure.cluster.x-k8s.io/v1beta1',
      kind: 'VSphereVM',
      metadata: { namespace: ns, name: vm, labels: { [clusterNameLabel]: cluster } },
      spec: {
        network: {
          devices: [
            {
              networkName: 'VM Network',
              dhcp4: false,
              addressesFromPools: [{ apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: pool }],
            },
          ],
        },
      },
    });
    return client.resource(ClaimsV1beta1).create({
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta1',
      kind: 'IPAddressClaim',
      metadata: {
        namespace: ns,
        name: `${vm}-0-0`,
        // clusterutil.EnsureOwnerRef: neither controller nor blockOwnerDeletion.
        ownerReferences: [{ apiVersion: owner.apiVersion!, kind: 'VSphereVM', name: vm, uid: owner.metadata.uid! }],
        finalizers: [capvFinalizer],
        labels: { [clusterNameLabel]: cluster },
      },
      spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: pool } },
    });
  }

  /** What CAPV does when its VSphereVM goes: its finalizer off the claim (an update), then the VM is deleted. */
  async function capvDeletes(ns: string, vm: string): Promise<void> {
    const claim = await client.resource(ClaimsV1beta1).get({ namespace: ns, name: `${vm}-0-0` });
    const finalizers = claim.metadata.finalizers?.filter((f) => f !== capvFinalizer);
    await client.resource(ClaimsV1beta1).update({ ...claim, metadata: { ...claim.metadata, finalizers } });
    await client.resource(VSphereVMs).delete({ namespace: ns, name: vm });
  }

  const used = async (ns: string, pool: string) =>
    (await client.resource(InClusterIPPools).get({ namespace: ns, name: pool })).status?.ipAddresses?.used;

  it('a claim as CAPV makes it gets its IPAddress, Ready, the label; its deletion releases the address', async () => {
    const ns = await namespace('capv-claim');
    await createPool(client, ns, 'pool', { addresses: ['10.210.0.10-10.210.0.19'], prefix: 24, gateway: '10.210.0.1' });
    await capvClaim(ns, 'cp-abcde', 'prod', 'pool');
    const ipa = await waitForAddress(client, ns, 'cp-abcde-0-0');
    assert.equal(ipa.spec.address, '10.210.0.10');
    assert.equal(ipa.metadata.labels?.[clusterNameLabel], 'prod');
    const claim = await client.resource(IPAddressClaims).get({ namespace: ns, name: 'cp-abcde-0-0' });
    assert.deepEqual(claim.metadata.finalizers, [capvFinalizer, 'ipam.cluster.x-k8s.io/ReleaseAddress']);
    const ready = conditionOf(claim, 'Ready')!;
    assert.equal(ready.status, 'True');
    // What a v1beta1 reader (CAPV) gets as status.conditions through Cluster API's conversion, accepted (not pruned)
    // by Cluster API's own schema.
    assert.deepEqual(claim.status?.deprecated?.v1beta1?.conditions, [
      {
        type: 'Ready',
        status: 'True',
        reason: 'AddressAllocated',
        message: 'IPAddress cp-abcde-0-0 allocated',
        lastTransitionTime: ready.lastTransitionTime,
      },
    ]);
    await waitFor(async () => (await used(ns, 'pool')) === 1, { what: 'the pool to count the address' });

    await capvDeletes(ns, 'cp-abcde');
    await waitGone(() => client.resource(IPAddressClaims).get({ namespace: ns, name: 'cp-abcde-0-0' }), 'the claim');
    await waitGone(() => client.resource(IPAddresses).get({ namespace: ns, name: 'cp-abcde-0-0' }), 'the IPAddress');
    await waitFor(async () => (await used(ns, 'pool')) === 0, { what: 'the pool to count the address free' });
  });

  it('a claim that cannot be answered says why to v1beta1 readers too: Ready False, a severity, the reason', async () => {
    const ns = await namespace('capv-waiting');
    await capvClaim(ns, 'cp-waiting', 'prod', 'not-yet');
    const claim = await waitFor(
      async () => {
        const c = await client.resource(IPAddressClaims).get({ namespace: ns, name: 'cp-waiting-0-0' });
        return (c.status?.deprecated?.v1beta1?.conditions?.length ?? 0) > 0 && c;
      },
      { what: 'the claim to report Ready in the v1beta1 shape' },
    );
    const ready = conditionOf(claim, 'Ready')!;
    assert.deepEqual(claim.status?.deprecated?.v1beta1?.conditions, [
      {
        type: 'Ready',
        status: 'False',
        severity: 'Warning',
        reason: 'PoolNotReady',
        message: 'InClusterIPPool not-yet not found',
        lastTransitionTime: ready.lastTransitionTime,
      },
    ]);
  });

  it('Cluster API converts the deprecated v1beta1 conditions to v1beta1 status.conditions as they are', async () => {
    // Its conversion copies them field by field; the two schemas are the same, so whatever one accepts the other does.
    const crd = (
      await readManifests([join(fixtures, 'capi-v1.11.2', 'ipam.cluster.x-k8s.io_ipaddressclaims.yaml')])
    )[0] as Obj;
    const status = (v: string) =>
      crd.spec.versions.find((x: { name: string }) => x.name === v).schema.openAPIV3Schema.properties.status.properties;
    const deprecated = status('v1beta2').deprecated.properties.v1beta1.properties.conditions;
    assert.deepEqual(deprecated.items, status('v1beta1').conditions.items);
  });

  it('a Cluster found by the label alone pauses the claim, and unpausing it allocates', async () => {
    const ns = await namespace('capv-pause');
    await client.resource(Clusters).create({
      apiVersion: 'cluster.x-k8s.io/v1beta2',
      kind: 'Cluster',
      metadata: { namespace: ns, name: 'moving' },
      spec: { paused: true },
    });
    await createPool(client, ns, 'pool', { addresses: ['10.210.1.10-10.210.1.19'], prefix: 24 });
    await capvClaim(ns, 'md-0-xyz', 'moving', 'pool');
    const paused = await waitFor(
      async () => {
        const c = await client.resource(IPAddressClaims).get({ namespace: ns, name: 'md-0-xyz-0-0' });
        return conditionOf(c, 'Paused')?.status === 'True' && c;
      },
      { what: 'the claim to report Paused' },
    );
    assert.match(conditionOf(paused, 'Paused')!.message, /Cluster moving is paused/);
    assert.equal(
      await getOrUndefined(client.resource(IPAddresses).get({ namespace: ns, name: 'md-0-xyz-0-0' })),
      undefined,
    );

    await client.resource(Clusters).patch({ namespace: ns, name: 'moving' }, { spec: { paused: false } });
    await waitForAddress(client, ns, 'md-0-xyz-0-0');
  });

  it('ordinary deletions, CAPV’s and by hand, log no release of a claim deleted without its release', async () => {
    const ns = await namespace('capv-quiet');
    await createPool(client, ns, 'pool', { addresses: ['10.210.2.10-10.210.2.19'], prefix: 24 });
    await capvClaim(ns, 'w-1', 'prod', 'pool');
    await waitForAddress(client, ns, 'w-1-0-0');
    await capvDeletes(ns, 'w-1');
    await waitGone(() => client.resource(IPAddressClaims).get({ namespace: ns, name: 'w-1-0-0' }), 'the claim');
    // A new claim of the same name is served only after whatever the manager does for the deleted one (reconciles
    // of one name never overlap): once it has its address, that is done.
    await createClaim(client, ns, 'w-1-0-0', 'pool');
    await waitForAddress(client, ns, 'w-1-0-0');
    await client.resource(IPAddressClaims).delete({ namespace: ns, name: 'w-1-0-0' });
    await waitGone(() => client.resource(IPAddressClaims).get({ namespace: ns, name: 'w-1-0-0' }), 'the claim');
    await createClaim(client, ns, 'w-1-0-0', 'pool');
    await waitForAddress(client, ns, 'w-1-0-0');
    assert.deepEqual(
      logs.filter((l) => misleading.test(l)),
      [],
    );
  });
});
