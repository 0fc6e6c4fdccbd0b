// Allocation throughput of the address engine against the reference provider's approach, which on every allocation
// rebuilds the in-use set from the list of IPAddresses and scans the pool from its lowest address. The naive cost
// grows with the number of addresses in use, so it is measured at several usage levels with few allocations each.
// Rates are the best of three runs (the machine may be busy); heap figures are taken after a forced GC.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Allocator, formatAddress, validatePool, type IntervalSet, type PoolSpec } from '../src/core/index.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const allocations = 100_000;
const naiveAllocations = 5_000;
const levels = [0, 1_000, 10_000, 100_000];
const naivePerLevel = 200;

function usableOf(spec: PoolSpec): IntervalSet {
  const { pool, errors } = validatePool(spec);
  if (!pool) throw new Error(JSON.stringify(errors));
  return pool.usable;
}

const ipv4 = usableOf({ addresses: ['10.0.0.0/8'], prefix: 8 });
const ipv6 = usableOf({ addresses: ['fd00::/64'], prefix: 64 });
// Every 11th address of the first 110,000 is excluded, so 100,000 allocations cross all 10,000 gaps.
const fragmented = usableOf({
  addresses: ['10.0.0.0/8'],
  prefix: 8,
  excludedAddresses: Array.from({ length: 10_000 }, (_, i) =>
    formatAddress({ family: 4, value: 0x0a000000n + 11n * BigInt(i + 1) }),
  ),
});

const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

function heapUsed(): number {
  gc();
  gc(); // one pass leaves some garbage behind
  return process.memoryUsage().heapUsed;
}

interface EngineRun {
  rate: number;
  /** Process heap after the run. */
  heapMb: number;
  /** What the allocator itself holds before and after the run (GC noise is some 20 KB). */
  startMb: number;
  endMb: number;
}

/** Best rate of three runs of `count` allocations from an allocator with the first `used` addresses taken. */
function engineRate(usable: IntervalSet, count: number, used = 0): EngineRun {
  const inUse = [...firstValues(usable, used)].map((value) => ({ family: usable.family, value }));
  let best = 0;
  let heap = { before: 0, start: 0, end: 0 };
  for (let run = 0; run < 3; run++) {
    const before = heapUsed();
    const allocator = new Allocator(usable, inUse);
    const afterBuild = heapUsed();
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) if (allocator.allocate() === undefined) throw new Error('pool exhausted');
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    best = Math.max(best, count / seconds);
    heap = { before, start: afterBuild, end: heapUsed() };
    if (allocator.counts().used !== BigInt(used + count)) throw new Error('miscounted');
  }
  return {
    rate: Math.round(best),
    heapMb: mb(heap.end),
    startMb: mb(heap.start - heap.before),
    endMb: mb(heap.end - heap.before),
  };
}

function* firstValues(usable: IntervalSet, count: number): Generator<bigint> {
  let n = 0;
  for (const v of usable) {
    if (n++ === count) return;
    yield v;
  }
}

/** The reference's way: the in-use set rebuilt from the list of addresses, then a scan from the bottom. */
function naiveAllocate(usable: IntervalSet, allocated: bigint[]): bigint {
  const inUse = new Set(allocated);
  for (const v of usable) if (!inUse.has(v)) return v;
  throw new Error('pool exhausted');
}

function naiveRate(usable: IntervalSet, count: number, used = 0): { rate: number; allocated: bigint[] } {
  const allocated = [...firstValues(usable, used)];
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) allocated.push(naiveAllocate(usable, allocated));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { rate: Math.round(count / seconds), allocated };
}

const fmt = (n: number): string => n.toLocaleString('en-US');

engineRate(ipv4, 20_000); // warm-up for the JIT
const results = {
  ipv4: engineRate(ipv4, allocations),
  ipv6: engineRate(ipv6, allocations),
  fragmented: engineRate(fragmented, allocations),
};
console.log(`engine, ${fmt(allocations)} allocations one by one (best of 3):`);
for (const [name, r] of Object.entries(results)) {
  console.log(
    `  ${name.padEnd(10)} ${fmt(r.rate).padStart(11)} allocs/s   heap ${r.heapMb} MB; allocator ${r.startMb} MB before, ${r.endMb} MB after`,
  );
}

const naive = naiveRate(ipv4, naiveAllocations);
const check = new Allocator(ipv4);
if (!naive.allocated.every((v) => check.allocate()?.value === v)) throw new Error('naive and engine disagree');
console.log(
  `naive, ${fmt(naiveAllocations)} allocations from the empty IPv4 /8 (fewer: its cost is quadratic; same addresses as the engine):`,
);
console.log(`  ${fmt(naive.rate)} allocs/s, engine ${fmt(Math.round(results.ipv4.rate / naive.rate))}x faster`);

console.log(`by addresses already in use (IPv4 /8; naive ${naivePerLevel} allocations, engine 20,000, per level):`);
const byLevel: Record<string, number> = {};
for (const used of levels) {
  const slow = naiveRate(ipv4, naivePerLevel, used).rate;
  const fast = engineRate(ipv4, 20_000, used).rate;
  const ratio = Math.round(fast / slow);
  byLevel[`naive_allocs_per_s_at_${used}_used`] = slow;
  byLevel[`ratio_at_${used}_used`] = ratio;
  console.log(
    `  ${fmt(used).padStart(7)} in use: naive ${fmt(slow).padStart(9)} allocs/s, engine ${fmt(fast).padStart(11)} allocs/s, ${fmt(ratio)}x`,
  );
}

console.log(
  JSON.stringify({
    ipv4_allocs_per_s: results.ipv4.rate,
    ipv6_allocs_per_s: results.ipv6.rate,
    fragmented_allocs_per_s: results.fragmented.rate,
    naive_allocs_per_s: naive.rate,
    heap_mb: Math.max(...Object.values(results).map((r) => r.heapMb)),
    ipv4_vs_naive_ratio: Math.round(results.ipv4.rate / naive.rate),
    ...byLevel,
  }),
);
