// The address plan of one pool, pure: the pool's address model and who holds what in its address domain become
// cells (a small subnet, one per address) and runs (any subnet: maximal stretches of one state, so an IPv6 /64 is a
// handful of lines, not 2^64 cells). Conflicts are what a reader must see first: two holders of one address, a
// holder the API server flagged (DuplicateAddress), an address a machine holds although it is reserved, excluded or
// the gateway. A control-plane endpoint in the excluded addresses is the intended state, not a conflict.
import { formatAddress, IntervalSet, parseAddress, type Family, type Pool } from '../core/index.ts';
import { drain, every, sorted, type Steps } from './steps.ts';

export type HolderKind = 'IPAddress' | 'IPAddressReservation' | 'IPAddressLedger' | 'Endpoint';

/** One object that holds an address. Text fields are user input: escape them when rendering. */
export interface HolderInput {
  address: string;
  kind: HolderKind;
  /** The claim (IPAddressClaim namespace/name) or, for an endpoint, the ClusterDeployment namespace/name. */
  namespace?: string;
  name: string;
  /** The machine: the IPAddressClaim's name. */
  machine?: string;
  cluster?: string;
  /** The pool (key) the object names; another pool of the domain when the address is shared. */
  pool?: string;
  /** Why the API says this holder is in conflict (a DuplicateAddress condition), if it does. */
  problem?: string;
  released?: boolean;
}

export interface PoolInput {
  key: string;
  kind: string;
  namespace?: string;
  name: string;
  domain: string;
  /** Undefined when the spec is invalid: only `errors` are shown. */
  pool: Pool | undefined;
  errors: readonly string[];
  /** Validation warnings and warning conditions (e.g. overlaps with other domains). */
  warnings: readonly string[];
  holders: readonly HolderInput[];
  /** Addresses this pool shares with other pools of its domain, by pool key. */
  overlaps?: ReadonlyArray<{ pool: string; set: IntervalSet }>;
}

export type State =
  'conflict' | 'used' | 'endpoint' | 'gateway' | 'reserved' | 'excluded' | 'shared' | 'free' | 'outside';

/** What each state means, for legends and titles. */
export const stateTitles: Readonly<Record<State, string>> = {
  conflict: 'conflict',
  used: 'held by a machine',
  endpoint: 'control-plane endpoint',
  gateway: 'gateway',
  reserved: 'reserved (network/broadcast)',
  excluded: 'excluded',
  shared: 'free, shared with another pool of the domain',
  free: 'free',
  outside: 'not in the pool',
};

export interface Holder extends HolderInput {
  /** The holder as one party: a claim's IPAddress and reservation are one holder. */
  party: string;
}

export interface Cell {
  address: string;
  state: State;
  holders: Holder[];
  /** One line for a tooltip. */
  title: string;
}

export interface Run {
  from: string;
  to: string;
  /** Decimal string: may exceed 2^53. */
  count: string;
  state: State;
  /** Holders in the run (used, endpoint and conflict runs). */
  holders: Holder[];
}

export interface Conflict {
  address: string;
  message: string;
  holders: Holder[];
}

export interface PoolPlan {
  key: string;
  kind: string;
  namespace?: string;
  name: string;
  domain: string;
  family?: Family;
  subnet?: string;
  gateway?: string;
  counts?: { subnet: string; usable: string; used: string; free: string; usableHuman: string };
  errors: readonly string[];
  warnings: readonly string[];
  /** Only when the subnet has at most `maxCells` addresses. */
  cells?: Cell[];
  runs: Run[];
  holders: Holder[];
  conflicts: Conflict[];
}

/** The most addresses drawn one cell each: an IPv4 /24. */
export const maxCells = 256;

/** `2^k` for exact powers of two past 2^32; a decimal otherwise. */
export function countText(n: bigint): string {
  if (n > 1n << 32n && (n & (n - 1n)) === 0n) return `2^${n.toString(2).length - 1}`;
  return n.toString();
}

const partyOf = (h: HolderInput): string =>
  h.kind === 'Endpoint'
    ? `endpoint ${h.namespace ?? ''}/${h.name}`
    : `claim ${h.namespace ?? ''}/${h.machine ?? h.name}`;

