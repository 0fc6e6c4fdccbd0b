// What the guide does not spell out but a platform engineer relies on: the capacity check, overlap between claims
// and pools, ref and spec together, a claim made for another cluster, Infoblox claims waiting for their provider,
// invalid claims that say why, and deletion that neither leaks nor pulls addresses from under a live cluster.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kubectl, testNamespace, ownControlPlane } from '../support/cluster.ts';
import { applyOk, bound, deployment } from './ipam-objects.ts';
import {
  condition,
  get,
  waitForCondition,
  waitForEvent,
  waitForGone,
  waitForObject,
  type Obj,
  runManager,
} from './ipam-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

runManager();

const claim = (name: string, spec: Obj, annotations?: Record<string, string>): Obj => ({
  apiVersion: 'k0rdent.mirantis.com/v1beta1',
  kind: 'ClusterIPAMClaim',
  metadata: { name, ...(annotations ? { annotations } : {}) },
  spec,
});

const inCluster = (nodeNetwork: Obj, cluster?: string) => ({
  provider: 'in-cluster',
  nodeNetwork,
  ...(cluster ? { cluster } : {}),
});

describe('capacity check', () => {
  it('holds the deployment back, saying how many addresses are missing, until the network fits', async () => {
    const ns = await testNamespace('ipam-capacity');
    // 6 usable addresses; 3 + 3 machines and 1 for a rolling update need 7
    await applyOk(
      ns,
      claim(
        'small-ipam',
        inCluster({ ipAddresses: ['10.0.0.10-10.0.0.15'], prefix: 24, gateway: '10.0.0.1' }, 'small'),
      ),
      deployment('small', {
        config: { controlPlaneNumber: 3, workersNumber: 3, region: 'a' },
        ipamClaim: { ref: 'small-ipam' },
      }),
    );
    const d = await waitForCondition('clusterdeployment', 'small', ns, 'IPAMReady', 'False', 'InsufficientAddresses');
    assert.equal(
      condition(d, 'IPAMReady')!.message,
      'spec.config asks for 3 control plane + 3 worker machines plus 1 for a rolling update: 7 addresses, but the ' +
        'node network of ClusterIPAMClaim small-ipam (spec.nodeNetwork: 10.0.0.10-10.0.0.15) has 6 usable: ' +
        '1 address missing',
    );
    assert.deepEqual(d.spec.config, { controlPlaneNumber: 3, workersNumber: 3, region: 'a' }, 'nothing merged');
    await waitForEvent(ns, 'small', 'InsufficientAddresses');

    await kubectl(
      ['patch', 'clusterdeployment', 'small', '--type=merge', '-p', '{"spec":{"config":{"workersNumber":2}}}'],
      {
        namespace: ns,
      },
    );
    const fixed = await waitForCondition('clusterdeployment', 'small', ns, 'IPAMReady', 'True');
    assert.equal(fixed.spec.config.ipamEnabled, true);
    assert.equal(fixed.spec.config.region, 'a');
  });
});

