import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { controllers } from '../controllers/index.ts';
import type { CustomResourceDefinition, Lease } from '../kube/index.ts';
import {
  chooseCapiVersion,
  claimRefFieldOf,
  controllersOff,
  describeChange,
  detectKcm,
  fingerprint,
  referenceLeaseFreshMs,
  referenceProviders,
  runningReferences,
  workflowControllers,
  type Discovery,
} from './discovery.ts';

const crd = (name: string, versions: string[], opts: { labels?: Record<string, string>; spec?: object } = {}) =>
  ({
    metadata: { name, ...(opts.labels ? { labels: opts.labels } : {}) },
    spec: {
      versions: versions.map((v) => ({
        name: v,
        served: true,
        schema: { openAPIV3Schema: { properties: { spec: { properties: opts.spec ?? {} } } } },
      })),
    },
  }) as CustomResourceDefinition;

const ours = { 'app.kubernetes.io/part-of': 'cluster-ipam' };

describe('discovery', () => {
  it('turns off controllers that cluster-ipam run has, by their names', () => {
    const names = controllers.map((c) => c.name);
    for (const name of [...workflowControllers, ...referenceProviders.flatMap((p) => p.controllers)]) {
      assert.ok(names.includes(name), `${name} is not a controller of cluster-ipam run (${names.join(', ')})`);
    }
  });

  it('speaks v1beta2 where served (Cluster API 1.11, this project), v1beta1 where only it is (1.10)', () => {
    const v111 = ['v1alpha1', 'v1beta1', 'v1beta2'];
    assert.equal(chooseCapiVersion(crd('c', v111), crd('a', v111)).version, 'v1beta2');
    assert.equal(chooseCapiVersion(crd('c', ['v1beta2']), crd('a', ['v1beta2'])).version, 'v1beta2');
    const v110 = chooseCapiVersion(crd('c', ['v1alpha1', 'v1beta1']), crd('a', ['v1alpha1', 'v1beta1']));
    assert.equal(v110.version, 'v1beta1');
    assert.match(v110.why, /Cluster API ≤ 1\.10/);
    assert.equal(chooseCapiVersion(undefined, undefined).version, 'v1beta2');
    assert.throws(() => chooseCapiVersion(crd('c', ['v1alpha1']), crd('a', ['v1alpha1'])), /needs both in v1beta2/);
    const notServed = crd('c', ['v1beta1', 'v1beta2']);
    (notServed.spec as { versions: { served: boolean }[] }).versions[1]!.served = false;
    assert.equal(chooseCapiVersion(notServed, crd('a', ['v1beta1', 'v1beta2'])).version, 'v1beta1');
  });

  it("detects kcm by its Management CRD or a workflow CRD that is not this project's; the flag overrides", () => {
    const k = (name: string, labels?: Record<string, string>) =>
      [`${name}.k0rdent.mirantis.com`, crd(name, ['v1beta1'], { labels })] as const;
    assert.equal(detectKcm(new Map([k('clusteripams', ours), k('clusteripamclaims', ours)])).present, false);
    assert.equal(detectKcm(new Map()).present, false);
    const kcm = detectKcm(new Map([k('clusteripams'), k('clusteripamclaims', ours)]));
    assert.equal(kcm.present, true);
    assert.match(kcm.why, /clusteripams\.k0rdent\.mirantis\.com is not this project's/);
    assert.match(detectKcm(new Map([k('managements')])).why, /kcm's Management/);
    assert.equal(detectKcm(new Map([k('clusteripams')]), 'absent').present, false);
    assert.match(detectKcm(new Map([k('clusteripams')]), 'absent').why, /overriding/);
    assert.equal(detectKcm(new Map(), 'present').present, true);
  });

  it("writes the served ClusterIPAM's claim field: the guide's where present, else kcm's", () => {
    const field = (spec: object) => claimRefFieldOf(crd('clusteripams', ['v1beta1'], { spec }));
    assert.equal(field({ clusterIPAMClaimRef: {}, provider: {} }), 'clusterIPAMClaimRef');
    assert.equal(field({ clusterIPAMClaimRefs: {}, clusterIPAMClaimRef: {} }), 'clusterIPAMClaimRefs');
    assert.equal(field({ clusterIPAMClaimRefs: {} }), 'clusterIPAMClaimRefs');
    assert.equal(claimRefFieldOf(undefined), 'clusterIPAMClaimRefs');
  });

  it('finds a reference provider by the holder of a Lease renewed lately, in any namespace', () => {
    const now = Date.parse('2025-06-01T12:00:00Z');
    const lease = (holder: string, renewedMsAgo: number, name = 'x.ipam.cluster.x-k8s.io'): Lease => ({
      metadata: { namespace: 'somewhere', name },
      spec: { holderIdentity: holder, renewTime: new Date(now - renewedMsAgo).toISOString() },
    });
    const found = runningReferences(
      [
        lease('capi-ipam-in-cluster-controller-manager-6d4b9c7f8-x2x9q_0b3c', 4000),
        lease('caip-infoblox-controller-manager-7c9d-abcde_1f2e', referenceLeaseFreshMs + 1000),
        lease('cluster-ipam-5f7d9-xyz_1', 0, 'cluster-ipam-leader'),
        { metadata: { namespace: 'n', name: 'empty' } },
      ],
      now,
    );
    assert.deepEqual(
      found.map((r) => [r.provider.name, r.lease, r.renewedSecondsAgo]),
      [['in-cluster', 'somewhere/x.ipam.cluster.x-k8s.io', 4]],
    );
  });

  const base: Discovery = {
    capi: { version: 'v1beta2', why: '' },
    kcm: { present: false, why: 'none' },
    claimRefField: 'clusterIPAMClaimRefs',
    references: [],
    takeOver: false,
  };

  it('turns off the workflow next to kcm and the controllers of a running reference unless taken over', () => {
    assert.deepEqual([...controllersOff(base).keys()], []);
    const kcm = controllersOff({ ...base, kcm: { present: true, why: 'kcm detected' } });
    assert.deepEqual([...kcm.keys()], ['clusteripamclaim', 'clusteripam', 'clusterdeployment-ipam']);
    const [reference] = runningReferences(
      [
        {
          metadata: { namespace: 'n', name: 'l' },
          spec: {
            holderIdentity: 'capi-ipam-in-cluster-controller-manager-a-b_c',
            renewTime: new Date().toISOString(),
          },
        },
      ],
      Date.now(),
    );
    const running = { ...base, references: [reference!] };
    assert.match(controllersOff(running).get('inclusterippool')!, /reference in-cluster IPAM provider .* is running/);
    assert.deepEqual([...controllersOff({ ...running, takeOver: true }).keys()], []);
    assert.notEqual(fingerprint(running), fingerprint(base));
    assert.equal(fingerprint({ ...running, takeOver: true }), fingerprint(base));
    assert.match(describeChange(base, running), /reference in-cluster IPAM provider .* started/);
    assert.match(describeChange(running, base), /stopped/);
    assert.match(describeChange(base, { ...base, capi: { version: 'v1beta1', why: 'x' } }), /v1beta2 → v1beta1/);
  });
});
