import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCapacity } from './capacity.ts';
import { IntervalSet } from './intervals.ts';

describe('checkCapacity', () => {
  const space = IntervalSet.parse(4, ['10.0.0.1-10.0.0.10']);
  const inUse = IntervalSet.parse(4, ['10.0.0.1-10.0.0.4', '10.0.0.200']);

  it('says how many addresses are missing', () => {
    assert.deepEqual(checkCapacity(space, 7, inUse), { ok: false, available: 6n, needed: 7n, shortfall: 1n });
    assert.deepEqual(checkCapacity(space, 6, inUse), { ok: true, available: 6n, needed: 6n, shortfall: 0n });
    assert.deepEqual(checkCapacity(space, 3), { ok: true, available: 10n, needed: 3n, shortfall: 0n });
  });

  it('counts astronomically large spaces exactly', () => {
    const v6 = IntervalSet.parse(6, ['fd00::/64']);
    const needed = (1n << 64n) + 5n;
    assert.deepEqual(checkCapacity(v6, needed), { ok: false, available: 1n << 64n, needed, shortfall: 5n });
  });

  it('refuses a negative or fractional need', () => {
    assert.throws(() => checkCapacity(space, -1), RangeError);
    assert.throws(() => checkCapacity(space, 1.5), RangeError);
  });
});