describe('overlap', () => {
  it('reports two overlapping claims on both, and does not bind the later one unless it allows overlap', async () => {
    const ns = await testNamespace('ipam-overlap');
    await applyOk(ns, claim('first', inCluster({ cidr: '10.20.0.0/24' }, 'a')));
    await waitForObject('clusteripamclaim', 'first', ns, bound, 'bound');
    await applyOk(ns, claim('second', inCluster({ cidr: '10.20.0.128/25' }, 'b')));

    const second = await waitForCondition(
      'clusteripamclaim',
      'second',
      ns,
      'AddressSpaceAvailable',
      'False',
      'Overlap',
    );
    assert.equal(second.status.bound, false);
    assert.match(
      condition(second, 'Ready')!.message,
      /^spec\.nodeNetwork overlaps ClusterIPAMClaim first spec\.nodeNetwork \(10\.20\.0\.128\/25\), which holds these addresses\. Not binding/,
    );
    assert.match(condition(second, 'Ready')!.message, /k0rdent\.mirantis\.com\/allow-overlap="true"/);
    assert.equal(await get('clusteripam', 'second', ns), undefined, 'no ClusterIPAM, no pool for the later claim');
    assert.equal(await get('inclusterippool', 'second', ns), undefined);
    await waitForEvent(ns, 'second', 'Overlap');

    const first = await waitForCondition(
      'clusteripamclaim',
      'first',
      ns,
      'AddressSpaceAvailable',
      'True',
      'HoldsAddressSpace',
    );
    assert.equal(first.status.bound, true);
    assert.equal(
      condition(first, 'AddressSpaceAvailable')!.message,
      'spec.nodeNetwork overlaps ClusterIPAMClaim second spec.nodeNetwork (10.20.0.128/25); second came later and is not bound',
    );

    await kubectl(['annotate', 'clusteripamclaim', 'second', 'k0rdent.mirantis.com/allow-overlap=true'], {
      namespace: ns,
    });
    const allowed = await waitForObject('clusteripamclaim', 'second', ns, bound, 'bound once overlap is allowed');
    assert.equal(condition(allowed, 'AddressSpaceAvailable')!.reason, 'OverlapAllowed');
  });

  it('does not bind a claim into the addresses of an existing pool no claim created, and tells the pool', async () => {
    const ns = await testNamespace('ipam-overlap-pool');
    await applyOk(ns, {
      apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
      kind: 'InClusterIPPool',
      metadata: { name: 'hand-made' },
      spec: { addresses: ['10.30.0.10-10.30.0.20'], prefix: 24, gateway: '10.30.0.1' },
    });
    await applyOk(ns, claim('late', inCluster({ cidr: '10.30.0.0/24' }, 'x')));
    const late = await waitForCondition('clusteripamclaim', 'late', ns, 'Ready', 'False', 'Overlap');
    assert.match(
      condition(late, 'Ready')!.message,
      /^spec\.nodeNetwork overlaps InClusterIPPool hand-made spec\.addresses \(10\.30\.0\.10-10\.30\.0\.20\), which holds these addresses/,
    );
    const [event] = await waitForEvent(ns, 'hand-made', 'Overlap');
    assert.equal(event!.type, 'Warning');
    assert.match(event!.message, /overlaps ClusterIPAMClaim .*\/late spec\.nodeNetwork/);
    // the pool is untouched, and no pool was made for the claim
    assert.deepEqual((await get('inclusterippool', 'hand-made', ns))!.spec.addresses, ['10.30.0.10-10.30.0.20']);
    assert.equal(await get('inclusterippool', 'late', ns), undefined);

    await kubectl(['delete', 'inclusterippool', 'hand-made'], { namespace: ns });
    await waitForObject('clusteripamclaim', 'late', ns, bound, 'bound once the pool is gone');
  });
});

