import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AllocationError, Allocator, capCount, statusCounts } from './allocator.ts';
import { IntervalSet } from './intervals.ts';
import { formatAddress, parseAddress, type Address } from './ip.ts';

const a = parseAddress;
const next = (allocator: Allocator): string | undefined => {
  const got = allocator.allocate();
  return got && formatAddress(got);
};

describe('Allocator', () => {
  it('hands out the lowest free address and reuses a released one first', () => {
    const allocator = new Allocator(IntervalSet.parse(4, ['10.0.0.10-10.0.0.12', '10.0.0.1']));
    assert.deepEqual([next(allocator), next(allocator), next(allocator)], ['10.0.0.1', '10.0.0.10', '10.0.0.11']);
    assert.equal(allocator.release(a('10.0.0.10')), true);
    assert.deepEqual([next(allocator), next(allocator), next(allocator)], ['10.0.0.10', '10.0.0.12', undefined]);
  });

  it('skips addresses already in use when built', () => {
    const inUse = ['10.0.0.1', '10.0.0.2', '10.0.0.4', '10.0.0.4'].map(a);
    const allocator = new Allocator(IntervalSet.parse(4, ['10.0.0.1-10.0.0.6']), inUse);
    assert.deepEqual(allocator.counts(), { total: 6n, used: 3n, free: 3n, outOfRange: 0n });
    assert.deepEqual([next(allocator), next(allocator)], ['10.0.0.3', '10.0.0.5']);
  });

  it('allocates a specific address, refusing one that is not usable or already in use', () => {
    const allocator = new Allocator(IntervalSet.parse(4, ['10.0.0.1-10.0.0.6']));
    allocator.allocateAddress(a('10.0.0.3'));
    assert.equal(allocator.isInUse(a('10.0.0.3')), true);
    assert.throws(
      () => allocator.allocateAddress(a('10.0.0.3')),
      (e) => e instanceof AllocationError && e.code === 'in-use' && e.message === '10.0.0.3 is already in use',
    );
    assert.throws(
      () => allocator.allocateAddress(a('10.0.0.7')),
      (e) => e instanceof AllocationError && e.code === 'not-usable',
    );
    assert.throws(() => allocator.allocateAddress(a('fd00::1')), AllocationError);
    assert.deepEqual([next(allocator), next(allocator), next(allocator)], ['10.0.0.1', '10.0.0.2', '10.0.0.4']);
  });

  it('counts addresses in use outside the usable set as out of range until released', () => {
    const inUse = ['10.0.0.2', '10.0.0.99', 'fd00::1'].map(a);
    const allocator = new Allocator(IntervalSet.parse(4, ['10.0.0.1-10.0.0.4']), inUse);
    assert.deepEqual(allocator.counts(), { total: 4n, used: 1n, free: 3n, outOfRange: 2n });
    assert.deepEqual(allocator.outOfRangeAddresses().map(formatAddress), ['10.0.0.99', 'fd00::1']);
    assert.equal(allocator.isInUse(a('10.0.0.99')), true);
    assert.equal(allocator.release(a('10.0.0.99')), true);
    assert.equal(allocator.release(a('10.0.0.99')), false);
    assert.equal(allocator.release(a('10.0.0.3')), false);
    assert.deepEqual(allocator.counts(), { total: 4n, used: 1n, free: 3n, outOfRange: 1n });
  });

  it('serves an IPv6 /64 without enumerating it and caps its counts for status', () => {
    const usable = IntervalSet.parse(6, ['2001:db8::1-2001:db8::ffff:ffff:ffff:ffff']);
    const allocator = new Allocator(usable, [a('2001:db8::1'), a('2001:db8::ffff:ffff:ffff:ffff')]);
    assert.equal(next(allocator), '2001:db8::2');
    allocator.allocateAddress(a('2001:db8::8000:0:0:0'));
    assert.equal(allocator.release(a('2001:db8::ffff:ffff:ffff:ffff')), true);
    assert.deepEqual(allocator.counts(), { total: (1n << 64n) - 1n, used: 3n, free: (1n << 64n) - 4n, outOfRange: 0n });
    assert.deepEqual(statusCounts(allocator.counts()), {
      total: Number.MAX_SAFE_INTEGER,
      used: 3,
      free: Number.MAX_SAFE_INTEGER,
      outOfRange: 0,
    });
    assert.equal(
      allocator.freeSet().toString(),
      '2001:db8::3-2001:db8::7fff:ffff:ffff:ffff, 2001:db8::8000:0:0:1-2001:db8::ffff:ffff:ffff:ffff',
    );
  });

  it('caps counts at the largest safe integer', () => {
    assert.equal(capCount(5n), 5);
    assert.equal(capCount(BigInt(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
    assert.equal(capCount(1n << 128n), Number.MAX_SAFE_INTEGER);
  });
});

describe('Allocator properties against a Set<bigint> model', () => {
  const universe = 64;
  const usableRanges = fc.array(
    fc.tuple(fc.nat(universe - 1), fc.nat(universe - 1)).map(([x, y]) => ({
      lo: BigInt(Math.min(x, y)),
      hi: BigInt(Math.max(x, y)),
    })),
    { minLength: 1, maxLength: 6 },
  );
  // Small values (0..universe+7) so that operations hit usable, used and out-of-range addresses alike.
  const value = fc.nat(universe + 7).map(BigInt);
  const op = fc.oneof(
    fc.constant({ kind: 'allocate' as const }),
    value.map((v) => ({ kind: 'allocateAddress' as const, v })),
    value.map((v) => ({ kind: 'release' as const, v })),
  );
  const addr = (value: bigint): Address => ({ family: 4, value });

  it('never hands out an address twice, stays inside the usable set, and keeps its counts exact', () => {
    fc.assert(
      fc.property(
        usableRanges,
        fc.array(value, { maxLength: 10 }),
        fc.array(op, { maxLength: 80 }),
        (rs, initial, ops) => {
          const usable = IntervalSet.fromRanges(4, rs);
          const allocator = new Allocator(usable, initial.map(addr));
          const used = new Set(initial);
          for (const o of ops) {
            if (o.kind === 'allocate') {
              const got = allocator.allocate();
              const lowest = [...usable].find((v) => !used.has(v));
              assert.equal(got?.value, lowest);
              if (got !== undefined) used.add(got.value);
            } else if (o.kind === 'allocateAddress') {
              const ok = usable.has(o.v) && !used.has(o.v);
              if (ok) {
                allocator.allocateAddress(addr(o.v));
                used.add(o.v);
              } else assert.throws(() => allocator.allocateAddress(addr(o.v)), AllocationError);
            } else {
              assert.equal(allocator.release(addr(o.v)), used.delete(o.v));
            }
            const inside = [...used].filter((v) => usable.has(v)).length;
            assert.deepEqual(allocator.counts(), {
              total: usable.size,
              used: BigInt(inside),
              free: usable.size - BigInt(inside),
              outOfRange: BigInt(used.size - inside),
            });
            for (let v = 0n; v < BigInt(universe + 8); v++) assert.equal(allocator.isInUse(addr(v)), used.has(v));
          }
        },
      ),
    );
  });

  it('returns to its initial state after allocating everything and releasing it all', () => {
    fc.assert(
      fc.property(usableRanges, fc.array(value, { maxLength: 10 }), (rs, initial) => {
        const usable = IntervalSet.fromRanges(4, rs);
        const allocator = new Allocator(usable, initial.map(addr));
        const before = { free: allocator.freeSet(), counts: allocator.counts() };
        const taken: bigint[] = [];
        for (let got = allocator.allocate(); got !== undefined; got = allocator.allocate()) taken.push(got.value);
        assert.equal(new Set(taken).size, taken.length);
        assert.ok(taken.every((v) => usable.has(v) && !initial.includes(v)));
        assert.equal(allocator.counts().free, 0n);
        for (const v of taken.reverse()) assert.equal(allocator.release(addr(v)), true);
        assert.ok(allocator.freeSet().equals(before.free));
        assert.deepEqual(allocator.counts(), before.counts);
      }),
    );
  });
});
