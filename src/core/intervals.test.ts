import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { IntervalSet } from './intervals.ts';
import { IpParseError, maxValue, parseAddress, type Family } from './ip.ts';

const v4 = (texts: string[]): IntervalSet => IntervalSet.parse(4, texts);
const v6 = (texts: string[]): IntervalSet => IntervalSet.parse(6, texts);
const value = (text: string): bigint => parseAddress(text).value;

describe('IntervalSet', () => {
  it('normalises overlapping, adjacent and unordered entries into compact ranges', () => {
    const s = v4(['10.0.0.8-10.0.0.20', '10.0.0.0/29', '10.0.0.30', '10.0.0.15-10.0.0.21', '10.0.0.31']);
    assert.deepEqual(s.toStrings(), ['10.0.0.0-10.0.0.21', '10.0.0.30/31']);
    assert.equal(s.size, 24n);
    assert.equal(s.ranges().length, 2);
  });

  it('prints single addresses, exact CIDRs and ranges, and decomposes into the fewest CIDRs', () => {
    const s = v4(['10.0.0.1-10.0.0.254', '10.0.1.0/24', '10.0.3.7']);
    assert.equal(s.toString(), '10.0.0.1-10.0.0.254, 10.0.1.0/24, 10.0.3.7');
    assert.deepEqual(v4(['10.0.0.1-10.0.0.6']).toCidrs(), ['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32']);
    assert.deepEqual(v4(['0.0.0.0/0']).toCidrs(), ['0.0.0.0/0']);
    assert.deepEqual(v6(['::/0']).toStrings(), ['::/0']);
    assert.deepEqual(v6(['fd00::1-fd00::3']).toCidrs(), ['fd00::1/128', 'fd00::2/127']);
  });

  it('answers membership and next-member queries by binary search', () => {
    const s = v4(['10.0.0.10-10.0.0.19', '10.0.0.40-10.0.0.49']);
    assert.equal(s.has(value('10.0.0.10')), true);
    assert.equal(s.has(value('10.0.0.20')), false);
    assert.equal(s.firstAtOrAfter(value('10.0.0.0')), value('10.0.0.10'));
    assert.equal(s.firstAtOrAfter(value('10.0.0.15')), value('10.0.0.15'));
    assert.equal(s.firstAtOrAfter(value('10.0.0.20')), value('10.0.0.40'));
    assert.equal(s.firstAtOrAfter(value('10.0.0.50')), undefined);
  });

  it('handles an IPv6 /64 without enumerating it', () => {
    const s = v6(['2001:db8::/64']).difference(v6(['2001:db8::', '2001:db8::ffff:ffff:ffff:ffff']));
    assert.equal(s.size, (1n << 64n) - 2n);
    assert.deepEqual(s.toStrings(), ['2001:db8::1-2001:db8::ffff:ffff:ffff:fffe']);
    assert.equal(s.toCidrs().length, 126);
    assert.equal(s.has(value('2001:db8::8000:0:0:0')), true);
  });

  it('refuses to combine families and rejects entries of the other family', () => {
    assert.throws(() => v4(['10.0.0.0/24']).union(v6(['fd00::/64'])), TypeError);
    assert.throws(() => v4(['fd00::1']), IpParseError);
    assert.throws(() => IntervalSet.fromRanges(4, [{ lo: 0n, hi: maxValue(4) + 1n }]), RangeError);
    assert.throws(() => IntervalSet.fromRanges(4, [{ lo: 5n, hi: 4n }]), RangeError);
  });

  it('compares by content', () => {
    assert.equal(v4(['10.0.0.0/31']).equals(v4(['10.0.0.1', '10.0.0.0'])), true);
    assert.equal(v4(['10.0.0.0/31']).equals(v4(['10.0.0.0'])), false);
    assert.equal(IntervalSet.empty(4).equals(IntervalSet.empty(6)), false);
  });
});

describe('IntervalSet algebra against a Set<bigint> model', () => {
  const universe = 40;
  // Small universes at both ends of each family's address space, where off-by-one mistakes live.
  const space = fc.record({ family: fc.constantFrom<Family>(4, 6), top: fc.boolean() });
  const ranges = fc.array(
    fc.tuple(fc.nat(universe - 1), fc.nat(universe - 1)).map(([a, b]) => ({
      lo: BigInt(Math.min(a, b)),
      hi: BigInt(Math.max(a, b)),
    })),
    { maxLength: 6 },
  );
  const model = (base: bigint, rs: { lo: bigint; hi: bigint }[]): Set<bigint> => {
    const out = new Set<bigint>();
    for (const r of rs) for (let v = r.lo; v <= r.hi; v++) out.add(base + v);
    return out;
  };
  const build = (family: Family, base: bigint, rs: { lo: bigint; hi: bigint }[]): IntervalSet =>
    IntervalSet.fromRanges(
      family,
      rs.map((r) => ({ lo: base + r.lo, hi: base + r.hi })),
    );
  const sorted = (s: Iterable<bigint>): bigint[] => [...s].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  it('agrees with the model on every operation', () => {
    fc.assert(
      fc.property(space, ranges, ranges, ({ family, top }, ra, rb) => {
        const base = top ? maxValue(family) - BigInt(universe - 1) : 0n;
        const [a, b] = [build(family, base, ra), build(family, base, rb)];
        const [ma, mb] = [model(base, ra), model(base, rb)];
        assert.deepEqual([...a], sorted(ma));
        assert.equal(a.size, BigInt(ma.size));
        assert.deepEqual([...a.union(b)], sorted(new Set([...ma, ...mb])));
        assert.deepEqual([...a.intersection(b)], sorted([...ma].filter((v) => mb.has(v))));
        assert.deepEqual([...a.difference(b)], sorted([...ma].filter((v) => !mb.has(v))));
        assert.equal(a.equals(b), sorted(ma).join() === sorted(mb).join());
        for (let i = 0n; i < BigInt(universe); i++) {
          const v = base + i;
          assert.equal(a.has(v), ma.has(v));
          assert.equal(
            a.firstAtOrAfter(v),
            sorted(ma).find((m) => m >= v),
          );
        }
      }),
    );
  });

  it('keeps ranges sorted, disjoint and non-adjacent, and prints text that parses back to the same set', () => {
    fc.assert(
      fc.property(space, ranges, ({ family, top }, rs) => {
        const base = top ? maxValue(family) - BigInt(universe - 1) : 0n;
        const s = build(family, base, rs);
        s.ranges().forEach((r, i, all) => assert.ok(i === 0 || all[i - 1]!.hi + 1n < r.lo));
        assert.ok(IntervalSet.parse(family, s.toStrings()).equals(s));
        assert.ok(IntervalSet.parse(family, s.toCidrs()).equals(s));
      }),
    );
  });
});