describe('attaching a claim', () => {
  it('works with both ipamClaim.ref and ipamClaim.spec', async () => {
    const ns = await testNamespace('ipam-ref-spec');
    await applyOk(
      ns,
      deployment('both', {
        config: { controlPlaneNumber: 1, workersNumber: 1 },
        ipamClaim: { ref: 'chosen-name', spec: inCluster({ cidr: '10.40.0.0/24', gateway: '10.40.0.1' }) },
      }),
    );
    const d = await waitForCondition('clusterdeployment', 'both', ns, 'IPAMReady', 'True');
    assert.equal(d.spec.ipamClaim.ref, 'chosen-name');
    assert.deepEqual(d.spec.config.ipPool.config, {
      apiGroup: 'ipam.cluster.x-k8s.io',
      kind: 'InClusterIPPool',
      name: 'chosen-name',
    });
    const c = (await get('clusteripamclaim', 'chosen-name', ns))!;
    assert.equal(c.spec.cluster, 'both');
    assert.equal(c.metadata.ownerReferences[0].name, 'both');
    assert.equal(await get('clusteripamclaim', 'both-ipam', ns), undefined);

    // re-applying the manifest the controller completed (ref = <name>-ipam written back) changes nothing
    await applyOk(
      ns,
      deployment('again', { ipamClaim: { ref: 'again-ipam', spec: inCluster({ cidr: '10.41.0.0/24' }) } }),
    );
    await waitForCondition('clusterdeployment', 'again', ns, 'IPAMReady', 'True');
  });

  it("keeps the inline claim and its pool in step with the deployment's inline spec", async () => {
    const ns = await testNamespace('ipam-inline-edit');
    const network = { ipAddresses: ['10.45.0.10-10.45.0.12'], prefix: 24 };
    await applyOk(
      ns,
      deployment('grow', {
        config: { controlPlaneNumber: 1, workersNumber: 2 },
        ipamClaim: { spec: inCluster(network) },
      }),
    );
    const short = await waitForCondition(
      'clusterdeployment',
      'grow',
      ns,
      'IPAMReady',
      'False',
      'InsufficientAddresses',
    );
    assert.match(condition(short, 'IPAMReady')!.message, /has 3 usable: 1 address missing$/);

    const patch = { spec: { ipamClaim: { spec: { nodeNetwork: { ipAddresses: ['10.45.0.10-10.45.0.20'] } } } } };
    await kubectl(['patch', 'clusterdeployment', 'grow', '--type=merge', '-p', JSON.stringify(patch)], {
      namespace: ns,
    });
    await waitForCondition('clusterdeployment', 'grow', ns, 'IPAMReady', 'True');
    const c = (await get('clusteripamclaim', 'grow-ipam', ns))!;
    assert.deepEqual(c.spec.nodeNetwork, { ...network, ipAddresses: ['10.45.0.10-10.45.0.20'] });
    assert.deepEqual((await get('inclusterippool', 'grow-ipam', ns))!.spec.addresses, ['10.45.0.10-10.45.0.20']);
  });

  it('gives an extra network its own pool and providerData entry, the node network keeping ipPool', async () => {
    const ns = await testNamespace('ipam-extra');
    const spec = {
      ...inCluster({ cidr: '10.80.0.0/24', gateway: '10.80.0.1' }),
      externalNetwork: { ipAddresses: ['10.80.1.10-10.80.1.20'], prefix: 24 },
    };
    await applyOk(ns, deployment('vips', { ipamClaim: { spec } }));
    const d = await waitForCondition('clusterdeployment', 'vips', ns, 'IPAMReady', 'True');
    const ref = (kind: string, name: string) => ({ apiGroup: 'ipam.cluster.x-k8s.io', kind, name });
    assert.deepEqual(d.spec.config.ipPool.config, ref('InClusterIPPool', 'vips-ipam'));
    assert.deepEqual(d.spec.config.externalIPPool.config, ref('InClusterIPPool', 'vips-ipam-external'));
    const cipam = (await get('clusteripam', 'vips-ipam', ns))!;
    assert.deepEqual(
      cipam.status.providerData.map((e: Obj) => [e.name, e.config.name, e.ready]),
      [
        ['ipPool', 'vips-ipam', true],
        ['externalIPPool', 'vips-ipam-external', true],
      ],
    );
    assert.deepEqual((await get('inclusterippool', 'vips-ipam-external', ns))!.spec.addresses, [
      '10.80.1.10-10.80.1.20',
    ]);
  });

  it("stops at a claim made for another cluster and leaves that cluster's addresses alone", async () => {
    const ns = await testNamespace('ipam-mismatch');
    await applyOk(ns, claim('theirs', inCluster({ cidr: '10.50.0.0/24' }, 'their-cluster')));
    await waitForObject('clusteripamclaim', 'theirs', ns, bound, 'bound');
    await applyOk(ns, deployment('mine', { config: { workersNumber: 1 }, ipamClaim: { ref: 'theirs' } }));
    const d = await waitForCondition('clusterdeployment', 'mine', ns, 'IPAMReady', 'False', 'ClaimClusterMismatch');
    assert.equal(
      condition(d, 'IPAMReady')!.message,
      'ClusterIPAMClaim theirs is for cluster "their-cluster" (its spec.cluster), not "mine": IPAM stopped, the ' +
        'claim\'s addresses stay with "their-cluster"',
    );
    assert.deepEqual(d.spec.config, { workersNumber: 1 });
    const theirs = (await get('clusteripamclaim', 'theirs', ns))!;
    assert.equal(theirs.spec.cluster, 'their-cluster');

    await applyOk(ns, deployment('lost', { ipamClaim: { ref: 'nobody' } }));
    const lost = await waitForCondition('clusterdeployment', 'lost', ns, 'IPAMReady', 'False', 'ClaimNotFound');
    assert.equal(condition(lost, 'IPAMReady')!.message, `ClusterIPAMClaim nobody not found in namespace ${ns}`);
  });
});

