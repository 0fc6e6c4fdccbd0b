// The pool side of the in-cluster provider, pure: the model of a pool object (validated once per generation), its
// status counts and its Ready condition.
import type { InClusterIPPoolSpec, InClusterIPPoolStatus } from '../../api/index.ts';
import {
  Allocator,
  findOverlaps,
  statusCounts,
  validatePool,
  type Address,
  type FieldIssue,
  type Pool,
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
  /** Changes whenever the spec may have: the allocator is rebuilt then. */
  readonly version: string;
  readonly pool: Pool | undefined;
  readonly errors: readonly FieldIssue[];
  readonly warnings: readonly FieldIssue[];
  readonly graceSeconds: number;
}

export const keyOfPool = (obj: KubeObject): string =>
  poolKey(obj.kind ?? '', obj.metadata.namespace, obj.metadata.name ?? '');

const issues = (list: readonly FieldIssue[]): string => list.map((i) => `${i.field}: ${i.message}`).join('; ');

/** Validates each pool generation once. */
export class PoolModels {
  private readonly models = new Map<string, PoolModel>();

  of(obj: PoolObject): PoolModel {
    const key = keyOfPool(obj);
    const version = `${obj.metadata.uid}/${obj.metadata.generation ?? obj.metadata.resourceVersion}`;
    const cached = this.models.get(key);
    if (cached?.version === version) return cached;
    const check = validatePool(obj.spec);
    const model = {
      key,
      version,
      pool: check.pool,
      errors: check.errors,
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

/** Counts for the pool's status: `used`/`outOfRange` are its IPAddresses inside/outside the usable set. */
export function poolCounts(pool: Pool | undefined, allocated: readonly Address[]): StatusCounts | undefined {
  if (!pool) return undefined;
  return statusCounts(new Allocator(pool.usable, allocated).counts());
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

/** The other pools whose usable addresses overlap this one's: they share those addresses (one holder each). */
export function overlapsWith(self: PoolModel, others: readonly PoolModel[]): string[] {
  if (!self.pool) return [];
  const spaces = [self, ...others.filter((o) => o.key !== self.key && o.pool?.family === self.pool?.family)].map(
    (m) => ({ name: poolTitle(m.key), set: m.pool!.usable }),
  );
  return findOverlaps(spaces)
    .filter((o) => o.a === spaces[0]!.name)
    .map((o) => `overlaps ${o.b} at ${o.shared}`);
}

/** The pool's Ready condition. Warnings (gateway outside the subnet, overlaps) keep it Ready but are spelled out. */
export function poolCondition(
  obj: KubeObject,
  model: PoolModel,
  counts: StatusCounts | undefined,
  overlaps: readonly string[],
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
  const summary = counts ? `${counts.free} of ${counts.total} addresses free` : '';
  return warnings.length
    ? { status: 'True', reason: PoolReasons.ReadyWithWarnings, message: `${summary}; warnings: ${warnings.join('; ')}` }
    : { status: 'True', reason: PoolReasons.Ready, message: summary };
}
