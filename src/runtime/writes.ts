// Write helpers for reconcilers. They take no signal of their own: writes through the manager's client are fenced by
// leadership (see Manager.client), so a replica that lost its lease cannot complete one.
import { isConflict, isNotFound, type KubeObject, type ResourceClient } from '../kube/index.ts';
import { jittered, sleep } from './backoff.ts';
import type { Reconciler } from './controller.ts';

export interface RetryOptions {
  /** Attempts in all (default 5). */
  steps?: number;
  /** Delay before the second attempt (default 10 ms), growing by `factor` (default 1), with `jitter` (0.1). */
  delayMs?: number;
  factor?: number;
  jitter?: number;
}

/** client-go's retry.RetryOnConflict with retry.DefaultRetry: re-runs `fn` while it fails with 409 Conflict. */
export async function retryOnConflict<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const { steps = 5, delayMs = 10, factor = 1, jitter = 0.1 } = opts;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isConflict(err) || attempt >= steps) throw err;
      await sleep(jittered(delayMs * factor ** (attempt - 1), jitter));
    }
  }
}

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

/**
 * Writes status through the status subresource with optimistic concurrency: `mutate` edits a clone of `obj`
 * (usually the cached object) and it is PUT with obj's resourceVersion; on 409 the object is read again from the
 * API server and `mutate` re-applied. `mutate` returning false means "nothing to change" and skips the write.
 */
export async function updateStatusWithRetry<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: T,
  mutate: (draft: T) => boolean | void,
  opts?: RetryOptions,
): Promise<T> {
  let current: T | undefined;
  return retryOnConflict(async () => {
    current = current === undefined ? obj : await client.get(keyOfObject(current));
    const draft = structuredClone(current);
    if (mutate(draft) === false) return current;
    return client.updateStatus(draft);
  }, opts);
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

// The whole list is written with obj's resourceVersion: a concurrent change (another finalizer added, deletion
// started) makes this fail with 409 instead of silently dropping it.
async function writeFinalizers<T extends KubeObject>(client: ResourceClient<T>, obj: T, finalizers: string[]) {
  return client.patch(keyOfObject(obj), { metadata: { finalizers, resourceVersion: obj.metadata.resourceVersion } });
}

/** Adds `finalizer` unless present; returns the updated object (or obj unchanged). 409 if obj is stale. */
export async function addFinalizer<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: T,
  finalizer: string,
): Promise<T> {
  if (hasFinalizer(obj, finalizer)) return obj;
  return writeFinalizers(client, obj, [...(obj.metadata.finalizers ?? []), finalizer]);
}

/** Removes `finalizer` if present; returns the updated object (or obj unchanged). 409 if obj is stale. */
export async function removeFinalizer<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: T,
  finalizer: string,
): Promise<T> {
  if (!hasFinalizer(obj, finalizer)) return obj;
  return writeFinalizers(
    client,
    obj,
    (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer),
  );
}
