// The pool model of the in-cluster provider (InClusterIPPool / GlobalInClusterIPPool): validation that names the
// field at fault, and usable = union(addresses) − excluded − gateway − reserved.
//
// Reserved addresses: the subnet is <lowest pool address>/<prefix>. Unless allocateReservedIPAddresses is set, its
// first address (IPv4 network; IPv6 Subnet-Router anycast, RFC 4291 §2.6.1) and, for IPv4, its last (broadcast) are
// never allocated. Point-to-point and host prefixes have no such addresses, so nothing is reserved on IPv4 /31
// (RFC 3021) and /32 or IPv6 /127 (RFC 6164) and /128: a /31 pool hands out both addresses and a /32 pool its one.
// The reference provider has no such case: its IPv4 /31 and /32 pools have nothing to hand out.
import { IntervalSet } from './intervals.ts';
import {
  cidrRange,
  familyBits,
  familyName,
  formatAddress,
  formatCidr,
  IpParseError,
  parseAddress,
  parseEntry,
  type Address,
  type Entry,
  type Family,
  type Range,
} from './ip.ts';

export interface PoolSpec {
  addresses?: readonly string[];
  prefix?: number;
  gateway?: string;
  excludedAddresses?: readonly string[];
  allocateReservedIPAddresses?: boolean;
  addressReuseGracePeriodSeconds?: number;
}

export interface FieldIssue {
  /** Path of the field at fault, e.g. `spec.addresses[2]`. */
  readonly field: string;
  readonly message: string;
}

export interface Pool {
  readonly family: Family;
  readonly prefix: number;
  /** `<lowest address>/<prefix>`, masked. */
  readonly subnet: Range;
  readonly gateway: Address | undefined;
  /** union(addresses) */
  readonly addresses: IntervalSet;
  readonly excluded: IntervalSet;
  readonly reserved: IntervalSet;
  readonly usable: IntervalSet;
}

/** `pool` is set when there are no errors; warnings are worth showing the user but do not reject. */
export interface PoolCheck {
  readonly pool: Pool | undefined;
  readonly errors: FieldIssue[];
  readonly warnings: FieldIssue[];
}

export interface FieldText {
  readonly field: string;
  readonly text: string;
}

/**
 * The pool's fields as a caller names them. Required fields (at least one address, a prefix) are the caller's to
 * report: the check only judges what is given.
 */
export interface PoolParts {
  readonly addressesField: string;
  readonly addresses: readonly FieldText[];
  readonly prefixField: string;
  readonly prefix: number | undefined;
  readonly gatewayField: string;
  readonly gateway: string | undefined;
  readonly excluded: readonly FieldText[];
  readonly allocateReserved: boolean;
}

export function reservedAddresses(family: Family, subnet: Range, prefix: number): IntervalSet {
  if (prefix >= familyBits(family) - 1) return IntervalSet.empty(family);
  return IntervalSet.fromValues(family, family === 4 ? [subnet.lo, subnet.hi] : [subnet.lo]);
}

/** `parse(item.text)`, or undefined with the parse error recorded on the item's field. */
export function parseOrReport<T>(
  parse: (text: string) => T,
  item: FieldText,
  errors: FieldIssue[],
  hint = '',
): T | undefined {
  try {
    return parse(item.text);
  } catch (e) {
    if (!(e instanceof IpParseError)) throw e;
    errors.push({ field: item.field, message: e.message + hint });
    return undefined;
  }
}

interface Parsed extends FieldText {
  readonly entry: Entry;
}

/** The family is the first valid entry's (`first`, if given, else the list's own). */
function parseEntries(items: readonly FieldText[], errors: FieldIssue[], first?: Parsed): Parsed[] {
  const out: Parsed[] = [];
  for (const item of items) {
    const entry = parseOrReport(parseEntry, item, errors, '; expected an address, a range A-B or a CIDR');
    if (entry === undefined) continue;
    const parsed = { ...item, entry };
    first ??= parsed;
    if (entry.family === first.entry.family) out.push(parsed);
    else errors.push(familyMismatch(item, entry.family, first));
  }
  return out;
}

