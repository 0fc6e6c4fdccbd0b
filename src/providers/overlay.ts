// Our own writes, until the informer shows them. A reconcile that follows one of its own writes (a finalizer patch,
// a status patch, a created IPAddress) must see that write, not the older cached object: otherwise it repeats the
// write with a stale resourceVersion (409, rate-limited requeue) or creates twice (409). Correctness never rests
// on this (every write is guarded by a resourceVersion, a uid precondition or a deterministic name); it only saves
// API calls.
import type { KubeObject } from '../kube/index.ts';
import { objectKey, type Informer } from '../runtime/index.ts';

/** resourceVersions are etcd revisions in practice; if one is not, the cache wins (the safe, slower choice). */
function atLeast(a: string | undefined, b: string | undefined): boolean {
  try {
    return BigInt(a ?? '') >= BigInt(b ?? '');
  } catch {
    return true;
  }
}

export class Overlay<T extends KubeObject> {
  private readonly written = new Map<string, T>();

  constructor(private readonly informer: Informer<T>) {
    // Deleted objects must not live on here; caught-up ones need not.
    informer.addEventHandler({
      onUpdate: (_, obj) => this.get(objectKey(obj)),
      onDelete: (obj) => this.written.delete(objectKey(obj)),
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

  record(obj: T): T {
    this.written.set(objectKey(obj), obj);
    return obj;
  }

  forget(key: string): void {
    this.written.delete(key);
  }
}
