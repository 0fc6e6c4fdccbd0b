// The IPAM user guide, step by step, with the real kubectl and the manager running: Option 1 (a claim with a cidr,
// then with ipAddresses, referenced by its ClusterDeployment) and Option 2 (the claim inline in the
// ClusterDeployment), using the manifests of examples/ as they are.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ClusterIPAMs } from '../../src/api/index.ts';
import { KubeClient } from '../../src/kube/index.ts';
import { kubectl, testKubeconfig, testNamespace, ownControlPlane } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  condition,
  example,
  get,
  readExample,
  table,
  waitForCondition,
  waitForObject,
  type Obj,
  runManager,
} from './ipam-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

runManager();

const bound = (o: Obj) => o.status?.bound === true;
const phaseBound = (o: Obj) => o.status?.phase === 'Bound';

/** Steps 1-2 of Option 1: apply the claim, see it bound, its ClusterIPAM Bound, and its pool; returns the pool. */
async function claimIsBound(ns: string, file: string, claimName: string): Promise<Obj> {
  await kubectl(['apply', '-f', example(file)], { namespace: ns });
  await waitForObject('clusteripamclaim', claimName, ns, bound, 'bound');

  // `kubectl get clusteripamclaim <claim-name> -n <namespace>`
  const rows = await table(['clusteripamclaim', claimName], ns);
  assert.deepEqual(Object.keys(rows[0]!), ['NAME', 'BOUND', 'AGE']);
  assert.equal(rows[0]!.BOUND, 'true');

  const claim = parse((await kubectl(['get', 'clusteripamclaim', claimName, '-o', 'yaml'], { namespace: ns })).stdout);
  const source = await readExample(file);
  assert.equal(claim.spec.clusterIPAMRef, claimName, 'spec.clusterIPAMRef names the ClusterIPAM');
  assert.deepEqual({ ...claim.spec, clusterIPAMRef: undefined }, { ...source.spec, clusterIPAMRef: undefined });
  assert.equal(claim.status.bound, true);
  assert.equal(condition(claim, 'Ready')?.reason, 'Bound');

  // `kubectl get -n <namespace> ClusterIPAM <claim-name>`
  const cipamRows = await table(['ClusterIPAM', claimName], ns);
  assert.deepEqual(Object.keys(cipamRows[0]!), ['NAME', 'PHASE', 'AGE']);
  assert.equal(cipamRows[0]!.PHASE, 'Bound');
  const cipam = parse((await kubectl(['get', 'ClusterIPAM', claimName, '-o', 'yaml'], { namespace: ns })).stdout);
  assert.deepEqual(cipam.spec, { provider: 'in-cluster', clusterIPAMClaimRefs: claimName });
  assert.equal(cipam.status.phase, 'Bound');
  assert.deepEqual(cipam.status.providerData, [
    {
      name: 'ipPool',
      config: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: claimName },
      ready: true,
    },
  ]);
  const owner = cipam.metadata.ownerReferences.find((r: Obj) => r.controller);
  assert.deepEqual([owner.kind, owner.name, owner.uid], ['ClusterIPAMClaim', claimName, claim.metadata.uid]);

  const pool = (await get('inclusterippool', claimName, ns))!;
  assert.equal(pool.metadata.ownerReferences.find((r: Obj) => r.controller).uid, claim.metadata.uid);
  return pool;
}

/** Step 3 of Option 1, or Option 2: the deployment passes the gate and gets the IPAM values, nothing else changed. */
async function deploymentGetsIPAM(ns: string, name: string, source: Obj, claimName: string): Promise<Obj> {
  const d = await waitForCondition('clusterdeployment', name, ns, 'IPAMReady', 'True');
  const cipam = (await get('clusteripam', claimName, ns))!;
  const { ipamEnabled, ipPool, ...rest } = d.spec.config;
  assert.equal(ipamEnabled, true);
  // As the ClusterIPAM said when the gate opened (it may be Pending a moment later while its pool reports a change).
  assert.deepEqual(ipPool, { ...cipam.status.providerData[0], ready: true });
  assert.deepEqual(ipPool.config, { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: claimName });
  assert.deepEqual(rest, source.spec.config, 'no other key of spec.config changed');
  // What `kubectl apply` recorded stays, so applying the manifest again merges as kubectl users expect.
  const lastApplied = d.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'];
  assert.ok(lastApplied, 'the last-applied annotation is kept');
  assert.deepEqual(JSON.parse(lastApplied).spec.config, source.spec.config);
  const rows = await table(['clusterdeployment', name], ns);
  assert.equal(rows[0]!.IPAM, 'True');
  return d;
}