describe('status that says why', () => {
  it('an invalid claim gets a condition naming the field, then binds once fixed', async () => {
    const ns = await testNamespace('ipam-invalid');
    // A reversed IPv6 range: the API server cannot compare IPv6 addresses, so the controller must.
    const bad = claim('v6', inCluster({ ipAddresses: ['fd00:10::9-fd00:10::1'], prefix: 64 }, 'v6-cluster'));
    await applyOk(ns, bad);
    const c = await waitForCondition('clusteripamclaim', 'v6', ns, 'Valid', 'False', 'InvalidSpec');
    assert.equal(
      condition(c, 'Valid')!.message,
      'spec.nodeNetwork.ipAddresses[0]: "fd00:10::9-fd00:10::1": the range starts after it ends; expected an address, ' +
        'a range A-B or a CIDR',
    );
    assert.equal(condition(c, 'Ready')!.reason, 'InvalidSpec');
    assert.equal(c.status.bound, false);
    assert.equal(await get('clusteripam', 'v6', ns), undefined);
    const [event] = await waitForEvent(ns, 'v6', 'InvalidSpec');
    assert.equal(event!.type, 'Warning');

    bad.spec.nodeNetwork.ipAddresses = ['fd00:10::1-fd00:10::9'];
    await applyOk(ns, bad);
    await waitForObject('clusteripamclaim', 'v6', ns, bound, 'bound once fixed');
  });

  it('an Infoblox claim creates its InfobloxIPPool on the chosen instance and says what it waits for', async () => {
    const ns = await testNamespace('ipam-infoblox');
    const instance = `ib-${ns}`; // cluster-scoped: unique per test
    const ib = claim(
      'edge-vsphere-ipam',
      { provider: 'ipam-infoblox', nodeNetwork: { cidr: '203.0.113.0/24', gateway: '203.0.113.1' }, cluster: 'edge' },
      { 'k0rdent.mirantis.com/infoblox-instance': instance },
    );
    await applyOk(ns, ib);
    const missing = await waitForCondition(
      'clusteripam',
      'edge-vsphere-ipam',
      ns,
      'Ready',
      'False',
      'InfobloxInstanceNotFound',
    );
    assert.equal(
      condition(missing, 'Ready')!.message,
      `InfobloxInstance ${instance} (named by the annotation k0rdent.mirantis.com/infoblox-instance) does not exist`,
    );
    const claimSays = await waitForCondition(
      'clusteripamclaim',
      'edge-vsphere-ipam',
      ns,
      'Ready',
      'False',
      'InfobloxInstanceNotFound',
    );
    assert.equal(claimSays.status.bound, false);

    await applyOk(ns, {
      apiVersion: 'ipam.cluster.x-k8s.io/v1alpha1',
      kind: 'InfobloxInstance',
      metadata: { name: instance },
      spec: { host: 'infoblox.example.com', wapiVersion: '2.12', credentialsSecretRef: { name: 'creds' } },
    });
    try {
      const pool = await waitForObject('infobloxippool', 'edge-vsphere-ipam', ns, () => true, 'created');
      assert.deepEqual(pool.spec, {
        instance: { name: instance },
        subnets: [{ cidr: '203.0.113.0/24', gateway: '203.0.113.1' }],
      });
      const waiting = await waitForObject(
        'clusteripamclaim',
        'edge-vsphere-ipam',
        ns,
        (o) => condition(o, 'Ready')?.reason === 'PoolNotReady',
        'waiting for its pool',
      );
      assert.equal(waiting.status.bound, false);
      assert.match(condition(waiting, 'Ready')!.message, /InfobloxIPPool edge-vsphere-ipam/);
      const cipam = (await get('clusteripam', 'edge-vsphere-ipam', ns))!;
      assert.equal(cipam.status.phase, 'Pending');
      assert.deepEqual(cipam.status.providerData, [
        {
          name: 'ipPool',
          config: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InfobloxIPPool', name: 'edge-vsphere-ipam' },
          ready: false,
        },
      ]);
    } finally {
      await kubectl(['delete', 'infobloxinstance', instance, '--wait=false']);
    }
  });
});

