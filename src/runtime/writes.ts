// Write helpers for reconcilers. They take no signal of their own: writes through the manager's client are fenced by
// leadership (see Manager.client): once this replica does not lead, none is sent and those in flight are cut off
// (one the API server is already committing may still land).
import { isConflict, isNotFound, type KubeObject, type ResourceClient } from '../kube/index.ts';
import type { Reconciler } from './controller.ts';

/**
 * Races with other writers are not errors: a 409 means another writer (a second manager, or our own previous write
 * still on its way to the cache) got there first, so reconcile again from the newer object; a 404 on a write means
 * the object was deleted meanwhile, and its delete event brings the controller back if anything is left to do.
 */
export function tolerateRaces(reconcile: Reconciler): Reconciler {
  return async (req, ctx) => {
    try {
      return await reconcile(req, ctx);
    } catch (err) {
      if (isConflict(err)) return { requeue: true };
      if (isNotFound(err)) return {};
      throw err;
    }
  };
}

function keyOfObject(obj: KubeObject) {
  return { namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' };
}

/** A JSON merge patch of the status, guarded by obj's resourceVersion (409 when obj is stale). */
export async function patchStatus<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: T,
  status: unknown,
): Promise<T> {
  return client.patchStatus(keyOfObject(obj), { metadata: { resourceVersion: obj.metadata.resourceVersion }, status });
}

export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return obj.metadata.finalizers?.includes(finalizer) ?? false;
}

// The whole finalizer list is written with obj's resourceVersion: a concurrent change (another finalizer added,
// deletion started) makes this fail with 409 instead of silently dropping it. Annotations are merged key by key.
async function patchMetadata<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: T,
  metadata: { finalizers?: string[]; annotations?: Record<string, string> },
) {
  return client.patch(keyOfObject(obj), { metadata: { ...metadata, resourceVersion: obj.metadata.resourceVersion } });
}

/** Adds `finalizer` unless present; returns the updated object (or obj unchanged). 409 if obj is stale. */
export async function addFinalizer<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: T,
  finalizer: string,
): Promise<T> {
  return addMetadata(client, obj, finalizer, {});
}

/**
 * Adds `finalizer` unless present and sets `annotations`, in one patch (one write, not two); returns the updated
 * object, or obj unchanged when it carries both. 409 if obj is stale.
 */
export async function addMetadata<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: T,
  finalizer: string,
  annotations: Record<string, string>,
): Promise<T> {
  const finalized = hasFinalizer(obj, finalizer);
  const annotated = Object.entries(annotations).every(([k, v]) => obj.metadata.annotations?.[k] === v);
  if (finalized && annotated) return obj;
  return patchMetadata(client, obj, {
    ...(finalized ? {} : { finalizers: [...(obj.metadata.finalizers ?? []), finalizer] }),
    ...(annotated ? {} : { annotations }),
  });
}

/** Removes `finalizer` if present; returns the updated object (or obj unchanged). 409 if obj is stale. */
export async function removeFinalizer<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: T,
  finalizer: string,
): Promise<T> {
  if (!hasFinalizer(obj, finalizer)) return obj;
  return patchMetadata(client, obj, { finalizers: (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer) });
}

/**
 * Sets each of `fields` (JSON pointers into obj, e.g. `/spec/config`) to its value as a whole, or removes it where the
 * value is undefined, guarded by obj's resourceVersion (409 when obj is stale): nothing of obj but these fields is
 * sent, so fields the manager's cache does not hold (informer transforms) are never written back. Parents of a
 * pointer must exist in obj.
 */
export async function setFields<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: T,
  fields: Record<string, unknown>,
): Promise<T> {
  const ops: unknown[] = [{ op: 'replace', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion }];
  for (const [path, value] of Object.entries(fields)) {
    if (value !== undefined) ops.push({ op: 'add', path, value });
    else if (pointsAt(obj, path)) ops.push({ op: 'remove', path });
  }
  return client.patch(keyOfObject(obj), ops, { type: 'json' });
}

function pointsAt(obj: unknown, path: string): boolean {
  let at = obj;
  for (const token of path.split('/').slice(1)) {
    const key = token.replaceAll('~1', '/').replaceAll('~0', '~');
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, key)) return false;
    at = (at as Record<string, unknown>)[key];
  }
  return true;
}