describe('Option 1: mutual references between ClusterDeployment and ClusterIPAMClaim', () => {
  it('a claim with a cidr is bound, and its ClusterDeployment gets ipamEnabled and ipPool', async () => {
    const ns = await testNamespace('guide-cidr');
    const pool = await claimIsBound(ns, 'option1-cidr/clusteripamclaim.yaml', 'dev-vsphere-1-ipam');
    assert.deepEqual(pool.spec.addresses, ['10.0.10.0/25']);
    assert.equal(pool.spec.prefix, 24);
    assert.equal(pool.spec.gateway, '10.0.10.1');

    const source = await readExample('option1-cidr/clusterdeployment.yaml');
    await kubectl(['apply', '-f', example('option1-cidr/clusterdeployment.yaml')], { namespace: ns });
    const d = await deploymentGetsIPAM(ns, 'dev-vsphere-1', source, 'dev-vsphere-1-ipam');
    // fields this project does not act on are kept
    assert.equal(d.spec.propagateCredentials, true);
    assert.deepEqual(d.spec.serviceSpec, source.spec.serviceSpec);
    assert.deepEqual(d.spec.ipamClaim, { ref: 'dev-vsphere-1-ipam' });
  });

  it('a claim with ipAddresses (addresses, a range, a CIDR) is bound, and dryRun still resolves IPAM', async () => {
    const ns = await testNamespace('guide-list');
    const pool = await claimIsBound(ns, 'option1-ip-addresses/clusteripamclaim.yaml', 'staging-vsphere-ipam');
    assert.deepEqual(pool.spec.addresses, ['192.0.2.21-192.0.2.29', '192.0.2.40', '192.0.2.41', '192.0.2.48/29']);
    assert.equal(pool.spec.prefix, 24);
    // the provider counts exactly the listed addresses: 9 + 2 + 8
    const counted = await waitForObject(
      'inclusterippool',
      'staging-vsphere-ipam',
      ns,
      (p) => !!p.status?.ipAddresses,
      'counts',
    );
    assert.equal(counted.status.ipAddresses.total, 19);

    const source = await readExample('option1-ip-addresses/clusterdeployment.yaml');
    await kubectl(['apply', '-f', example('option1-ip-addresses/clusterdeployment.yaml')], { namespace: ns });
    const d = await deploymentGetsIPAM(ns, 'staging-vsphere', source, 'staging-vsphere-ipam');
    assert.equal(d.spec.dryRun, true);
    assert.match(condition(d, 'IPAMReady')!.message, /dry run: nothing is provisioned/);
  });

  it('spec.cluster cannot be changed once set', async () => {
    const ns = await testNamespace('guide-immutable');
    await kubectl(['apply', '-f', example('option1-cidr/clusteripamclaim.yaml')], { namespace: ns });
    const patched = await kubectl(
      ['patch', 'clusteripamclaim', 'dev-vsphere-1-ipam', '--type=merge', '-p', '{"spec":{"cluster":"someone-else"}}'],
      { namespace: ns, check: false },
    );
    assert.notEqual(patched.code, 0);
    assert.match(patched.stderr, /spec\.cluster.*cluster is immutable once set/);
    const claim = await readExample('option1-cidr/clusteripamclaim.yaml');
    claim.spec.cluster = 'someone-else';
    const applied = await kubectl(['apply', '-f', '-'], { namespace: ns, input: JSON.stringify(claim), check: false });
    assert.notEqual(applied.code, 0);
    assert.match(applied.stderr, /cluster is immutable once set/);
    assert.equal((await get('clusteripamclaim', 'dev-vsphere-1-ipam', ns))!.spec.cluster, 'dev-vsphere-1');
  });
});

