import type { Condition } from '../kube/index.ts';

export interface ConditionInput {
  type: string;
  status: Condition['status'];
  reason: string;
  message?: string;
}

/** metav1.Time: RFC 3339 in whole seconds, as the API server stores it. */
export function metaTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * meta.SetStatusCondition without mutation (cached objects are frozen): returns a new list where `cond` is set.
 * lastTransitionTime changes only when the status does; observedGeneration records the generation acted on.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  cond: ConditionInput,
  generation?: number,
  now: Date = new Date(),
): Condition[] {
  const list = conditions ?? [];
  const existing = list.find((c) => c.type === cond.type);
  const next: Condition = {
    type: cond.type,
    status: cond.status,
    reason: cond.reason,
    message: cond.message ?? '',
    lastTransitionTime: existing && existing.status === cond.status ? existing.lastTransitionTime : metaTime(now),
  };
  const observedGeneration = generation ?? existing?.observedGeneration;
  if (observedGeneration !== undefined) next.observedGeneration = observedGeneration;
  return existing ? list.map((c) => (c === existing ? next : c)) : [...list, next];
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((c) => c.type !== type);
}
