// The allocator's mutable free list: disjoint inclusive ranges in an AVL tree keyed by `lo`, so finding, inserting
// and removing a range is O(log n) worst case in the number of ranges. The allocator shrinks a node's range, or grows
// it into the gap next to it, in place: the keys keep their order, so the tree needs no change.
import type { Range } from './ip.ts';

export interface FreeNode {
  lo: bigint;
  hi: bigint;
  left: FreeNode | undefined;
  right: FreeNode | undefined;
  height: number;
}

const height = (n: FreeNode | undefined): number => n?.height ?? 0;

function rotateRight(n: FreeNode): FreeNode {
  const l = n.left!;
  n.left = l.right;
  l.right = n;
  fix(n);
  fix(l);
  return l;
}

function rotateLeft(n: FreeNode): FreeNode {
  const r = n.right!;
  n.right = r.left;
  r.left = n;
  fix(n);
  fix(r);
  return r;
}

function fix(n: FreeNode): void {
  n.height = 1 + Math.max(height(n.left), height(n.right));
}

function balance(n: FreeNode): FreeNode {
  fix(n);
  const skew = height(n.left) - height(n.right);
  if (skew > 1) {
    if (height(n.left!.left) < height(n.left!.right)) n.left = rotateLeft(n.left!);
    return rotateRight(n);
  }
  if (skew < -1) {
    if (height(n.right!.right) < height(n.right!.left)) n.right = rotateRight(n.right!);
    return rotateLeft(n);
  }
  return n;
}

function insert(n: FreeNode | undefined, node: FreeNode): FreeNode {
  if (n === undefined) return node;
  if (node.lo < n.lo) n.left = insert(n.left, node);
  else n.right = insert(n.right, node);
  return balance(n);
}

function removeMin(n: FreeNode): FreeNode | undefined {
  if (n.left === undefined) return n.right;
  n.left = removeMin(n.left);
  return balance(n);
}

function remove(n: FreeNode | undefined, lo: bigint): FreeNode | undefined {
  if (n === undefined) return undefined;
  if (lo < n.lo) n.left = remove(n.left, lo);
  else if (lo > n.lo) n.right = remove(n.right, lo);
  else {
    if (n.left === undefined) return n.right;
    if (n.right === undefined) return n.left;
    let successor = n.right;
    while (successor.left !== undefined) successor = successor.left;
    successor.right = removeMin(n.right);
    successor.left = n.left;
    return balance(successor);
  }
  return balance(n);
}

/** A balanced tree of sorted ranges, built in O(n). */
function build(ranges: readonly Range[], from: number, to: number): FreeNode | undefined {
  if (from > to) return undefined;
  const mid = (from + to) >>> 1;
  const { lo, hi } = ranges[mid]!;
  const node: FreeNode = { lo, hi, left: build(ranges, from, mid - 1), right: build(ranges, mid + 1, to), height: 1 };
  fix(node);
  return node;
}

export class FreeTree {
  private root: FreeNode | undefined;

  /** `ranges` sorted and disjoint. */
  constructor(ranges: readonly Range[]) {
    this.root = build(ranges, 0, ranges.length - 1);
  }

  /** Levels of the tree: AVL keeps it under 1.45·log2(n + 2). */
  get height(): number {
    return height(this.root);
  }

  first(): FreeNode | undefined {
    let n = this.root;
    while (n?.left !== undefined) n = n.left;
    return n;
  }

  /** The range with the largest lo ≤ value. */
  atOrBefore(value: bigint): FreeNode | undefined {
    let best: FreeNode | undefined;
    for (let n = this.root; n !== undefined;) {
      if (n.lo <= value) {
        best = n;
        n = n.right;
      } else n = n.left;
    }
    return best;
  }

  /** The range with the smallest lo > value. */
  after(value: bigint): FreeNode | undefined {
    let best: FreeNode | undefined;
    for (let n = this.root; n !== undefined;) {
      if (n.lo > value) {
        best = n;
        n = n.left;
      } else n = n.right;
    }
    return best;
  }

  insert(lo: bigint, hi: bigint): void {
    this.root = insert(this.root, { lo, hi, left: undefined, right: undefined, height: 1 });
  }

  remove(node: FreeNode): void {
    this.root = remove(this.root, node.lo);
  }

  *ranges(): Generator<Range> {
    const stack: FreeNode[] = [];
    for (let n = this.root; n !== undefined || stack.length > 0;) {
      if (n !== undefined) {
        stack.push(n);
        n = n.left;
      } else {
        const top = stack.pop()!;
        yield { lo: top.lo, hi: top.hi };
        n = top.right;
      }
    }
  }
}
