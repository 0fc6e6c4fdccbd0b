import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FreeTree } from './free-tree.ts';

const maxHeight = (n: number): number => Math.floor(1.45 * Math.log2(n + 2));

describe('FreeTree', () => {
  it('stays balanced when ranges arrive in ascending order and leave from one end', () => {
    const tree = new FreeTree([]);
    for (let i = 0n; i < 10_000n; i++) tree.insert(i * 4n, i * 4n + 1n);
    assert.ok(tree.height <= maxHeight(10_000), `height ${tree.height}`);
    for (let i = 0; i < 9_000; i++) tree.remove(tree.first()!);
    assert.ok(tree.height <= maxHeight(1_000), `height ${tree.height}`);
    assert.equal(tree.first()!.lo, 36_000n);
  });

  it('finds neighbours and keeps order under random inserts and removals', () => {
    const op = fc.record({ insert: fc.boolean(), key: fc.nat(200) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const tree = new FreeTree([]);
        const keys = new Set<number>();
        for (const { insert, key } of ops) {
          if (insert && !keys.has(key)) {
            tree.insert(BigInt(key * 2), BigInt(key * 2));
            keys.add(key);
          } else if (!insert && keys.has(key)) {
            tree.remove(tree.atOrBefore(BigInt(key * 2))!);
            keys.delete(key);
          }
        }
        const sorted = [...keys].sort((a, b) => a - b).map((k) => BigInt(k * 2));
        assert.deepEqual(
          [...tree.ranges()].map((r) => r.lo),
          sorted,
        );
        assert.ok(tree.height <= maxHeight(keys.size));
        for (let v = -1n; v <= 402n; v++) {
          assert.equal(
            tree.atOrBefore(v)?.lo,
            sorted.findLast((k) => k <= v),
          );
          assert.equal(
            tree.after(v)?.lo,
            sorted.find((k) => k > v),
          );
        }
      }),
    );
  });
});
