import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAddress } from '../core/index.ts';
import type { PoolObject } from '../providers/in-cluster/pools.ts';
import { reviewPool } from './pools.ts';

const pool = (addresses: string[], annotations?: Record<string, string>): PoolObject => ({
  kind: 'InClusterIPPool',
  metadata: { name: 'p', namespace: 'ns', ...(annotations ? { annotations } : {}) },
  spec: { addresses, prefix: 24 },
});
const held = ['10.0.0.5', '10.0.0.6'].map(parseAddress);

describe('reviewPool', () => {
  it('refuses deleting a pool with allocations, unless annotated or empty', () => {
    const v = reviewPool('DELETE', undefined, pool(['10.0.0.0/24']), held);
    assert.equal(v.allowed, false);
    assert.match(
      !v.allowed ? v.message : '',
      /InClusterIPPool p still has 2 allocated addresses \(10\.0\.0\.5, 10\.0\.0\.6\)/,
    );
    const skip = { 'ipam.cluster.x-k8s.io/skip-validate-delete-webhook': '' };
    assert.deepEqual(reviewPool('DELETE', undefined, pool(['10.0.0.0/24'], skip), held), { allowed: true });
    assert.deepEqual(reviewPool('DELETE', undefined, pool(['10.0.0.0/24']), []), { allowed: true });
  });

  it('refuses a shrink that strands allocations, naming the field; allows one that does not', () => {
    const v = reviewPool('UPDATE', pool(['10.0.0.6-10.0.0.9']), pool(['10.0.0.0/24']), held);
    assert.match(
      !v.allowed ? v.message : '',
      /spec\.addresses: allocated addresses would no longer be in the pool: 10\.0\.0\.5/,
    );
    assert.deepEqual(reviewPool('UPDATE', pool(['10.0.0.5-10.0.0.6']), pool(['10.0.0.0/24']), held), { allowed: true });
  });

  it('lets a pool holding an address outside it (kept after a move) grow, refusing only what it offered', () => {
    const outside = [...held, parseAddress('10.0.0.200')];
    assert.deepEqual(reviewPool('UPDATE', pool(['10.0.0.1-10.0.0.50']), pool(['10.0.0.1-10.0.0.9']), outside), {
      allowed: true,
    });
    const v = reviewPool('UPDATE', pool(['10.0.0.6-10.0.0.9']), pool(['10.0.0.1-10.0.0.9']), outside);
    assert.match(!v.allowed ? v.message : '', /would no longer be in the pool: 10\.0\.0\.5;/);
  });

  it('refuses what validation refuses, on create and update', () => {
    const bad = pool(['fd00::9-fd00::1']);
    for (const op of ['CREATE', 'UPDATE'] as const) {
      const v = reviewPool(op, bad, op === 'UPDATE' ? pool(['fd00::1']) : undefined, []);
      assert.match(!v.allowed ? v.message : '', /spec\.addresses\[0\]: .*starts after it ends/);
    }
  });

  it('refuses moving a pool to another address domain while it has allocations, and an invalid domain name', () => {
    const blue = { 'ipam.k0rdent.mirantis.com/address-domain': 'blue' };
    const v = reviewPool('UPDATE', pool(['10.0.0.0/24'], blue), pool(['10.0.0.0/24']), held);
    assert.match(
      !v.allowed ? v.message : '',
      /cannot move from the address domain of namespace ns to address domain blue while it has 2 allocated/,
    );
    assert.deepEqual(reviewPool('UPDATE', pool(['10.0.0.0/24'], blue), pool(['10.0.0.0/24']), []), { allowed: true });
    const bad = reviewPool(
      'CREATE',
      pool(['10.0.0.0/24'], { 'ipam.k0rdent.mirantis.com/address-domain': 'Blue_1' }),
      undefined,
      [],
    );
    assert.match(
      !bad.allowed ? bad.message : '',
      /metadata\.annotations\[ipam\.k0rdent\.mirantis\.com\/address-domain\]: "Blue_1" is not a valid domain name/,
    );
  });
});
