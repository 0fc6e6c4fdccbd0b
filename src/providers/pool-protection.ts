// The ProtectPool finalizer, written here only, for both providers and every path that needs it: the claim
// controller before a pool's first address is handed out (a pool deleted meanwhile waits for its addresses), and the
// pool controllers' upkeep, which keeps it while anything may still be released against the pool and removes it
// from a pool being deleted once nothing is left. What "in use" means is each provider's (in-cluster: its claims,
// IPAddresses and reservations; Infoblox: its claims, IPAddresses left without their claim, claims that went
// without their release).
import { isConflict, type KubeObject, type ResourceClient } from '../kube/index.ts';
import { hasFinalizer, objectKey, removeFinalizer } from '../runtime/index.ts';
import { protectPoolFinalizer } from './claims.ts';
import type { Overlay } from './overlay.ts';

export class PoolProtection<T extends KubeObject> {
  /** Pool key → the write adding the finalizer: concurrent claims of one pool share it. */
  private readonly adding = new Map<string, Promise<T>>();

  constructor(
    private readonly client: ResourceClient<T>,
    /** Where the pool's writes are recorded, so the next reconcile sees them before the informer does. */
    private readonly pools: Overlay<T>,
  ) {}

  /**
   * Adds ProtectPool unless the pool has it or is being deleted (no finalizer may be added then); returns the pool
   * as written. A write that meets a newer pool (409: the pool controller or a user wrote it) reads it and tries
   * again.
   */
  async protect(pool: T, signal?: AbortSignal): Promise<T> {
    if (hasFinalizer(pool, protectPoolFinalizer) || pool.metadata.deletionTimestamp) return pool;
    const key = objectKey(pool);
    let pending = this.adding.get(key);
    if (!pending) {
      pending = this.add(pool, signal).finally(() => this.adding.delete(key));
      this.adding.set(key, pending);
    }
    return pending;
  }

  /**
   * The upkeep: ProtectPool while the pool is in use; a pool being deleted loses it once it is not. Returns the pool
   * as written.
   */
  async follow(pool: T, inUse: boolean, signal?: AbortSignal): Promise<T> {
    if (!pool.metadata.deletionTimestamp) return inUse ? this.protect(pool, signal) : pool;
    if (inUse) return pool;
    return this.pools.record(await removeFinalizer(this.client, pool, protectPoolFinalizer));
  }

  private async add(current: T, signal: AbortSignal | undefined): Promise<T> {
    const key = { namespace: current.metadata.namespace, name: current.metadata.name! };
    for (let attempt = 0; ; attempt++) {
      if (hasFinalizer(current, protectPoolFinalizer)) return this.pools.record(current);
      const finalizers = [...(current.metadata.finalizers ?? []), protectPoolFinalizer];
      try {
        const written = await this.client.patch(
          key,
          { metadata: { finalizers, resourceVersion: current.metadata.resourceVersion } },
          { signal },
        );
        return this.pools.record(written);
      } catch (err) {
        if (!isConflict(err) || attempt >= 3) throw err;
        current = await this.client.get(key, { signal });
      }
    }
  }
}
