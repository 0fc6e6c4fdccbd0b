// Glue the three cluster IPAM reconcilers share: informer indexes, status writes that also record an Event per
// condition transition. Conflict handling is tolerateRaces in src/runtime. The decisions themselves live in src/ipam (pure).
import type { Condition } from '../api/index.ts';
import { isApiError, type KubeObject, type ResourceClient, type ResourceType } from '../kube/index.ts';
import { sameJSON } from '../api/index.ts';
import { eventFor } from '../ipam/index.ts';
import {
  patchStatus,
  setCondition,
  type ConditionInput,
  type EventRecorder,
  type Informer,
  type Predicate,
  type Request,
  type WatchSpec,
} from '../runtime/index.ts';

/** Adds the index unless another controller sharing the informer already did. */
export function ensureIndex<T extends KubeObject>(informer: Informer<T>, name: string, fn: (obj: T) => string[]) {
  try {
    informer.byIndex(name, '');
  } catch {
    informer.addIndex(name, fn);
  }
}

/** A watch whose map sees the kind's own type (the manager's list of watches is untyped). */
export function watch<T extends KubeObject>(
  type: ResourceType<T>,
  map: (obj: T) => Request[],
  predicate?: Predicate<T>,
): WatchSpec<KubeObject> {
  return {
    type,
    map: map as (obj: KubeObject) => Request[],
    predicate: predicate as Predicate<KubeObject> | undefined,
  };
}

export const nsKey = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

/** Index: `namespace/name` of the object's controlling owner of `kind`. */
export function controllerIndex(kind: string) {
  return (obj: KubeObject): string[] => {
    const ref = obj.metadata.ownerReferences?.find((r) => r.controller && r.kind === kind);
    return ref ? [nsKey(obj.metadata.namespace, ref.name)] : [];
  };
}

type WithStatus = KubeObject & { status?: { conditions?: Condition[] } & Record<string, unknown> };

/**
 * Sets `conditions` (and the other `fields`) on obj's status; writes only if something changed, guarded by obj's
 * resourceVersion, then records the Event (see eventFor) of each condition whose status or reason changed. Returns
 * the written object (or obj).
 */
export async function writeStatus<T extends WithStatus>(
  client: ResourceClient<T>,
  recorder: EventRecorder,
  obj: T,
  conditions: readonly ConditionInput[],
  fields: Record<string, unknown> = {},
): Promise<T> {
  const generation = obj.metadata.generation;
  const before = obj.status?.conditions ?? [];
  let after: Condition[] = [...before];
  for (const c of conditions) after = setCondition(after, c, generation);
  const status = { ...obj.status, ...fields, conditions: after, observedGeneration: generation };
  if (sameJSON(obj.status ?? {}, status)) return obj;
  const written = await patchStatus(client, obj, status);
  for (const c of conditions) {
    const old = before.find((b) => b.type === c.type);
    if (old && old.status === c.status && old.reason === c.reason) continue;
    const event = eventFor(c);
    if (event) recorder.event(written, event.type, event.reason, c.message ?? '');
  }
  return written;
}

/** The condition if it describes the object's current generation. */
export function currentCondition(obj: WithStatus, type: string): Condition | undefined {
  const c = obj.status?.conditions?.find((x) => x.type === type);
  return c && c.observedGeneration === obj.metadata.generation ? c : undefined;
}

/**
 * The API server's message when it refused a write on its merits: an admission webhook's denial (403, or 400 when
 * the webhook gives no code), a validation failure (422 Invalid, CEL rules included), or RBAC (403). Undefined for
 * everything a plain retry handles (conflicts, throttling, unavailability, timeouts).
 */
export function refusal(err: unknown): string | undefined {
  return isApiError(err) && [400, 403, 422].includes(err.statusCode) ? err.message : undefined;
}
