// The allocator of one pool: lowest free address first, specific addresses on request, release.
//
// Design: the usable set is an immutable IntervalSet (binary search); the free addresses are ranges in an AVL tree
// (free-tree.ts) plus a bigint count. Addresses in use inside the usable set are exactly usable − free, so they are
// never stored one by one; only addresses in use outside the usable set (after a pool shrank) are kept, in a map.
// With n free ranges (at most the usable ranges plus the addresses in use) and k usable ranges:
// - allocate: leftmost range, take its first address — O(log n);
// - allocateAddress: range at or before the address, split it — O(log k + log n);
// - release: usable check, neighbours, merge or insert — O(log k + log n);
// - counts: O(1). Nothing is ever O(number of addresses), so an IPv6 /64 is as cheap as a /30.
import { FreeTree, type FreeNode } from './free-tree.ts';
import { IntervalSet } from './intervals.ts';
import { formatAddress, type Address } from './ip.ts';

/**
 * `used` counts addresses in use inside the usable set, so `free = total − used` holds exactly;
 * `outOfRange` counts addresses in use outside it.
 */
export interface PoolCounts {
  readonly total: bigint;
  readonly used: bigint;
  readonly free: bigint;
  readonly outOfRange: bigint;
}

export interface StatusCounts {
  readonly total: number;
  readonly used: number;
  readonly free: number;
  readonly outOfRange: number;
}

/** Status fields are JSON numbers: an IPv6 pool's count is capped rather than rounded or overflowed. */
export function capCount(n: bigint): number {
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

export function statusCounts(c: PoolCounts): StatusCounts {
  return {
    total: capCount(c.total),
    used: capCount(c.used),
    free: capCount(c.free),
    outOfRange: capCount(c.outOfRange),
  };
}

export class AllocationError extends Error {
  override name = 'AllocationError';
  constructor(
    readonly code: 'not-usable' | 'in-use',
    message: string,
  ) {
    super(message);
  }
}

const key = (a: Address): string => `${a.family}/${a.value}`;

export class Allocator {
  private readonly free: FreeTree;
  private freeCount: bigint;
  private readonly outOfRange = new Map<string, Address>();

  /** `inUse` is read as a set: an address listed twice is in use once. */
  constructor(
    readonly usable: IntervalSet,
    inUse: Iterable<Address> = [],
  ) {
    const inside: bigint[] = [];
    for (const a of inUse) {
      if (this.isUsable(a)) inside.push(a.value);
      else this.outOfRange.set(key(a), a);
    }
    const free = usable.difference(IntervalSet.fromValues(usable.family, inside));
    this.free = new FreeTree(free.ranges());
    this.freeCount = free.size;
  }

  /** Takes the lowest free usable address; undefined when the pool is exhausted. */
  allocate(): Address | undefined {
    const node = this.free.first();
    if (node === undefined) return undefined;
    const value = node.lo;
    this.take(node, value);
    return { family: this.usable.family, value };
  }

  /** Takes a specific address; throws AllocationError if it is not usable or already in use. */
  allocateAddress(address: Address): void {
    if (!this.isUsable(address)) {
      throw new AllocationError('not-usable', `${formatAddress(address)} is not a usable address of this pool`);
    }
    const node = this.free.atOrBefore(address.value);
    if (node === undefined || node.hi < address.value) {
      throw new AllocationError('in-use', `${formatAddress(address)} is already in use`);
    }
    this.take(node, address.value);
  }

  /** Returns false if the address was not in use. */
  release(address: Address): boolean {
    if (!this.isUsable(address)) return this.outOfRange.delete(key(address));
    const v = address.value;
    const before = this.free.atOrBefore(v);
    if (before !== undefined && v <= before.hi) return false;
    const after = this.free.after(v);
    const joinsBefore = before !== undefined && before.hi + 1n === v;
    const joinsAfter = after !== undefined && after.lo - 1n === v;
    if (joinsBefore && joinsAfter) {
      before.hi = after.hi;
      this.free.remove(after);
    } else if (joinsBefore) before.hi = v;
    else if (joinsAfter) after.lo = v;
    else this.free.insert(v, v);
    this.freeCount++;
    return true;
  }

  isInUse(address: Address): boolean {
    if (!this.isUsable(address)) return this.outOfRange.has(key(address));
    const node = this.free.atOrBefore(address.value);
    return node === undefined || node.hi < address.value;
  }

  counts(): PoolCounts {
    const total = this.usable.size;
    return { total, used: total - this.freeCount, free: this.freeCount, outOfRange: BigInt(this.outOfRange.size) };
  }

  /** O(n) snapshot of the free addresses. */
  freeSet(): IntervalSet {
    return IntervalSet.fromRanges(this.usable.family, this.free.ranges());
  }

  outOfRangeAddresses(): Address[] {
    return [...this.outOfRange.values()].sort((a, b) => a.family - b.family || (a.value < b.value ? -1 : 1));
  }

  private isUsable(address: Address): boolean {
    return address.family === this.usable.family && this.usable.has(address.value);
  }

  private take(node: FreeNode, v: bigint): void {
    if (node.lo === node.hi) this.free.remove(node);
    else if (v === node.lo) node.lo = v + 1n;
    else if (v === node.hi) node.hi = v - 1n;
    else {
      const hi = node.hi;
      node.hi = v - 1n;
      this.free.insert(v + 1n, hi);
    }
    this.freeCount--;
  }
}
