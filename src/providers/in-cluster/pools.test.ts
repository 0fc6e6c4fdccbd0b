import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { overlapsWith, poolCondition, poolCounts, PoolModels, PoolRangeIndex, type PoolObject } from './pools.ts';

const models = new PoolModels();
const pool = (
  kind: string,
  namespace: string | undefined,
  name: string,
  addresses: string[],
  domain?: string,
  generation = 1,
) =>
  models.of({
    kind,
    metadata: {
      name,
      uid: `${namespace}/${name}`,
      generation,
      ...(namespace ? { namespace } : {}),
      ...(domain ? { annotations: { 'ipam.k0rdent.mirantis.com/address-domain': domain } } : {}),
    },
    spec: { addresses, prefix: 16 },
  } as PoolObject);

describe('PoolRangeIndex', () => {
  it('finds exactly the pools whose usable addresses meet, without comparing every pair', () => {
    const index = new PoolRangeIndex();
    const wide = pool('InClusterIPPool', 'a', 'wide', ['10.0.0.0/16']);
    const low = pool('InClusterIPPool', 'a', 'low', ['10.0.0.10-10.0.0.20']);
    const gap = pool('InClusterIPPool', 'a', 'gap', ['10.0.0.1', '10.0.9.1']); // its span covers mid, its addresses do not
    const mid = pool('InClusterIPPool', 'a', 'mid', ['10.0.5.0/24']);
    const far = pool('InClusterIPPool', 'a', 'far', ['10.1.0.0/24']);
    for (const m of [wide, low, gap, mid, far]) index.set(m.key, m);
    const names = (m: typeof wide) =>
      index
        .overlapping(m)
        .map((o) => o.other.key.split('/')[2])
        .sort();
    assert.deepEqual(names(low), ['wide']);
    assert.deepEqual(names(mid), ['wide']);
    assert.deepEqual(names(gap), ['wide']);
    assert.deepEqual(names(wide), ['gap', 'low', 'mid']);
    assert.deepEqual(names(far), []);
    // A change concerns the pools its old or new span met.
    const moved = pool('InClusterIPPool', 'a', 'low', ['10.1.0.5'], undefined, 2);
    index.set(moved.key, moved);
    assert.deepEqual([...index.affected(moved.key)].map((k) => k.split('/')[2]).sort(), ['far', 'gap', 'wide']);
  });

  it('reports shared addresses within a domain, the risk across the global domain, and nothing else', () => {
    const index = new PoolRangeIndex();
    const a = pool('InClusterIPPool', 'a', 'p', ['10.0.0.0/24']);
    const a2 = pool('InClusterIPPool', 'a', 'q', ['10.0.0.128/25']);
    const b = pool('InClusterIPPool', 'b', 'p', ['10.0.0.0/24']);
    const g = pool('GlobalInClusterIPPool', undefined, 'g', ['10.0.0.200-10.0.0.210']);
    for (const m of [a, a2, b, g]) index.set(m.key, m);
    const warnings = overlapsWith(a, index.overlapping(a));
    assert.equal(warnings.length, 2);
    assert.match(
      warnings[0]!,
      /^overlaps GlobalInClusterIPPool g of the global address domain at 10\.0\.0\.200-10\.0\.0\.210: the same address can be handed out twice/,
    );
    assert.match(
      warnings[1]!,
      /^overlaps InClusterIPPool a\/q at 10\.0\.0\.128\/25 \(shared: each address is handed out once\)/,
    );
  });
});

describe('poolCondition', () => {
  it("says an IPv6 pool's exact counts, not the status fields' capped ones", () => {
    const obj = {
      kind: 'InClusterIPPool',
      metadata: { name: 'huge', namespace: 'a', uid: 'huge', generation: 1 },
      spec: { addresses: ['fd00::/8'], prefix: 8 },
    } as PoolObject;
    const model = models.of(obj);
    const total = 2n ** 120n - 1n;
    const book = { total, used: 1n, free: total - 1n, outOfRange: 0n };
    const counts = poolCounts(model, book);
    assert.equal(counts?.total, Number.MAX_SAFE_INTEGER);
    assert.deepEqual(poolCondition(obj, model, counts, [], book), {
      status: 'True',
      reason: 'PoolReady',
      message: '2^120-2 of 2^120-1 addresses free',
    });
  });
});
