// Our own writes, until the informer shows them. A reconcile that follows one of its own writes (a finalizer patch,
// a status patch, a created IPAddress) must see that write, not the older cached object: otherwise it repeats the
// write with a stale resourceVersion (409, rate-limited requeue) or creates twice (409). Correctness never rests
// on this (every write is guarded by a resourceVersion, a uid precondition or a deterministic name); it only saves
// API calls.
import type { KubeObject } from '../kube/index.ts';
import { objectKey, type Informer } from '../runtime/index.ts';

/** resourceVersions are etcd revisions in practice; if one is not, the cache wins (the safe, slower choice). */
export function atLeast(a: string | undefined, b: string | undefined): boolean {
  try {
    return BigInt(a ?? '') >= BigInt(b ?? '');
  } catch {
    return true;
  }
}

/** How long the resourceVersion of a deleted object is remembered, to refuse late records of it. */
const tombstoneMs = 5 * 60_000;

export class Overlay<T extends KubeObject> {
  private readonly written = new Map<string, T>();
  /** key → resourceVersion of its DELETE event, and when it came: a write answered after it must not revive it. */
  private readonly tombstones = new Map<string, { rv: string | undefined; at: number }>();

  constructor(private readonly informer: Informer<T>) {
    // Deleted objects must not live on here; caught-up ones need not.
    informer.addEventHandler({
      onAdd: (obj) => this.tombstones.delete(objectKey(obj)),
      onUpdate: (_, obj) => this.get(objectKey(obj)),
      onDelete: (obj) => {
        const key = objectKey(obj);
        this.written.delete(key);
        this.tombstones.set(key, { rv: obj.metadata.resourceVersion, at: Date.now() });
      },
    });
  }

  /** The newer of the cached object and our last write of it. */
  get(key: string): T | undefined {
    const cached = this.informer.get(key);
    const mine = this.written.get(key);
    if (!mine) return cached;
    if (cached && atLeast(cached.metadata.resourceVersion, mine.metadata.resourceVersion)) {
      this.written.delete(key);
      return cached;
    }
    return mine;
  }

  /**
   * Remembers our write of `obj`, unless the object is already gone: its DELETE event arrived before the write's
   * answer (the write that removed the last finalizer, say), or the write itself ended it.
   */
  record(obj: T): T {
    const key = objectKey(obj);
    const gone = obj.metadata.deletionTimestamp !== undefined && (obj.metadata.finalizers ?? []).length === 0;
    const tomb = this.tombstones.get(key);
    if (gone || (tomb && atLeast(tomb.rv, obj.metadata.resourceVersion))) return obj;
    this.written.set(key, obj);
    this.pruneTombstones();
    return obj;
  }

  private pruneTombstones(): void {
    const cutoff = Date.now() - tombstoneMs;
    for (const [key, t] of this.tombstones) {
      if (t.at > cutoff) break; // insertion order is age order
      this.tombstones.delete(key);
    }
  }

  forget(key: string): void {
    this.written.delete(key);
  }
}