function familyMismatch(item: FieldText, family: Family, first: Parsed): FieldIssue {
  return {
    field: item.field,
    message: `"${item.text}" is ${familyName(family)} but ${first.field} ("${first.text}") is ${familyName(first.entry.family)}: a pool has one family`,
  };
}

export function checkPoolParts(parts: PoolParts): PoolCheck {
  const errors: FieldIssue[] = [];
  const warnings: FieldIssue[] = [];
  const entries = parseEntries(parts.addresses, errors);
  const first = entries[0];
  const family = first?.entry.family;

  const { prefix } = parts;
  const maxPrefix = family === undefined ? 128 : familyBits(family);
  if (prefix !== undefined && !(Number.isInteger(prefix) && prefix >= 0 && prefix <= maxPrefix)) {
    const of = family === undefined ? '' : ` for ${familyName(family)}`;
    errors.push({
      field: parts.prefixField,
      message: `${prefix} is not a valid prefix length${of} (0 to ${maxPrefix})`,
    });
  }

  let gateway: Address | undefined;
  if (parts.gateway) {
    const item = { field: parts.gatewayField, text: parts.gateway };
    gateway = parseOrReport(parseAddress, item, errors, '; the gateway is a single address');
    if (gateway !== undefined && first !== undefined && gateway.family !== family) {
      errors.push(familyMismatch(item, gateway.family, first));
    }
  }

  const excluded = parseEntries(parts.excluded, errors, first);
  if (errors.length > 0 || family === undefined || prefix === undefined) return { pool: undefined, errors, warnings };

  const lowest = entries.reduce((min, p) => (p.entry.lo < min ? p.entry.lo : min), first!.entry.lo);
  const subnet = cidrRange(family, lowest, prefix);
  const subnetText = formatCidr(family, subnet.lo, prefix);
  for (const p of entries) {
    if (p.entry.hi > subnet.hi) {
      errors.push({
        field: p.field,
        message: `"${p.text}" is outside the subnet ${subnetText} (the lowest pool address with prefix ${prefix})`,
      });
    }
  }
  if (errors.length > 0) return { pool: undefined, errors, warnings };

  if (gateway !== undefined && (gateway.value < subnet.lo || gateway.value > subnet.hi)) {
    warnings.push({
      field: parts.gatewayField,
      message: `${formatAddress(gateway)} is outside the subnet ${subnetText}: machines given prefix ${prefix} have no route to it`,
    });
  }
  const addresses = IntervalSet.fromRanges(
    family,
    entries.map((p) => p.entry),
  );
  const excludedSet = IntervalSet.fromRanges(
    family,
    excluded.map((p) => p.entry),
  );
  const reserved = parts.allocateReserved ? IntervalSet.empty(family) : reservedAddresses(family, subnet, prefix);
  const usable = addresses
    .difference(excludedSet)
    .difference(IntervalSet.fromValues(family, gateway === undefined ? [] : [gateway.value]))
    .difference(reserved);
  if (usable.isEmpty) {
    warnings.push({
      field: parts.addressesField,
      message: 'no usable addresses: every address is excluded, the gateway, or reserved',
    });
  }
  const pool = { family, prefix, subnet, gateway, addresses, excluded: excludedSet, reserved, usable };
  return { pool, errors, warnings };
}

/** `field[i]` for each text. */
export const listed = (texts: readonly string[] | undefined, field: string): FieldText[] =>
  (texts ?? []).map((text, i) => ({ field: `${field}[${i}]`, text }));