export function describeHolder(h: HolderInput): string {
  if (h.kind === 'Endpoint') return `endpoint of ClusterDeployment ${h.namespace ?? ''}/${h.name}`;
  const who = `machine ${h.machine ?? h.name}${h.cluster ? ` (cluster ${h.cluster})` : ''}`;
  const pool = h.pool ? ` of ${h.pool}` : '';
  if (h.kind === 'IPAddressLedger') {
    return `${who}: ${h.released ? 'released, in' : 'being handed out, in'} IPAddressLedger ${h.name}${pool}`;
  }
  const what = h.kind === 'IPAddress' ? 'IPAddress' : h.released ? 'released reservation' : 'reservation';
  return `${who}: ${what} ${h.namespace ?? ''}/${h.name}${pool}`;
}

export function planPool(input: PoolInput): PoolPlan {
  return drain(planPoolSteps(input));
}

export function* planPoolSteps(input: PoolInput): Steps<PoolPlan> {
  const tick = every();
  const base = {
    key: input.key,
    kind: input.kind,
    ...(input.namespace !== undefined ? { namespace: input.namespace } : {}),
    name: input.name,
    domain: input.domain,
    errors: input.errors,
    warnings: input.warnings,
  };
  const pool = input.pool;
  const holders: Holder[] = [];
  for (const h of input.holders) {
    holders.push({ ...h, party: partyOf(h) });
    if (tick()) yield;
  }
  if (!pool) return { ...base, runs: [], holders, conflicts: [], cells: undefined };

  const family = pool.family;
  // Each holder's address parsed once, for its place in the plan and in the sorted list.
  const keys: SortKey[] = [];
  const byValue = new Map<bigint, Holder[]>();
  for (const h of holders) {
    const a = sortKey(h.address);
    keys.push(a);
    if (tick()) yield;
    if (typeof a === 'string' || a.family !== family) continue;
    const v = a.value;
    const list = byValue.get(v) ?? [];
    list.push(h);
    byValue.set(v, list);
  }
  const shared = (input.overlaps ?? []).reduce((acc, o) => acc.union(o.set), IntervalSet.empty(family));
  const gateway = pool.gateway ? IntervalSet.fromValues(family, [pool.gateway.value]) : IntervalSet.empty(family);
  const fmt = (value: bigint) => formatAddress({ family, value });

  const conflicts: Conflict[] = [];
  const classify = (v: bigint): { state: State; problem?: string } => {
    const here = byValue.get(v);
    if (here?.length) {
      const parties = new Set(here.map((h) => h.party));
      const flagged = here.find((h) => h.problem);
      if (parties.size > 1)
        return { state: 'conflict', problem: `held by ${parties.size}: ${[...parties].join(', ')}` };
      if (flagged) return { state: 'conflict', problem: flagged.problem };
      if (pool.gateway?.value === v) return { state: 'conflict', problem: 'held, but it is the gateway' };
      if (pool.reserved.has(v)) return { state: 'conflict', problem: 'held, but it is reserved' };
      // An endpoint is kept out of the machines' addresses on purpose (the gate excludes a hand-set one).
      const endpoint = here.every((h) => h.kind === 'Endpoint');
      if (pool.excluded.has(v) && !endpoint) return { state: 'conflict', problem: 'held, but it is excluded' };
      return { state: endpoint ? 'endpoint' : 'used' };
    }
    if (gateway.has(v)) return { state: 'gateway' };
    if (pool.reserved.has(v)) return { state: 'reserved' };
    if (pool.addresses.has(v) && pool.excluded.has(v)) return { state: 'excluded' };
    if (!pool.usable.has(v)) return { state: 'outside' };
    return { state: shared.has(v) ? 'shared' : 'free' };
  };

  const subnet = pool.subnet;
  // Everything inside [lo, hi] is one state between consecutive boundaries: the sets' edges and each held address.
  const bounds = new Set<bigint>([subnet.lo, subnet.hi + 1n]);
  for (const set of [pool.addresses, pool.excluded, pool.reserved, gateway, shared]) {
    for (const r of set.ranges()) bounds.add(r.lo).add(r.hi + 1n);
  }
  for (const v of byValue.keys()) {
    bounds.add(v).add(v + 1n);
    if (tick()) yield;
  }
  const inside = [...bounds].filter((b) => b >= subnet.lo && b <= subnet.hi + 1n);
  const points = yield* sorted(inside, (a, b) => (a < b ? -1 : a > b ? 1 : 0));

  const runs: Run[] = [];
  let open: { lo: bigint; hi: bigint; state: State; holders: Holder[] } | undefined;
  const flush = () => {
    if (!open) return;
    runs.push({
      from: fmt(open.lo),
      to: fmt(open.hi),
      count: (open.hi - open.lo + 1n).toString(),
      state: open.state,
      holders: open.holders,
    });
    open = undefined;
  };
  for (let i = 0; i + 1 < points.length; i++) {
    const lo = points[i]!;
    const hi = points[i + 1]! - 1n;
    const { state, problem } = classify(lo);
    const here = byValue.get(lo) ?? [];
    if (problem) conflicts.push({ address: fmt(lo), message: problem, holders: here });
    // Conflicts stay one address per run: each has its own story.
    if (open && open.state === state && state !== 'conflict' && open.hi + 1n === lo) {
      open.hi = hi;
      open.holders.push(...here);
    } else {
      flush();
      open = { lo, hi, state, holders: [...here] };
    }
    if (tick()) yield;
  }
  flush();

  // Holders outside the subnet (left over after a shrink, or another pool's) are conflicts of their own.
  for (const [v, here] of byValue) {
    if (v < subnet.lo || v > subnet.hi) {
      conflicts.push({ address: fmt(v), message: 'held outside the pool subnet', holders: here });
    }
  }

  let cells: Cell[] | undefined;
  if (subnet.hi - subnet.lo + 1n <= BigInt(maxCells)) {
    cells = [];
    for (let v = subnet.lo; v <= subnet.hi; v++) {
      const { state, problem } = classify(v);
      const here = byValue.get(v) ?? [];
      const parts = [fmt(v), stateTitles[state], ...here.map(describeHolder), ...(problem ? [problem] : [])];
      cells.push({ address: fmt(v), state, holders: here, title: parts.join(' — ') });
    }
  }

  let used = 0n;
  for (const v of byValue.keys()) {
    if (pool.usable.has(v)) used++;
    if (tick()) yield;
  }
  const byAddress = yield* sorted(
    holders.map((h, i) => ({ h, at: keys[i]! })),
    (a, b) => compareKeys(a.at, b.at) || a.h.party.localeCompare(b.h.party),
  );
  const byAddressConflicts = yield* sorted(
    conflicts.map((c) => ({ c, at: sortKey(c.address) })),
    (a, b) => compareKeys(a.at, b.at),
  );
  return {
    ...base,
    family,
    subnet: `${fmt(subnet.lo)}/${pool.prefix}`,
    ...(pool.gateway ? { gateway: formatAddress(pool.gateway) } : {}),
    counts: {
      subnet: (subnet.hi - subnet.lo + 1n).toString(),
      usable: pool.usable.size.toString(),
      used: used.toString(),
      free: (pool.usable.size - used).toString(),
      usableHuman: countText(pool.usable.size),
    },
    cells,
    runs,
    holders: byAddress.map(({ h }) => h),
    conflicts: byAddressConflicts.map(({ c }) => c),
  };
}

