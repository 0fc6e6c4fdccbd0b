// Pause: the cluster.x-k8s.io/paused annotation on the claim or the pool, or the claim's Cluster paused (spec.paused
// or the annotation), stops allocation and release until unpaused; a Cluster that does not exist blocks nothing.
// A minimal Cluster CRD (cluster.x-k8s.io/v1beta2) stands in for Cluster API's.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { resourceType, type KubeObject } from '../../src/kube/index.ts';
import { kubectl, testNamespace, ownControlPlane } from '../support/cluster.ts';
import { installCRDs } from '../support/manager.ts';
import { waitFor } from '../support/wait.ts';
import {
  conditionOf,
  createClaim,
  createPool,
  getOrUndefined,
  IPAddressClaims,
  IPAddresses,
  InClusterIPPools,
  startInCluster,
  suffix,
  waitForAddress,
  waitGone,
  type Harness,
} from './in-cluster-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

interface Cluster extends KubeObject {
  spec?: { paused?: boolean };
}
const Clusters = resourceType<Cluster>({
  group: 'cluster.x-k8s.io',
  version: 'v1beta2',
  kind: 'Cluster',
  plural: 'clusters',
  namespaced: true,
});

const clusterCRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'clusters.cluster.x-k8s.io' },
  spec: {
    group: 'cluster.x-k8s.io',
    scope: 'Namespaced',
    names: { plural: 'clusters', singular: 'cluster', kind: 'Cluster', listKind: 'ClusterList' },
    versions: [
      {
        name: 'v1beta2',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
      },
    ],
  },
};

const paused = { 'cluster.x-k8s.io/paused': 'true' };

describe('in-cluster provider: pause', () => {
  let h: Harness;
  before(async () => {
    await installCRDs();
    // Left installed: other test files share the control plane, and a Cluster kind changes nothing for them.
    await kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify(clusterCRD) });
    await kubectl(['wait', '--for', 'condition=Established', '--timeout=60s', 'crd/clusters.cluster.x-k8s.io']);
    h = await startInCluster();
  });
  after(async () => {
    await h?.stop();
  });

  async function pausedClaim(ns: string, name: string, why: RegExp) {
    const claim = await waitFor(
      async () => {
        const c = await h.client.resource(IPAddressClaims).get({ namespace: ns, name });
        return conditionOf(c, 'Paused')?.status === 'True' ? c : undefined;
      },
      { what: `claim ${name} to report Paused` },
    );
    assert.match(conditionOf(claim, 'Paused')!.message, why);
    assert.equal(await getOrUndefined(h.client.resource(IPAddresses).get({ namespace: ns, name })), undefined);
    return claim;
  }

  it('a paused claim gets nothing until the annotation goes', async () => {
    const ns = await testNamespace('ic-pause-claim');
    await createPool(h.client, ns, 'pool', { addresses: ['10.202.0.1-10.202.0.9'], prefix: 24 });
    await createClaim(h.client, ns, 'm', 'pool', 'InClusterIPPool', { annotations: paused });
    const claim = await pausedClaim(ns, 'm', /the claim has the cluster.x-k8s.io\/paused annotation/);
    assert.equal(claim.metadata.finalizers, undefined);

    await h.client.resource(IPAddressClaims).patch(
      { namespace: ns, name: 'm' },
      {
        metadata: { annotations: { 'cluster.x-k8s.io/paused': null } },
      },
    );
    assert.equal((await waitForAddress(h.client, ns, 'm')).spec.address, '10.202.0.1');
    const after = await h.client.resource(IPAddressClaims).get({ namespace: ns, name: 'm' });
    assert.equal(conditionOf(after, 'Paused')?.status, 'False');
  });

  it('a paused pool neither allocates nor releases until unpaused', async () => {
    const ns = await testNamespace('ic-pause-pool');
    await createPool(h.client, ns, 'pool', { addresses: ['10.202.1.1-10.202.1.9'], prefix: 24 });
    await createClaim(h.client, ns, 'held', 'pool');
    const ipa = await waitForAddress(h.client, ns, 'held');
    await h.client
      .resource(InClusterIPPools)
      .patch({ namespace: ns, name: 'pool' }, { metadata: { annotations: paused } });

    await createClaim(h.client, ns, 'new', 'pool');
    await pausedClaim(ns, 'new', /InClusterIPPool pool has the cluster.x-k8s.io\/paused annotation/);
    // Deleting a claim of a paused pool keeps its address (and the claim) until the pool is unpaused.
    await h.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'held' });
    const deleting = await waitFor(
      async () => {
        const c = await h.client.resource(IPAddressClaims).get({ namespace: ns, name: 'held' });
        return conditionOf(c, 'Paused')?.status === 'True' ? c : undefined;
      },
      { what: 'the deleted claim to report Paused' },
    );
    assert.ok(deleting.metadata.deletionTimestamp);
    assert.equal(
      (await h.client.resource(IPAddresses).get({ namespace: ns, name: 'held' })).metadata.uid,
      ipa.metadata.uid,
    );

    await h.client.resource(InClusterIPPools).patch(
      { namespace: ns, name: 'pool' },
      {
        metadata: { annotations: { 'cluster.x-k8s.io/paused': null } },
      },
    );
    await waitGone(() => h.client.resource(IPAddressClaims).get({ namespace: ns, name: 'held' }), 'claim held');
    await waitGone(() => h.client.resource(IPAddresses).get({ namespace: ns, name: 'held' }), 'IPAddress held');
    await waitForAddress(h.client, ns, 'new');
  });

  it('a paused Cluster (spec.paused or the annotation) holds its claims; a missing one does not', async () => {
    const ns = await testNamespace('ic-pause-cluster');
    const [bySpec, byAnnotation] = [`spec-${suffix()}`, `annotated-${suffix()}`];
    await h.client.resource(Clusters).create({
      apiVersion: 'cluster.x-k8s.io/v1beta2',
      kind: 'Cluster',
      metadata: { namespace: ns, name: bySpec },
      spec: { paused: true },
    });
    await h.client.resource(Clusters).create({
      apiVersion: 'cluster.x-k8s.io/v1beta2',
      kind: 'Cluster',
      metadata: { namespace: ns, name: byAnnotation, annotations: paused },
      spec: {},
    });
    await createPool(h.client, ns, 'pool', { addresses: ['10.202.2.1-10.202.2.9'], prefix: 24 });
    await createClaim(h.client, ns, 'a', 'pool', 'InClusterIPPool', { clusterName: bySpec });
    await createClaim(h.client, ns, 'b', 'pool', 'InClusterIPPool', {
      labels: { 'cluster.x-k8s.io/cluster-name': byAnnotation },
    });
    await createClaim(h.client, ns, 'c', 'pool', 'InClusterIPPool', { clusterName: `missing-${suffix()}` });
    await waitForAddress(h.client, ns, 'c');
    await pausedClaim(ns, 'a', new RegExp(`Cluster ${bySpec} is paused`));
    await pausedClaim(ns, 'b', new RegExp(`Cluster ${byAnnotation} is paused`));

    await h.client.resource(Clusters).patch({ namespace: ns, name: bySpec }, { spec: { paused: false } });
    await waitForAddress(h.client, ns, 'a');
    await h.client.resource(Clusters).patch(
      { namespace: ns, name: byAnnotation },
      {
        metadata: { annotations: { 'cluster.x-k8s.io/paused': null } },
      },
    );
    await waitForAddress(h.client, ns, 'b');
  });
});
