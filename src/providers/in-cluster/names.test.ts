import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAddress } from '../../core/index.ts';
import { defaultDomainOfKey, isInClusterPoolRef, poolKey, poolTitle, reservationName } from './names.ts';

describe('reservation names', () => {
  it('are a function of the domain and the address alone, one per address, and valid DNS subdomains', () => {
    const g = 'global';
    assert.equal(reservationName(g, parseAddress('10.0.0.5')), 'ipv4-10-0-0-5');
    assert.equal(reservationName(g, parseAddress('2001:db8::1')), 'ipv6-2001-db8-0-0-0-0-0-1');
    assert.equal(reservationName(g, parseAddress('2001:0DB8:0:0::1')), 'ipv6-2001-db8-0-0-0-0-0-1');
    assert.equal(reservationName(g, parseAddress('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).length, 44);
    for (const text of ['0.0.0.0', '255.255.255.255', '::', 'fd00::a:b']) {
      assert.match(reservationName(g, parseAddress(text)), /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });

  it('differ per domain, so two domains each hold the same address once', () => {
    const a = parseAddress('10.0.0.1');
    const names = ['global', 'namespace/tenant-a', 'namespace/tenant-b', 'tenant-a', 'blue'].map((d) =>
      reservationName(d, a),
    );
    assert.deepEqual(names, [
      'ipv4-10-0-0-1',
      'ipv4-10-0-0-1.ns.tenant-a',
      'ipv4-10-0-0-1.ns.tenant-b',
      'ipv4-10-0-0-1.domain.tenant-a',
      'ipv4-10-0-0-1.domain.blue',
    ]);
    const longest = reservationName('a'.repeat(63), parseAddress('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'));
    assert.ok(longest.length <= 253);
    for (const n of [...names, longest])
      assert.match(n, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
  });

  it("default domains: a namespaced pool is its namespace's, a global pool is global", () => {
    assert.equal(defaultDomainOfKey(poolKey('InClusterIPPool', 'ns', 'p')), 'namespace/ns');
    assert.equal(defaultDomainOfKey(poolKey('GlobalInClusterIPPool', undefined, 'p')), 'global');
  });
});

describe('pool references', () => {
  it('recognise only the in-cluster kinds of ipam.cluster.x-k8s.io', () => {
    assert.ok(isInClusterPoolRef({ apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'p' }));
    assert.ok(isInClusterPoolRef({ apiGroup: 'ipam.cluster.x-k8s.io', kind: 'GlobalInClusterIPPool', name: 'p' }));
    assert.ok(!isInClusterPoolRef({ apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InfobloxIPPool', name: 'p' }));
    assert.ok(!isInClusterPoolRef({ apiGroup: 'ipam.example.com', kind: 'InClusterIPPool', name: 'p' }));
  });

  it('key namespaced pools by namespace, global ones not', () => {
    assert.equal(poolKey('InClusterIPPool', 'ns', 'p'), 'InClusterIPPool/ns/p');
    assert.equal(poolKey('GlobalInClusterIPPool', 'ns', 'p'), 'GlobalInClusterIPPool//p');
    assert.equal(poolTitle('InClusterIPPool/ns/p'), 'InClusterIPPool ns/p');
    assert.equal(poolTitle('GlobalInClusterIPPool//p'), 'GlobalInClusterIPPool p');
  });
});
