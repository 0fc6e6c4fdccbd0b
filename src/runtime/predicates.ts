// Predicates controllers filter events with.
import { sameJSON } from '../api/json.ts';
import type { KubeObject } from '../kube/index.ts';

/** Skips status-only updates (our own writes, mostly): anything else may change what to do. */
export function notStatusOnly(event: { type: string; object: KubeObject; old?: KubeObject }): boolean {
  if (event.type !== 'update' || !event.old) return true;
  const a = event.old.metadata;
  const b = event.object.metadata;
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    !sameJSON(a.annotations, b.annotations) ||
    !sameJSON(a.labels, b.labels) ||
    !sameJSON(a.finalizers, b.finalizers)
  );
}
