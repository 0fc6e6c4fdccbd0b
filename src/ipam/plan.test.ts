import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planManifests, type Manifest } from './plan.ts';

const m = (object: Manifest['object'], source = 'test.yaml'): Manifest => ({ source, object });

const deployment = (name: string, config: Record<string, unknown>, nodeNetwork: Record<string, unknown>) =>
  m({
    kind: 'ClusterDeployment',
    metadata: { name },
    spec: { template: 't', config, ipamClaim: { spec: { provider: 'in-cluster', nodeNetwork } } },
  });

test('plan: machines get the lowest free addresses, control planes first, gateway and reserved skipped', () => {
  const plan = planManifests([
    deployment('a', { controlPlaneNumber: 1, workersNumber: 2 }, { cidr: '10.0.0.0/29', gateway: '10.0.0.1' }),
  ]);
  assert.deepEqual(plan.problems, []);
  assert.deepEqual(
    plan.clusters[0]!.machines.map((x) => `${x.machine}=${x.address}`),
    ['control-plane-0=10.0.0.2', 'worker-0=10.0.0.3', 'worker-1=10.0.0.4'],
  );
  assert.equal(plan.pools[0]!.pool, 'InClusterIPPool default/a-ipam');
  assert.equal(plan.pools[0]!.free, 2n);
});

test('plan: an endpoint inside the node network is excluded from the machines, with a warning', () => {
  const plan = planManifests([
    deployment(
      'prod',
      { controlPlaneNumber: 3, workersNumber: 5, controlPlaneEndpointIP: '198.51.100.5' },
      { cidr: '198.51.100.0/24', gateway: '198.51.100.1' },
    ),
  ]);
  const [p] = plan.problems;
  assert.equal(p?.severity, 'warning');
  assert.equal(p.field, 'spec.config.controlPlaneEndpointIP');
  assert.match(p.message, /198\.51\.100\.5 is inside the node network; excluded from node addresses/);
  assert.deepEqual(plan.clusters[0]!.endpoint, { address: '198.51.100.5', from: 'config' });
  const addresses = plan.clusters[0]!.machines.map((x) => x.address);
  assert.ok(!addresses.includes('198.51.100.5'));
  assert.equal(addresses[3], '198.51.100.6', 'the 4th machine gets the next address');
});

test('plan: an endpoint outside the node network is fine', () => {
  const net = { cidr: '10.0.0.0/24' };
  const outside = planManifests([deployment('a', { controlPlaneNumber: 1, controlPlaneEndpointIP: '10.0.1.1' }, net)]);
  assert.deepEqual(outside.problems, []);
});

test('plan: the endpoint comes from the externalNetwork when unset', () => {
  const d = m({
    kind: 'ClusterDeployment',
    metadata: { name: 'a', namespace: 'ns' },
    spec: {
      config: { controlPlaneNumber: 1 },
      ipamClaim: {
        spec: {
          provider: 'in-cluster',
          nodeNetwork: { cidr: '10.0.0.0/24' },
          externalNetwork: { cidr: '10.9.0.0/30' },
        },
      },
    },
  });
  assert.deepEqual(planManifests([d]).clusters[0]!.endpoint, { address: '10.9.0.1', from: 'externalNetwork' });
});

test('plan: with the annotation and no externalNetwork the endpoint is the node network first address', () => {
  const d = deployment('a', { controlPlaneNumber: 1 }, { cidr: '10.0.0.0/29', gateway: '10.0.0.1' });
  (d.object.metadata as { annotations?: Record<string, string> }).annotations = {
    'k0rdent.mirantis.com/endpoint-from-node-network': 'true',
  };
  const plan = planManifests([d]);
  assert.deepEqual(plan.clusters[0]!.endpoint, { address: '10.0.0.2', from: 'nodeNetwork' });
  assert.equal(plan.clusters[0]!.machines[0]!.address, '10.0.0.3');
});

test('plan: capacity counts control planes + workers + 1', () => {
  const plan = planManifests([
    deployment('small', { controlPlaneNumber: 3, workersNumber: 2 }, { cidr: '10.0.0.0/29', gateway: '10.0.0.1' }),
  ]);
  const p = plan.problems.find((x) => x.field === 'spec.config');
  assert.match(p!.message, /6 addresses, but the node network .* has 5 usable: 1 address missing/);
  assert.equal(p!.severity, 'error');
  assert.equal(plan.clusters[0]!.machines.at(-1)!.address, '10.0.0.6');
});

test('plan: field-named validation errors, overlaps within a domain, not across', () => {
  const claim = (name: string, cidr: string, namespace = 'default') =>
    m({
      kind: 'ClusterIPAMClaim',
      metadata: { name, namespace },
      spec: { provider: 'in-cluster', nodeNetwork: { cidr } },
    });
  const bad = planManifests([claim('x', '10.0.0.0/33')]);
  assert.equal(bad.problems[0]?.field, 'spec.nodeNetwork.cidr');
  const same = planManifests([claim('a', '10.0.0.0/24'), claim('b', '10.0.0.128/25')]);
  assert.ok(same.problems.some((p) => p.object === 'ClusterIPAMClaim default/b' && /overlaps/.test(p.message)));
  const apart = planManifests([claim('a', '10.0.0.0/24'), claim('b', '10.0.0.128/25', 'other')]);
  assert.deepEqual(apart.problems, []);
});

test('plan: IPAddressClaims share the addresses of their domain; IPv6 counts are exact', () => {
  const pool = (name: string, addresses: string[], prefix: number) =>
    m({ kind: 'InClusterIPPool', metadata: { name }, spec: { addresses, prefix } });
  const ipc = (name: string, pool: string) =>
    m({ kind: 'IPAddressClaim', metadata: { name }, spec: { poolRef: { kind: 'InClusterIPPool', name: pool } } });
  const plan = planManifests([
    pool('p', ['10.0.0.10-10.0.0.12'], 24),
    pool('q', ['10.0.0.10-10.0.0.20'], 24),
    pool('v6', ['2001:db8::/64'], 64),
    ipc('one', 'p'),
    ipc('two', 'q'),
    ipc('missing', 'nope'),
  ]);
  assert.deepEqual(
    plan.claims.map((c) => c.address),
    ['10.0.0.10', '10.0.0.11'],
  );
  assert.ok(plan.problems.some((p) => p.field === 'spec.poolRef' && p.severity === 'warning'));
  const v6 = plan.pools.find((p) => p.pool.endsWith('/v6'))!;
  assert.equal(v6.totalHuman, '2^64-1');
  assert.equal(v6.total, 2n ** 64n - 1n);
});

test('plan: a gateway outside the subnet is a warning on the field, as the controllers report it', () => {
  const plan = planManifests([
    m({
      kind: 'InClusterIPPool',
      metadata: { name: 'p' },
      spec: { addresses: ['10.0.0.0/24'], prefix: 24, gateway: '10.0.1.1' },
    }),
  ]);
  assert.deepEqual(
    plan.problems.map((p) => [p.severity, p.field]),
    [['warning', 'spec.gateway']],
  );
});