describe('deletion', () => {
  it('deleting an inline ClusterDeployment removes its claim, ClusterIPAM and pool', async () => {
    const ns = await testNamespace('ipam-delete-inline');
    await applyOk(ns, deployment('gone', { ipamClaim: { spec: inCluster({ cidr: '10.60.0.0/24' }) } }));
    await waitForCondition('clusterdeployment', 'gone', ns, 'IPAMReady', 'True');
    await kubectl(['delete', 'clusterdeployment', 'gone'], { namespace: ns });
    await waitForGone('clusteripamclaim', 'gone-ipam', ns);
    await waitForGone('clusteripam', 'gone-ipam', ns);
    await waitForGone('inclusterippool', 'gone-ipam', ns);
  });

  it('keeps a deleted claim pool, and its addresses, until the machines release them', async () => {
    const ns = await testNamespace('ipam-delete-allocated');
    await applyOk(
      ns,
      deployment('busy', { ipamClaim: { spec: inCluster({ cidr: '10.61.0.0/24', gateway: '10.61.0.1' }) } }),
    );
    await waitForCondition('clusterdeployment', 'busy', ns, 'IPAMReady', 'True');
    // a machine's address, as an infrastructure provider asks for it
    await applyOk(ns, {
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
      kind: 'IPAddressClaim',
      metadata: { name: 'busy-cp-0' },
      spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'busy-ipam' } },
    });
    const address = await waitForObject('ipaddresses.ipam.cluster.x-k8s.io', 'busy-cp-0', ns, () => true, 'allocated');
    assert.equal(address.spec.address, '10.61.0.2');

    await kubectl(['delete', 'clusterdeployment', 'busy'], { namespace: ns });
    await waitForGone('clusteripamclaim', 'busy-ipam', ns);
    await waitForGone('clusteripam', 'busy-ipam', ns);
    const held = await waitForObject(
      'inclusterippool',
      'busy-ipam',
      ns,
      (p) => !!p.metadata.deletionTimestamp,
      'deleting',
    );
    assert.ok(held.metadata.finalizers.includes('ipam.cluster.x-k8s.io/ProtectPool'));
    // the addresses are still in use: a new claim cannot take them yet
    await applyOk(ns, claim('next', inCluster({ cidr: '10.61.0.0/24', gateway: '10.61.0.1' }, 'next')));
    const next = await waitForCondition('clusteripamclaim', 'next', ns, 'Ready', 'False', 'Overlap');
    assert.match(condition(next, 'Ready')!.message, /overlaps InClusterIPPool busy-ipam/);

    await kubectl(['delete', 'ipaddressclaims.ipam.cluster.x-k8s.io', 'busy-cp-0'], { namespace: ns });
    await waitForGone('ipaddresses.ipam.cluster.x-k8s.io', 'busy-cp-0', ns);
    await waitForGone('inclusterippool', 'busy-ipam', ns);
    await waitForObject('clusteripamclaim', 'next', ns, bound, 'bound once the old pool is gone');
  });

  it('a claim used by a live ClusterDeployment is kept, and says so, until the deployment goes', async () => {
    const ns = await testNamespace('ipam-delete-used');
    await applyOk(
      ns,
      claim('kept', inCluster({ cidr: '10.70.0.0/24' }, 'user')),
      deployment('user', { ipamClaim: { ref: 'kept' } }),
    );
    await waitForCondition('clusterdeployment', 'user', ns, 'IPAMReady', 'True');
    await kubectl(['delete', 'clusteripamclaim', 'kept', '--wait=false'], { namespace: ns });

    const blocked = await waitForObject(
      'clusteripamclaim',
      'kept',
      ns,
      (o) => condition(o, 'Ready')?.reason === 'DeletionBlocked',
      'deletion blocked',
    );
    assert.ok(blocked.metadata.deletionTimestamp);
    assert.equal(
      condition(blocked, 'Ready')!.message,
      'deletion waits until no ClusterDeployment uses this claim; still used by user (spec.ipamClaim): delete it or ' +
        'point spec.ipamClaim elsewhere',
    );
    await waitForEvent(ns, 'kept', 'DeletionBlocked');
    const d = await waitForCondition('clusterdeployment', 'user', ns, 'IPAMReady', 'False', 'ClaimDeleting');
    assert.equal(d.spec.config.ipamEnabled, true, 'what was merged stays');
    assert.ok(await get('inclusterippool', 'kept', ns), 'the pool is still there');

    await kubectl(['delete', 'clusterdeployment', 'user'], { namespace: ns });
    await waitForGone('clusteripamclaim', 'kept', ns);
    await waitForGone('clusteripam', 'kept', ns);
    await waitForGone('inclusterippool', 'kept', ns);
  });
});
