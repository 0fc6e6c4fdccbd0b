import type { IntervalSet } from './intervals.ts';

export interface Capacity {
  readonly ok: boolean;
  /** Usable addresses not in use. */
  readonly available: bigint;
  readonly needed: bigint;
  /** How many addresses are missing; 0 when ok. */
  readonly shortfall: bigint;
}

/** Does `space` hold `needed` more machines, given the addresses already `inUse`? */
export function checkCapacity(space: IntervalSet, needed: bigint | number, inUse?: IntervalSet): Capacity {
  if (typeof needed === 'number' && !Number.isSafeInteger(needed)) {
    throw new RangeError(`needed must be a whole number, not ${needed}`);
  }
  const want = BigInt(needed);
  if (want < 0n) throw new RangeError(`needed must not be negative, not ${want}`);
  const available = space.size - (inUse ? space.intersection(inUse).size : 0n);
  const shortfall = want > available ? want - available : 0n;
  return { ok: shortfall === 0n, available, needed: want, shortfall };
}
