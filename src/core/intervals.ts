// Immutable sets of addresses of one family, kept as sorted, disjoint, non-adjacent inclusive ranges. The form is
// canonical, so equal sets have equal range lists; set algebra is a linear merge, O(n + m) in ranges and never in
// addresses, and membership is a binary search, so an IPv6 /64 costs one range like a single address does.
import {
  exactPrefix,
  familyBits,
  familyName,
  formatAddress,
  formatCidr,
  IpParseError,
  maxValue,
  parseEntry,
  type Family,
  type Range,
} from './ip.ts';

const byLo = (a: Range, b: Range): number => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0);

export class IntervalSet {
  /** Number of addresses. */
  readonly size: bigint;

  private constructor(
    readonly family: Family,
    private readonly list: readonly Range[],
  ) {
    let size = 0n;
    for (const r of list) size += r.hi - r.lo + 1n;
    this.size = size;
  }

  static empty(family: Family): IntervalSet {
    return new IntervalSet(family, []);
  }

  /** Ranges in any order, possibly overlapping or adjacent. */
  static fromRanges(family: Family, ranges: Iterable<Range>): IntervalSet {
    const max = maxValue(family);
    const sorted = [...ranges].sort(byLo);
    const out: Range[] = [];
    for (const { lo, hi } of sorted) {
      if (lo < 0n || hi > max || lo > hi)
        throw new RangeError(`[${lo}, ${hi}] is not a range of ${familyName(family)}`);
      const last = out.at(-1);
      if (last === undefined || lo > last.hi + 1n) out.push({ lo, hi });
      else if (hi > last.hi) out[out.length - 1] = { lo: last.lo, hi };
    }
    return new IntervalSet(family, out);
  }

  static fromValues(family: Family, values: Iterable<bigint>): IntervalSet {
    const ranges: Range[] = [];
    for (const v of values) ranges.push({ lo: v, hi: v });
    return IntervalSet.fromRanges(family, ranges);
  }

  /** Pool-syntax entries (address, `A-B`, CIDR), all of `family`; throws IpParseError. */
  static parse(family: Family, entries: Iterable<string>): IntervalSet {
    const ranges: Range[] = [];
    for (const text of entries) {
      const entry = parseEntry(text);
      if (entry.family !== family) throw new IpParseError(`"${text}" is not ${familyName(family)}`);
      ranges.push(entry);
    }
    return IntervalSet.fromRanges(family, ranges);
  }

  get isEmpty(): boolean {
    return this.list.length === 0;
  }

  ranges(): readonly Range[] {
    return this.list;
  }

  has(value: bigint): boolean {
    const r = this.list[this.indexAtOrBefore(value)];
    return r !== undefined && value <= r.hi;
  }

  /** The smallest member ≥ value. */
  firstAtOrAfter(value: bigint): bigint | undefined {
    const i = this.indexAtOrBefore(value);
    const r = this.list[i];
    if (r !== undefined && value <= r.hi) return value;
    return this.list[i + 1]?.lo;
  }

  union(other: IntervalSet): IntervalSet {
    this.check(other);
    return IntervalSet.fromRanges(this.family, [...this.list, ...other.list]);
  }

  intersection(other: IntervalSet): IntervalSet {
    this.check(other);
    const out: Range[] = [];
    const a = this.list;
    const b = other.list;
    for (let i = 0, j = 0; i < a.length && j < b.length;) {
      const x = a[i]!;
      const y = b[j]!;
      const lo = x.lo > y.lo ? x.lo : y.lo;
      const hi = x.hi < y.hi ? x.hi : y.hi;
      if (lo <= hi) out.push({ lo, hi });
      if (x.hi < y.hi) i++;
      else j++;
    }
    return new IntervalSet(this.family, out);
  }

  difference(other: IntervalSet): IntervalSet {
    this.check(other);
    const out: Range[] = [];
    const b = other.list;
    let j = 0;
    for (const { lo: start, hi } of this.list) {
      let lo = start;
      while (j < b.length && b[j]!.hi < lo) j++;
      for (let k = j; k < b.length && b[k]!.lo <= hi; k++) {
        if (b[k]!.lo > lo) out.push({ lo, hi: b[k]!.lo - 1n });
        lo = b[k]!.hi + 1n;
      }
      if (lo <= hi) out.push({ lo, hi });
    }
    return new IntervalSet(this.family, out);
  }

  equals(other: IntervalSet): boolean {
    return (
      this.family === other.family &&
      this.list.length === other.list.length &&
      this.list.every((r, i) => r.lo === other.list[i]!.lo && r.hi === other.list[i]!.hi)
    );
  }

  *[Symbol.iterator](): Generator<bigint> {
    for (const { lo, hi } of this.list) for (let v = lo; v <= hi; v++) yield v;
  }

  /** One string per range: an address, a CIDR when the range is exactly one, else `A-B`. */
  toStrings(): string[] {
    return this.list.map((r) => {
      const lo = formatAddress({ family: this.family, value: r.lo });
      if (r.lo === r.hi) return lo;
      const prefix = exactPrefix(this.family, r);
      if (prefix !== undefined) return formatCidr(this.family, r.lo, prefix);
      return `${lo}-${formatAddress({ family: this.family, value: r.hi })}`;
    });
  }

  /** The fewest CIDRs that make up the set. */
  toCidrs(): string[] {
    const bits = familyBits(this.family);
    const out: string[] = [];
    for (const r of this.list) {
      for (let lo = r.lo; lo <= r.hi;) {
        let size = lo === 0n ? 1n << BigInt(bits) : lo & -lo;
        while (lo + size - 1n > r.hi) size >>= 1n;
        out.push(formatCidr(this.family, lo, exactPrefix(this.family, { lo, hi: lo + size - 1n })!));
        lo += size;
      }
    }
    return out;
  }

  toString(): string {
    return this.toStrings().join(', ');
  }

  /** Index of the last range starting at or before value, or -1. */
  private indexAtOrBefore(value: bigint): number {
    let lo = 0;
    let hi = this.list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.list[mid]!.lo <= value) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi;
  }

  private check(other: IntervalSet): void {
    if (other.family !== this.family) {
      throw new TypeError(`cannot combine an ${familyName(this.family)} set with an ${familyName(other.family)} set`);
    }
  }
}
