import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IntervalSet } from './intervals.ts';
import { findOverlaps } from './overlap.ts';

describe('findOverlaps', () => {
  it('reports each overlapping pair with the shared ranges', () => {
    const overlaps = findOverlaps([
      { name: 'pool-a', set: IntervalSet.parse(4, ['10.0.0.0/24', '10.0.5.7']) },
      { name: 'pool-b', set: IntervalSet.parse(4, ['10.0.0.128-10.0.1.10']) },
      { name: 'pool-c', set: IntervalSet.parse(4, ['10.0.5.0/24']) },
      { name: 'pool-d', set: IntervalSet.parse(6, ['::/0']) },
      { name: 'pool-e', set: IntervalSet.parse(4, ['10.0.2.0/24']) },
      { name: 'pool-f', set: IntervalSet.parse(6, ['fd00::5']) },
    ]);
    assert.deepEqual(
      overlaps.map((o) => o.message),
      [
        'pool-a and pool-b overlap: 10.0.0.128/25',
        'pool-a and pool-c overlap: 10.0.5.7',
        'pool-d and pool-f overlap: fd00::5',
      ],
    );
    assert.equal(overlaps[0]!.shared.size, 128n);
  });

  it('finds nothing among disjoint or adjacent spaces', () => {
    const spaces = [
      { name: 'a', set: IntervalSet.parse(4, ['10.0.0.0/25']) },
      { name: 'b', set: IntervalSet.parse(4, ['10.0.0.128/25']) },
      { name: 'c', set: IntervalSet.parse(6, ['::a00:0/120']) },
    ];
    assert.deepEqual(findOverlaps(spaces), []);
  });

  it('agrees with intersecting every pair', () => {
    const range = fc.tuple(fc.nat(99), fc.nat(99)).map(([x, y]) => ({
      lo: BigInt(Math.min(x, y)),
      hi: BigInt(Math.max(x, y)),
    }));
    const spaces = fc.array(fc.array(range, { maxLength: 4 }), { maxLength: 6 });
    fc.assert(
      fc.property(spaces, (lists) => {
        const named = lists.map((rs, i) => ({ name: `s${i}`, set: IntervalSet.fromRanges(4, rs) }));
        const expected: string[] = [];
        named.forEach((a, i) =>
          named.slice(i + 1).forEach((b) => {
            const shared = a.set.intersection(b.set);
            if (!shared.isEmpty) expected.push(`${a.name}/${b.name}: ${shared}`);
          }),
        );
        assert.deepEqual(
          findOverlaps(named).map((o) => `${o.a}/${o.b}: ${o.shared}`),
          expected,
        );
      }),
    );
  });
});