type SortKey = { family: Family; value: bigint } | string;

/** An address's place in the sort: its value, or the text when it does not parse (those sort as text). */
function sortKey(address: string): SortKey {
  try {
    return parseAddress(address);
  } catch {
    return address;
  }
}

function compareKeys(x: SortKey, y: SortKey): number {
  if (typeof x === 'string' || typeof y === 'string') {
    return typeof x === 'string' && typeof y === 'string' ? x.localeCompare(y) : typeof x === 'string' ? 1 : -1;
  }
  if (x.family !== y.family) return x.family - y.family;
  return x.value < y.value ? -1 : x.value > y.value ? 1 : 0;
}

export interface DomainPlan {
  domain: string;
  pools: PoolPlan[];
}

/** Pools grouped by address domain (sorted), each pool's plan. */
export function planDomains(pools: readonly PoolInput[]): DomainPlan[] {
  return drain(planDomainsSteps(pools));
}

export function* planDomainsSteps(pools: readonly PoolInput[]): Steps<DomainPlan[]> {
  const byDomain = new Map<string, PoolPlan[]>();
  for (const p of pools) {
    const list = byDomain.get(p.domain) ?? [];
    list.push(yield* planPoolSteps(p));
    byDomain.set(p.domain, list);
  }
  return [...byDomain.keys()]
    .sort()
    .map((domain) => ({ domain, pools: byDomain.get(domain)!.sort((a, b) => a.key.localeCompare(b.key)) }));
}