describe('Option 2: inline IPAM configuration in the ClusterDeployment', () => {
  it('creates the claim <deployment>-ipam, binds it, and merges ipamEnabled and ipPool into spec.config', async (t) => {
    const ns = await testNamespace('guide-inline');
    const source = await readExample('option2-inline/clusterdeployment.yaml');
    const client = KubeClient.load({ kubeconfig: await testKubeconfig() });
    try {
      const started = performance.now();
      await kubectl(['apply', '-f', example('option2-inline/clusterdeployment.yaml')], { namespace: ns });
      // Poll the API directly (not kubectl) so the figure is not kubectl's start-up time.
      await waitFor(
        async () =>
          (
            await client
              .resource(ClusterIPAMs)
              .get({ namespace: ns, name: 'prod-vsphere-ipam' })
              .catch(() => undefined)
          )?.status?.phase === 'Bound',
        { what: 'ClusterIPAM prod-vsphere-ipam Bound', intervalMs: 5 },
      );
      const boundMs = performance.now() - started;
      t.diagnostic(`kubectl apply of an inline ClusterDeployment -> ClusterIPAM Bound: ${boundMs.toFixed(0)} ms`);
    } finally {
      client.close();
    }

    const d = await deploymentGetsIPAM(ns, 'prod-vsphere', source, 'prod-vsphere-ipam');
    assert.equal(d.spec.ipamClaim.ref, 'prod-vsphere-ipam', 'the claim name is written into ipamClaim.ref');
    assert.deepEqual(d.spec.ipamClaim.spec, source.spec.ipamClaim.spec);

    const claim = (await get('clusteripamclaim', 'prod-vsphere-ipam', ns))!;
    assert.equal(claim.spec.cluster, 'prod-vsphere');
    assert.equal(claim.spec.clusterIPAMRef, 'prod-vsphere-ipam');
    assert.deepEqual(claim.spec.nodeNetwork, source.spec.ipamClaim.spec.nodeNetwork);
    assert.equal(claim.status.bound, true);
    const owner = claim.metadata.ownerReferences.find((r: Obj) => r.controller);
    assert.deepEqual([owner.kind, owner.name, owner.uid], ['ClusterDeployment', 'prod-vsphere', d.metadata.uid]);

    const cipam = parse((await kubectl(['get', '-n', ns, 'ClusterIPAM', 'prod-vsphere-ipam', '-o', 'yaml'])).stdout);
    assert.deepEqual(cipam.spec, { provider: 'in-cluster', clusterIPAMClaimRefs: 'prod-vsphere-ipam' });
    assert.equal(cipam.status.phase, 'Bound');
    const pool = (await get('inclusterippool', 'prod-vsphere-ipam', ns))!;
    assert.deepEqual(pool.spec.addresses, ['198.51.100.0/24']);
    assert.equal(pool.spec.prefix, 24);
  });

  it('works on an IPv6-only node network', async () => {
    const ns = await testNamespace('guide-inline-v6');
    const source = await readExample('option2-inline/clusterdeployment-ipv6.yaml');
    await kubectl(['apply', '-f', example('option2-inline/clusterdeployment-ipv6.yaml')], { namespace: ns });
    await deploymentGetsIPAM(ns, 'lab-vsphere-v6', source, 'lab-vsphere-v6-ipam');
    const cipam = await waitForObject('clusteripam', 'lab-vsphere-v6-ipam', ns, phaseBound, 'Bound');
    assert.equal(cipam.status.providerData[0].ready, true);
    const pool = (await get('inclusterippool', 'lab-vsphere-v6-ipam', ns))!;
    assert.deepEqual(pool.spec, { ...pool.spec, addresses: ['2001:db8:10::100-2001:db8:10::1ff'], prefix: 64 });
  });
});
