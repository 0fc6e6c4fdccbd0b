import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterIPAMClaimSpec } from '../api/index.ts';
import { describeIssues, planClaim } from './claim.ts';

const fields = (spec: ClusterIPAMClaimSpec, name = 'c') => planClaim(name, spec).errors.map((e) => e.field);

describe('planClaim', () => {
  it('turns the guide option 1 cidr claim into one InClusterIPPool named after the claim', () => {
    const plan = planClaim('dev-ipam', {
      provider: 'in-cluster',
      cluster: 'dev',
      nodeNetwork: { cidr: '10.0.10.0/25', prefix: 24, gateway: '10.0.10.1' },
    });
    assert.deepEqual(plan.errors, []);
    assert.equal(plan.networks.length, 1);
    const [node] = plan.networks;
    assert.equal(node!.poolName, 'dev-ipam');
    assert.equal(node!.entry, 'ipPool');
    assert.deepEqual(node!.inCluster, { addresses: ['10.0.10.0/25'], prefix: 24, gateway: '10.0.10.1' });
    // .0 is the /24's network address, .1 the gateway: .2-.127 remain
    assert.equal(node!.pool.usable.size, 126n);
  });

  it('uses nodeNetwork.ipAddresses (single addresses, ranges, CIDRs) when given, not the cidr', () => {
    const plan = planClaim('s', {
      provider: 'in-cluster',
      nodeNetwork: {
        ipAddresses: ['192.0.2.21-192.0.2.29', '192.0.2.40', '192.0.2.41', '192.0.2.48/29'],
        prefix: 24,
        gateway: '192.0.2.1',
      },
    });
    assert.deepEqual(plan.errors, []);
    assert.deepEqual(plan.networks[0]!.inCluster.addresses, [
      '192.0.2.21-192.0.2.29',
      '192.0.2.40',
      '192.0.2.41',
      '192.0.2.48/29',
    ]);
    assert.equal(plan.networks[0]!.pool.usable.size, 9n + 2n + 8n);
  });

  it('says prefix is required with ipAddresses alone, naming the field', () => {
    const plan = planClaim('c', { provider: 'in-cluster', nodeNetwork: { ipAddresses: ['10.0.0.5'] } });
    assert.equal(describeIssues(plan.errors), 'spec.nodeNetwork.prefix: required when ipAddresses is used');
    assert.deepEqual(plan.networks, []);
  });

  it('reports a bad cidr on its field instead of ignoring the claim', () => {
    assert.deepEqual(fields({ provider: 'in-cluster', nodeNetwork: { cidr: '10.0.0.0/33' } }), [
      'spec.nodeNetwork.cidr',
    ]);
  });

  it('reports a reversed IPv6 range, which the API server cannot check', () => {
    const plan = planClaim('c', {
      provider: 'in-cluster',
      nodeNetwork: { ipAddresses: ['fd00::9-fd00::1'], prefix: 64 },
    });
    assert.deepEqual(
      plan.errors.map((e) => e.field),
      ['spec.nodeNetwork.ipAddresses[0]'],
    );
    assert.match(plan.errors[0]!.message, /starts after it ends/);
  });

  it('requires a node network', () => {
    assert.deepEqual(fields({ provider: 'in-cluster' } as ClusterIPAMClaimSpec), ['spec.nodeNetwork']);
  });

  it('gives extra networks their own pools and providerData entries', () => {
    const plan = planClaim('c', {
      provider: 'in-cluster',
      nodeNetwork: { cidr: '10.0.0.0/24' },
      clusterNetwork: { cidr: '10.1.0.0/24' },
      externalNetwork: { ipAddresses: ['10.2.0.10-10.2.0.20'], prefix: 24 },
    });
    assert.deepEqual(plan.errors, []);
    assert.deepEqual(
      plan.networks.map((n) => [n.entry, n.poolName]),
      [
        ['ipPool', 'c'],
        ['clusterIPPool', 'c-cluster'],
        ['externalIPPool', 'c-external'],
      ],
    );
  });

  it('refuses two networks of one claim that share addresses', () => {
    const plan = planClaim('c', {
      provider: 'in-cluster',
      nodeNetwork: { cidr: '10.0.0.0/24' },
      externalNetwork: { ipAddresses: ['10.0.0.200-10.0.0.210'], prefix: 24 },
    });
    assert.equal(describeIssues(plan.errors), 'spec.externalNetwork: overlaps spec.nodeNetwork: 10.0.0.200-10.0.0.210');
  });

  it('holds Infoblox claims to a cidr with its own prefix and an on-link gateway', () => {
    assert.deepEqual(fields({ provider: 'ipam-infoblox', nodeNetwork: { ipAddresses: ['10.0.0.5'], prefix: 24 } }), [
      'spec.nodeNetwork.ipAddresses',
      'spec.nodeNetwork.cidr',
    ]);
    assert.deepEqual(fields({ provider: 'ipam-infoblox', nodeNetwork: { cidr: '10.0.0.0/24', prefix: 16 } }), [
      'spec.nodeNetwork.prefix',
    ]);
    assert.deepEqual(
      fields({ provider: 'ipam-infoblox', nodeNetwork: { cidr: '10.0.0.0/25', gateway: '10.0.0.129' } }),
      ['spec.nodeNetwork.gateway'],
    );
    const ok = planClaim('e', {
      provider: 'ipam-infoblox',
      nodeNetwork: { cidr: '203.0.113.0/24', gateway: '203.0.113.1' },
    });
    assert.deepEqual(ok.networks[0]!.subnet, { cidr: '203.0.113.0/24', gateway: '203.0.113.1' });
  });

  it('only warns about an in-cluster gateway outside the subnet (off-link gateways exist)', () => {
    const plan = planClaim('c', {
      provider: 'in-cluster',
      nodeNetwork: { cidr: '10.0.0.0/25', gateway: '10.0.0.129' },
    });
    assert.deepEqual(plan.errors, []);
    assert.deepEqual(
      plan.warnings.map((w) => w.field),
      ['spec.nodeNetwork.gateway'],
    );
  });

  it('refuses a space without usable addresses, whose pool could never become ready', () => {
    assert.deepEqual(fields({ provider: 'in-cluster', nodeNetwork: { cidr: '10.0.0.7/32', gateway: '10.0.0.7' } }), [
      'spec.nodeNetwork',
    ]);
  });

  it('refuses a clusterIPAMRef that is not the claim name', () => {
    assert.deepEqual(
      fields({ provider: 'in-cluster', clusterIPAMRef: 'other', nodeNetwork: { cidr: '10.0.0.0/24' } }, 'mine'),
      ['spec.clusterIPAMRef'],
    );
  });

  it('names inline fields by where they sit in a ClusterDeployment', () => {
    const plan = planClaim(
      'd-ipam',
      { provider: 'in-cluster', nodeNetwork: { ipAddresses: ['10.0.0.5'] } },
      'spec.ipamClaim.spec',
    );
    assert.deepEqual(
      plan.errors.map((e) => e.field),
      ['spec.ipamClaim.spec.nodeNetwork.prefix'],
    );
  });

  it('plans an IPv6-only node network', () => {
    const plan = planClaim('v6', {
      provider: 'in-cluster',
      nodeNetwork: { ipAddresses: ['2001:db8:10::100-2001:db8:10::1ff'], prefix: 64, gateway: '2001:db8:10::1' },
    });
    assert.deepEqual(plan.errors, []);
    assert.equal(plan.networks[0]!.pool.usable.size, 256n);
  });
});
