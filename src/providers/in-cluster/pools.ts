// The pool side of the in-cluster provider, pure: the model of a pool object (validated once per generation), its
// status counts and its Ready condition.
import {
  addressDomain,
  addressDomainAnnotation,
  domainIssue,
  domainTitle,
  globalDomain,
  type AddressDomain,
  type InClusterIPPoolSpec,
  type InClusterIPPoolStatus,
} from '../../api/index.ts';
import {
  statusCounts,
  validatePool,
  type FieldIssue,
  type IntervalSet,
  type Pool,
  humanCount,
  type PoolCounts,
  type StatusCounts,
} from '../../core/index.ts';
import type { KubeObject } from '../../kube/index.ts';
import { poolKey, poolTitle } from './names.ts';

/** An InClusterIPPool or a GlobalInClusterIPPool: same spec and status. */
export interface PoolObject extends KubeObject {
  spec: InClusterIPPoolSpec;
  status?: InClusterIPPoolStatus;
}

export interface PoolModel {
  readonly key: string;
  /** Changes whenever the spec or the domain may have: the allocator is rebuilt then. */
  readonly version: string;
  /** Where its addresses are unique (spec 03 §3.4); the default domain when the annotation is invalid. */
  readonly domain: AddressDomain;
  readonly pool: Pool | undefined;
  readonly errors: readonly FieldIssue[];
  readonly warnings: readonly FieldIssue[];
  readonly graceSeconds: number;
}

export const keyOfPool = (obj: KubeObject): string =>
  poolKey(obj.kind ?? '', obj.metadata.namespace, obj.metadata.name ?? '');

const issues = (list: readonly FieldIssue[]): string => list.map((i) => `${i.field}: ${i.message}`).join('; ');

/** Validates each pool generation (and domain annotation) once. */
export class PoolModels {
  private readonly models = new Map<string, PoolModel>();

  of(obj: PoolObject): PoolModel {
    const key = keyOfPool(obj);
    const annotation = obj.metadata.annotations?.[addressDomainAnnotation] ?? '';
    const version = `${obj.metadata.uid}/${obj.metadata.generation ?? obj.metadata.resourceVersion}/${annotation}`;
    const cached = this.models.get(key);
    if (cached?.version === version) return cached;
    const check = validatePool(obj.spec);
    const issue = domainIssue(obj);
    const errors = issue ? [...check.errors, issue] : check.errors;
    const model = {
      key,
      version,
      domain: addressDomain(obj),
      pool: errors.length ? undefined : check.pool,
      errors,
      warnings: check.warnings,
      graceSeconds: obj.spec.addressReuseGracePeriodSeconds ?? 0,
    };
    this.models.set(key, model);
    return model;
  }

  forget(key: string): void {
    this.models.delete(key);
  }
}

/** Why the pool cannot allocate, for claims' PoolNotReady; undefined when it can (even if exhausted). */
export function poolProblem(obj: KubeObject, model: PoolModel): string | undefined {
  const title = poolTitle(model.key);
  if (obj.metadata.deletionTimestamp) return `${title} is being deleted`;
  if (!model.pool) return `${title} is invalid: ${issues(model.errors)}`;
  if (model.pool.usable.isEmpty) return `${title} has no usable addresses: ${issues(model.warnings)}`;
  return undefined;
}

/**
 * Counts for the pool's status, from the address book: `total`, `used` and `free` count every holder of the pool's
 * domain inside its usable set (so `free` is what a new claim can get); `outOfRange` its own IPAddresses outside it
 * (left over after a shrink, or moved in).
 */
export function poolCounts(model: PoolModel, book: PoolCounts | undefined): StatusCounts | undefined {
  return model.pool && book ? statusCounts(book) : undefined;
}

export interface PoolCondition {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export const PoolReasons = {
  Ready: 'PoolReady',
  ReadyWithWarnings: 'PoolReadyWithWarnings',
  InvalidSpec: 'InvalidSpec',
  NoUsableAddresses: 'NoUsableAddresses',
  Deleting: 'Deleting',
} as const;

interface Span {
  readonly model: PoolModel & { pool: Pool };
  readonly lo: bigint;
  readonly hi: bigint;
}

/**
 * Valid pools by the span of their usable addresses (lowest to highest), so that finding the pools a pool overlaps
 * costs a binary search and the spans that reach it, not a comparison with every pool: spans sorted by start with a
 * running maximum of their ends.
 */
export class PoolRangeIndex {
  private readonly spans = new Map<string, Span>();
  private readonly affectedBy = new Map<string, string[]>();
  private sorted: Map<number, { spans: Span[]; maxHi: bigint[] }> | undefined;

  /** Records the pool's current model (undefined: gone or invalid); remembers whom the change concerns. */
  set(key: string, model: PoolModel | undefined): void {
    const before = this.spans.get(key);
    const usable = model?.pool?.usable;
    const ranges = usable?.ranges() ?? [];
    const after =
      model?.pool && ranges.length > 0
        ? { model: model as Span['model'], lo: ranges[0]!.lo, hi: ranges[ranges.length - 1]!.hi }
        : undefined;
    if (before === after || (before && after && before.model === after.model)) return;
    if (after) this.spans.set(key, after);
    else this.spans.delete(key);
    this.sorted = undefined;
    const touched = new Set<string>();
    for (const span of [before, after]) {
      if (span) for (const s of this.reaching(span.model.pool.family, span.lo, span.hi)) touched.add(s.model.key);
    }
    touched.delete(key);
    this.affectedBy.set(key, [...touched]);
  }