/** Validates an InClusterIPPool / GlobalInClusterIPPool spec found at `path`. */
export function validatePool(spec: PoolSpec, path = 'spec'): PoolCheck {
  const errors: FieldIssue[] = [];
  if (!spec.addresses?.length) {
    errors.push({ field: `${path}.addresses`, message: 'required: at least one address, range A-B or CIDR' });
  }
  if (spec.prefix === undefined) errors.push({ field: `${path}.prefix`, message: 'required' });
  const grace = spec.addressReuseGracePeriodSeconds;
  if (grace !== undefined && !(Number.isInteger(grace) && grace >= 0)) {
    errors.push({
      field: `${path}.addressReuseGracePeriodSeconds`,
      message: `${grace} is not a number of seconds ≥ 0`,
    });
  }
  const check = checkPoolParts({
    addressesField: `${path}.addresses`,
    addresses: listed(spec.addresses, `${path}.addresses`),
    prefixField: `${path}.prefix`,
    prefix: spec.prefix,
    gatewayField: `${path}.gateway`,
    gateway: spec.gateway,
    excluded: listed(spec.excludedAddresses, `${path}.excludedAddresses`),
    allocateReserved: spec.allocateReservedIPAddresses ?? false,
  });
  errors.push(...check.errors);
  return { pool: errors.length > 0 ? undefined : check.pool, errors, warnings: check.warnings };
}

const shownRanges = 10;

/** Compact, e.g. `10.0.0.7-10.0.0.9, fd00::1`, cut after a few ranges. */
function describe(addresses: readonly Address[]): string {
  const texts = ([4, 6] as const).flatMap((family) =>
    IntervalSet.fromValues(
      family,
      addresses.filter((a) => a.family === family).map((a) => a.value),
    ).toStrings(),
  );
  const more = texts.length - shownRanges;
  return texts.slice(0, shownRanges).join(', ') + (more > 0 ? ` and ${more} more` : '');
}

export interface ShrinkCheck {
  /** Allocated addresses that the update takes out of the usable set, in ascending order. */
  readonly outside: Address[];
  /** One per cause, on the field responsible. */
  readonly errors: FieldIssue[];
}

/**
 * An update must not take an allocated address out of the usable set (pool shrink under live allocations). Only
 * addresses `before` offered count: one already outside it (kept after a move, spec 02 §2.3)
 * stays where it is whatever the update does, so it must not block growing the pool or unrelated edits. Without
 * `before` (the old spec did not validate) every allocated address counts.
 */
export function checkPoolShrink(
  before: Pool | undefined,
  pool: Pool,
  allocated: Iterable<Address>,
  path = 'spec',
): ShrinkCheck {
  const subnet = formatCidr(pool.family, pool.subnet.lo, pool.prefix);
  const causes: { field: string; message: string; applies: (a: Address) => boolean; hits: Address[] }[] = [
    {
      field: `${path}.addresses`,
      message: 'would no longer be in the pool',
      applies: (a) => a.family !== pool.family || !pool.addresses.has(a.value),
      hits: [],
    },
    {
      field: `${path}.excludedAddresses`,
      message: 'would be excluded',
      applies: (a) => pool.excluded.has(a.value),
      hits: [],
    },
    {
      field: `${path}.gateway`,
      message: 'would be the gateway',
      applies: (a) => a.value === pool.gateway?.value,
      hits: [],
    },
    {
      field: `${path}.allocateReservedIPAddresses`,
      message: `would be reserved as the network or broadcast address of ${subnet}`,
      applies: () => true,
      hits: [],
    },
  ];
  const outside: Address[] = [];
  for (const a of allocated) {
    if (a.family === pool.family && pool.usable.has(a.value)) continue;
    if (before && (a.family !== before.family || !before.usable.has(a.value))) continue;
    outside.push(a);
    causes.find((c) => c.applies(a))!.hits.push(a);
  }
  outside.sort((a, b) => a.family - b.family || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  const errors = causes
    .filter((c) => c.hits.length > 0)
    .map((c) => ({ field: c.field, message: `allocated addresses ${c.message}: ${describe(c.hits)}` }));
  return { outside, errors };
}
