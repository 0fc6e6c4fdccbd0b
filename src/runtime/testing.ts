// An in-memory API server for one resource type, enough for unit tests of informers and controllers (the real
// server is in test/integration). Its watches can be ended, failed or left silent at will.
import {
  ApiError,
  type KubeObject,
  type ListAllResult,
  type ResourceClient,
  type ResourceType,
  type WatchEvent,
  type WatchOptions,
} from '../kube/index.ts';
import { objectKey } from './informer.ts';

interface FakeWatch<T> {
  opts: WatchOptions;
  onEvent: (event: WatchEvent<T>) => void;
  end: (err?: unknown) => void;
}

export class FakeListWatch<T extends KubeObject> {
  readonly objects = new Map<string, T>();
  readonly watchCalls: WatchOptions[] = [];
  listCalls = 0;
  /** Errors the next LISTs / WATCHes fail with, in order. */
  readonly listErrors: unknown[] = [];
  readonly watchErrors: unknown[] = [];
  /** False: the kind is not served (its CRD is absent); LISTs and WATCHes fail with a bare 404. */
  served = true;
  private readonly watches = new Set<FakeWatch<T>>();
  private rv = 100;

  constructor(readonly type: ResourceType<T>) {}

  get activeWatches(): number {
    return this.watches.size;
  }

  /** Creates or updates an object; `quiet` keeps it from open watches (as if they were down). */
  upsert(obj: T, quiet = false): T {
    const key = objectKey(obj);
    const existed = this.objects.has(key);
    const stored = structuredClone({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } });
    this.objects.set(key, stored);
    if (!quiet) this.emit({ type: existed ? 'MODIFIED' : 'ADDED', object: stored });
    return stored;
  }

  remove(key: string, quiet = false): void {
    const obj = this.objects.get(key);
    if (!obj) return;
    this.objects.delete(key);
    const gone = structuredClone({ ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } });
    if (!quiet) this.emit({ type: 'DELETED', object: gone });
  }

  bookmark(): string {
    const rv = String(++this.rv);
    this.emit({ type: 'BOOKMARK', object: { metadata: { resourceVersion: rv } } as T });
    return rv;
  }

  /** Ends every open watch: cleanly, or with `err` (e.g. a 410 ApiError). */
  endWatches(err?: unknown): void {
    for (const w of [...this.watches]) w.end(err);
  }

  /** The client the informer uses (only the calls an informer makes). */
  client(): ResourceClient<T> {
    const fake = {
      type: this.type,
      listAll: async (): Promise<ListAllResult<T>> => {
        this.listCalls++;
        if (!this.served) throw notServed();
        if (this.listErrors.length) throw this.listErrors.shift();
        return { items: [...this.objects.values()].map((o) => structuredClone(o)), resourceVersion: String(this.rv) };
      },
      watch: (opts: WatchOptions, onEvent: (event: WatchEvent<T>) => void): Promise<void> => {
        this.watchCalls.push(opts);
        if (!this.served) return Promise.reject(notServed());
        if (this.watchErrors.length) return Promise.reject(this.watchErrors.shift());
        return new Promise<void>((resolve, reject) => {
          const watch: FakeWatch<T> = {
            opts,
            onEvent,
            end: (err) => {
              this.watches.delete(watch);
              if (err) reject(err);
              else resolve();
            },
          };
          this.watches.add(watch);
          opts.signal?.addEventListener('abort', () => watch.end(), { once: true });
        });
      },
    };
    return fake as unknown as ResourceClient<T>;
  }

  private emit(event: WatchEvent<T>): void {
    for (const w of [...this.watches]) {
      try {
        w.onEvent(structuredClone(event));
      } catch (err) {
        w.end(err);
      }
    }
  }
}

export function gone(message = 'too old resource version'): ApiError {
  return new ApiError(410, { kind: 'Status', status: 'Failure', reason: 'Expired', code: 410, message }, 'WATCH fake');
}

/** What the API server answers for a path it serves nothing at: a 404 with a plain-text body. */
export function notServed(): ApiError {
  return new ApiError(404, { message: '404 page not found' }, 'GET fake');
}

/** Resolves once `check` holds, re-checking on every turn of the event loop. */
export async function until(check: () => boolean, what = 'condition', timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