  /** Pools whose span met the old or the new span of `key` at its last change: their overlap reports may change. */
  affected(key: string): readonly string[] {
    return this.affectedBy.get(key) ?? [];
  }

  /** Valid pools (other than `model`'s) whose usable addresses share some with `model`'s, with what they share. */
  overlapping(model: PoolModel): { other: PoolModel; shared: IntervalSet }[] {
    const pool = model.pool;
    const span = this.spans.get(model.key);
    if (!pool || !span) return [];
    const out: { other: PoolModel; shared: IntervalSet }[] = [];
    for (const s of this.reaching(pool.family, span.lo, span.hi)) {
      if (s.model.key === model.key) continue;
      const shared = pool.usable.intersection(s.model.pool.usable);
      if (!shared.isEmpty) out.push({ other: s.model, shared });
    }
    return out;
  }

  private reaching(family: number, lo: bigint, hi: bigint): Span[] {
    const index = this.index().get(family);
    if (!index) return [];
    // Last span starting at or before hi; then back while some earlier span may still reach lo.
    let a = 0;
    let b = index.spans.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (index.spans[m]!.lo <= hi) a = m + 1;
      else b = m;
    }
    const out: Span[] = [];
    for (let i = a - 1; i >= 0 && index.maxHi[i]! >= lo; i--) if (index.spans[i]!.hi >= lo) out.push(index.spans[i]!);
    return out;
  }

  private index(): Map<number, { spans: Span[]; maxHi: bigint[] }> {
    if (this.sorted) return this.sorted;
    const sorted = new Map<number, { spans: Span[]; maxHi: bigint[] }>();
    for (const span of this.spans.values()) {
      const family = span.model.pool.family;
      let entry = sorted.get(family);
      if (!entry) sorted.set(family, (entry = { spans: [], maxHi: [] }));
      entry.spans.push(span);
    }
    for (const entry of sorted.values()) {
      entry.spans.sort((x, y) => (x.lo < y.lo ? -1 : x.lo > y.lo ? 1 : 0));
      let max = -1n;
      entry.maxHi = entry.spans.map((s) => (max = s.hi > max ? s.hi : max));
    }
    return (this.sorted = sorted);
  }
}

/**
 * What the pool's overlaps mean, for its Ready condition: within its address domain the pools share those addresses
 * (each is handed out once); across the global domain's boundary the same address can be handed out twice. Pools of
 * other namespaces' domains overlap by design (isolated networks) and are not reported.
 */
export function overlapsWith(
  self: PoolModel,
  overlaps: readonly { other: PoolModel; shared: IntervalSet }[],
): string[] {
  const out: string[] = [];
  for (const { other, shared } of [...overlaps].sort((a, b) => (a.other.key < b.other.key ? -1 : 1))) {
    const title = poolTitle(other.key);
    if (other.domain === self.domain)
      out.push(`overlaps ${title} at ${shared} (shared: each address is handed out once)`);
    else if (other.domain === globalDomain || self.domain === globalDomain) {
      out.push(
        `overlaps ${title} of ${domainTitle(other.domain)} at ${shared}: the same address can be handed out twice ` +
          `(this pool is in ${domainTitle(self.domain)}); put both into one domain with the annotation ` +
          `${addressDomainAnnotation}`,
      );
    }
  }
  return out;
}

/** The pool's Ready condition. Warnings (gateway outside the subnet, overlaps) keep it Ready but are spelled out. */
export function poolCondition(
  obj: KubeObject,
  model: PoolModel,
  counts: StatusCounts | undefined,
  overlaps: readonly string[],
  exact?: PoolCounts,
): PoolCondition {
  if (obj.metadata.deletionTimestamp) {
    const used = counts?.used ?? 0;
    return {
      status: 'False',
      reason: PoolReasons.Deleting,
      message: used > 0 ? `being deleted; waiting for ${used} allocated addresses to be released` : 'being deleted',
    };
  }
  if (!model.pool) return { status: 'False', reason: PoolReasons.InvalidSpec, message: issues(model.errors) };
  if (model.pool.usable.isEmpty) {
    return { status: 'False', reason: PoolReasons.NoUsableAddresses, message: issues(model.warnings) };
  }
  const warnings = [...model.warnings.map((w) => `${w.field}: ${w.message}`), ...overlaps];
  // The exact counts when known: the status numbers are capped at 2^53-1, which an IPv6 pool's message must not claim.
  const summary = exact
    ? `${humanCount(exact.free)} of ${humanCount(exact.total)} addresses free`
    : counts
      ? `${counts.free} of ${counts.total} addresses free`
      : '';
  return warnings.length
    ? { status: 'True', reason: PoolReasons.ReadyWithWarnings, message: `${summary}; warnings: ${warnings.join('; ')}` }
    : { status: 'True', reason: PoolReasons.Ready, message: summary };
}
