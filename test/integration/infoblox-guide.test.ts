// The guide's two options with `provider: ipam-infoblox`, using the manifests of examples/ with the instance pointed
// at the WAPI simulator: the ClusterIPAMClaim is bound (its InfobloxIPPool on the only instance, Ready), the
// ClusterDeployment passes its gate, machine IPAddressClaims get addresses recorded as host records named after the
// claims, and deleting the claims removes them from the appliance.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IPAddressClaims, InfobloxIPPools } from '../../src/api/index.ts';
import { kubectl, testNamespace } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  condition,
  example,
  get,
  readExample,
  waitForCondition,
  waitForObject,
  type Obj,
} from '../e2e/ipam-support.ts';
import {
  createClaim,
  gone,
  infobloxEnv,
  instanceReady,
  managerNamespace,
  poolReady,
  recordsByName,
  waitForAddress,
  type Env,
} from './infoblox-support.ts';

let env: Env;

describe('ipam-infoblox: the user guide', () => {
  before(async () => {
    env = await infobloxEnv({
      network: [{ network: '203.0.113.0/24' }, { network: '203.0.113.128/25' }],
      // The gateway is on the appliance already, as in a real data centre.
      'record:host': [
        { name: 'gateway', configure_for_dns: false, ipv4addrs: [{ ipv4addr: '203.0.113.1' }] },
        { name: 'branch-gateway', configure_for_dns: false, ipv4addrs: [{ ipv4addr: '203.0.113.129' }] },
      ],
    });
    await env.startManager();
    // The example's Secret and instance, as a user applies them, the instance pointed at the simulator.
    await kubectl(['apply', '-f', example('infoblox/credentials-secret.yaml')], { namespace: managerNamespace });
    const instance = await readExample('infoblox/infobloxinstance.yaml');
    instance.spec = {
      ...instance.spec,
      ...env.instanceSpec({ credentialsSecretRef: instance.spec.credentialsSecretRef }),
    };
    await kubectl(['apply', '-f', '-'], { input: JSON.stringify(instance) });
    await instanceReady(env.client, 'infoblox-dc1');
  });
  after(async () => {
    await env?.stop();
  });

  it('Option 1: the claim is bound, its deployment gets the pool, machines get host records, deletion frees them', async () => {
    const ns = await testNamespace('ib-guide-ref');
    await kubectl(['apply', '-f', example('infoblox/clusteripamclaim.yaml')], { namespace: ns });
    await kubectl(['apply', '-f', example('infoblox/clusterdeployment.yaml')], { namespace: ns });
    const claim = await waitForObject('clusteripamclaim', 'edge-vsphere-ipam', ns, (o) => o.status?.bound, 'bound');
    assert.equal(condition(claim, 'Ready')?.reason, 'Bound');
    const cipam = (await get('clusteripam', 'edge-vsphere-ipam', ns))!;
    assert.equal(cipam.spec.provider, 'ipam-infoblox');
    assert.deepEqual(cipam.status.providerData, [
      {
        name: 'ipPool',
        config: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InfobloxIPPool', name: 'edge-vsphere-ipam' },
        ready: true,
      },
    ]);
    const pool = await poolReady(env.client, ns, 'edge-vsphere-ipam');
    assert.deepEqual(pool.spec.instance, { name: 'infoblox-dc1' });
    assert.deepEqual(pool.spec.subnets, [{ cidr: '203.0.113.0/24', gateway: '203.0.113.1' }]);
    assert.match(pool.status!.conditions![0]!.message, /network view "default", DNS view "default" and its subnet/);

    const d = await waitForCondition('clusterdeployment', 'edge-vsphere', ns, 'IPAMReady', 'True');
    assert.equal(d.spec.config.ipamEnabled, true);
    assert.deepEqual(d.spec.config.ipPool, cipam.status.providerData[0]);

    // The machines of the cluster, as its infrastructure provider asks for their addresses.
    const machines = ['edge-vsphere-cp-0', 'edge-vsphere-cp-1', 'edge-vsphere-md-0'];
    const labels = { 'cluster.x-k8s.io/cluster-name': 'edge-vsphere' };
    await Promise.all(machines.map((m) => createClaim(env.client, ns, m, 'edge-vsphere-ipam', { labels })));
    const addresses = await Promise.all(machines.map((m) => waitForAddress(env.client, ns, m)));
    assert.deepEqual(addresses.map((a) => a.spec.address).sort(), ['203.0.113.2', '203.0.113.3', '203.0.113.4']);
    for (const a of addresses) {
      assert.equal(a.spec.prefix, 24);
      assert.equal(a.spec.gateway, '203.0.113.1');
      assert.deepEqual(a.spec.poolRef, {
        apiGroup: 'ipam.cluster.x-k8s.io',
        kind: 'InfobloxIPPool',
        name: 'edge-vsphere-ipam',
      });
      assert.equal(a.metadata.labels?.['cluster.x-k8s.io/cluster-name'], 'edge-vsphere');
    }
    const records = recordsByName(env.sim);
    for (const a of addresses) {
      assert.deepEqual(records.get(a.metadata.name!), [[a.spec.address]], `one host record named ${a.metadata.name}`);
      const c = await env.client.resource(IPAddressClaims).get({ namespace: ns, name: a.metadata.name! });
      assert.equal(c.metadata.annotations?.['ipam.cluster.x-k8s.io/hostname'], a.metadata.name);
    }
    const [rec] = env.sim.state.hostRecords().filter((r) => r.name === machines[0]);
    assert.deepEqual([rec!.configureForDNS, rec!.view, rec!.networkView], [false, ' ', 'default']);
    const protectedPool = await env.client.resource(InfobloxIPPools).get({ namespace: ns, name: 'edge-vsphere-ipam' });
    assert.ok(protectedPool.metadata.finalizers?.includes('ipam.cluster.x-k8s.io/ProtectPool'));

    // Deleting the machines' claims gives the addresses back on the appliance.
    await kubectl(['delete', 'ipaddressclaims', ...machines, '--wait=true', '--timeout=30s'], { namespace: ns });
    const left = recordsByName(env.sim);
    for (const m of machines) assert.equal(left.get(m), undefined, `host record ${m} removed`);
    assert.deepEqual(left.get('gateway'), [['203.0.113.1']]);

    // The claim goes, its pool with it (nothing holds it any more).
    await kubectl(['delete', 'clusterdeployment', 'edge-vsphere'], { namespace: ns });
    await kubectl(['delete', 'clusteripamclaim', 'edge-vsphere-ipam', '--wait=true', '--timeout=30s'], {
      namespace: ns,
    });
    await waitFor(
      () => gone(() => env.client.resource(InfobloxIPPools).get({ namespace: ns, name: 'edge-vsphere-ipam' })),
      {
        what: 'the pool to be deleted',
      },
    );
  });

  it('Option 2: an inline ipam-infoblox claim is bound and its deployment gets the pool', async () => {
    const ns = await testNamespace('ib-guide-inline');
    const source = await readExample('infoblox-inline/clusterdeployment.yaml');
    await kubectl(['apply', '-f', example('infoblox-inline/clusterdeployment.yaml')], { namespace: ns });
    const d = await waitForCondition('clusterdeployment', 'branch-vsphere', ns, 'IPAMReady', 'True');
    const cipam: Obj = (await get('clusteripam', 'branch-vsphere-ipam', ns))!;
    assert.equal(cipam.status.phase, 'Bound');
    assert.deepEqual(d.spec.config.ipPool, cipam.status.providerData[0]);
    assert.equal(cipam.status.providerData[0].config.kind, 'InfobloxIPPool');
    const { ipamEnabled, ipPool, ...rest } = d.spec.config;
    assert.equal(ipamEnabled, true);
    assert.ok(ipPool);
    assert.deepEqual(rest, source.spec.config);

    await createClaim(env.client, ns, 'branch-vsphere-cp-0', 'branch-vsphere-ipam');
    const a = await waitForAddress(env.client, ns, 'branch-vsphere-cp-0');
    // 203.0.113.128/25: the first usable address no host record holds (.129 is the gateway's).
    assert.equal(a.spec.address, '203.0.113.130');
    assert.equal(a.spec.prefix, 25);
    assert.equal(a.spec.gateway, '203.0.113.129');
    assert.deepEqual(recordsByName(env.sim).get('branch-vsphere-cp-0'), [['203.0.113.130']]);
  });
});
