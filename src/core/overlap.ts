// Overlap between named address spaces (pools, claims), which the reference provider never checks. A sweep over all
// ranges sorted by start finds the candidate pairs in O(r log r + pairs) for r ranges in total, instead of
// intersecting every pair of spaces.
import type { IntervalSet } from './intervals.ts';

export interface NamedSet {
  readonly name: string;
  readonly set: IntervalSet;
}

export interface Overlap {
  /** Names in input order: `a` comes first. */
  readonly a: string;
  readonly b: string;
  readonly shared: IntervalSet;
  /** e.g. `pool-a and pool-b overlap: 10.0.0.0/25, 10.0.1.7` */
  readonly message: string;
}

/** Every overlapping pair, ordered by the first name's position, then the second's. */
export function findOverlaps(spaces: readonly NamedSet[]): Overlap[] {
  const starts = spaces
    .flatMap(({ set }, index) => set.ranges().map(({ lo, hi }) => ({ index, family: set.family, lo, hi })))
    .sort((x, y) => x.family - y.family || (x.lo < y.lo ? -1 : x.lo > y.lo ? 1 : 0));
  const pairs = new Set<number>();
  let open: typeof starts = [];
  for (const r of starts) {
    open = open.filter((o) => o.family === r.family && o.hi >= r.lo);
    for (const o of open) {
      if (o.index !== r.index) pairs.add(Math.min(o.index, r.index) * spaces.length + Math.max(o.index, r.index));
    }
    open.push(r);
  }
  return [...pairs]
    .sort((x, y) => x - y)
    .map((pair) => {
      const a = spaces[Math.floor(pair / spaces.length)]!;
      const b = spaces[pair % spaces.length]!;
      const shared = a.set.intersection(b.set);
      return { a: a.name, b: b.name, shared, message: `${a.name} and ${b.name} overlap: ${shared}` };
    });
}
