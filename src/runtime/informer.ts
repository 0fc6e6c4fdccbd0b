import {
  WatchIdleError,
  apiVersionOf,
  isApiError,
  isGone,
  type CustomResourceDefinition,
  type KubeObject,
  type ObjectKey,
  type ResourceClient,
  type ResourceType,
  type WatchEvent,
} from '../kube/index.ts';
import { Backoff, linkedSignal, sleep, type BackoffOptions } from './backoff.ts';
import { silentLogger, type Logger } from './log.ts';

/** Callbacks may be async; a throw or a rejection is logged and never stops the informer or the process. */
export interface EventHandler<T> {
  onAdd?(obj: T): unknown;
  onUpdate?(oldObj: T, newObj: T): unknown;
  onDelete?(obj: T): unknown;
}

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** LIST page size (default 500). */
  pageSize?: number;
  /** Server-side watch timeout is drawn from [min, 2×min] seconds like client-go (default 300). */
  minWatchTimeoutSeconds?: number;
  /**
   * Restart a watch that received nothing, not even a bookmark, for this long (default 150 s), so a connection that
   * died silently (no FIN, no RST) is noticed in minutes, not when TCP keep-alive gives up. The API server sends
   * bookmarks only when the kind's resourceVersion moved, so a quiet kind is simply re-watched, cheaply, from the
   * same resourceVersion.
   */
  idleTimeoutMs?: number;
  /** Retry delays after errors (default 800 ms doubling to 30 s, with jitter, like client-go's reflector). */
  backoff?: BackoffOptions;
  /**
   * Optional kinds only: while the kind is not served, how often to LIST it again (default 2 s doubling to 60 s).
   * With `crds`, the kind's CustomResourceDefinition is watched meanwhile and its installation cuts the wait short.
   */
  absentBackoff?: BackoffOptions;
  crds?: ResourceClient<CustomResourceDefinition>;
  logger?: Logger;
}

export const NAMESPACE_INDEX = 'namespace';

/** A 404 to a LIST or WATCH of a whole collection: the kind is not served (an object can be missing, not a list). */
function notServed(err: unknown): boolean {
  return isApiError(err) && err.statusCode === 404;
}

/** `InfobloxIPPool (ipam.cluster.x-k8s.io/v1alpha1)`, for logs. */
export function kindTitle(type: ResourceType<KubeObject>): string {
  return `${type.kind} (${apiVersionOf(type)})`;
}

/** Whether `crd` is Established and serves `type`'s version. */
export function crdServes(crd: CustomResourceDefinition, type: ResourceType<KubeObject>): boolean {
  const versions = (crd.spec as { versions?: { name?: string; served?: boolean }[] }).versions ?? [];
  return (
    versions.some((v) => v.name === type.version && v.served) &&
    (crd.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True')
  );
}

// Method syntax makes the parameter bivariant, so an Informer<Pool> can be passed where an Informer<KubeObject> is
// expected (helpers that only read metadata), which a plain function type would forbid.
type IndexFunc<T> = { index(obj: T): string[] }['index'];

/** client-go's MetaNamespaceKeyFunc: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  const { namespace, name } = obj.metadata;
  return namespace ? `${namespace}/${name}` : (name ?? '');
}

export function keyOf(key: ObjectKey): string {
  return key.namespace ? `${key.namespace}/${key.name}` : key.name;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** kubectl's copy of what was last applied: often the largest annotation, and read by kubectl alone. */
export const lastAppliedAnnotation = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * What the cache keeps of an object: everything but `metadata.managedFields` and kubectl's last-applied annotation,
 * which no reconciler reads and which are often the largest part of a small object (server-side apply bookkeeping
 * for every field and writer; a second copy of the object). Reconcilers never write a cached object back whole (they
 * patch the fields they set), so what is dropped here is never dropped from the API.
 */
function cached<T extends KubeObject>(type: ResourceType<T>, received: T): T {
  const obj = type.cached ? type.cached(received) : received;
  const annotations = obj.metadata?.annotations;
  const lastApplied = annotations?.[lastAppliedAnnotation] !== undefined;
  if (obj.metadata?.managedFields || lastApplied) {
    // A copy without the fields rather than `delete`, which turns the object into a dictionary (~4 times its memory).
    const { managedFields: _dropped, ...metadata } = obj.metadata;
    if (lastApplied) {
      const { [lastAppliedAnnotation]: _copy, ...others } = annotations!;
      metadata.annotations = others;
    }
    obj.metadata = metadata;
  }
  return internAndFreeze(obj);
}

// Fields whose values repeat across the objects of a kind (group/version/kind, namespaces, finalizers, condition
// types and reasons, address domains, the second an object was created or a condition changed, which a burst of
// claims shares): the cache keeps one string per value instead of one per object. The table starts afresh when it
// is full, in case a field is less repetitive than expected: values already shared stay shared.
const INTERNED_FIELDS = new Set([
  'apiVersion',
  'kind',
  'apiGroup',
  'namespace',
  'type',
  'status',
  'reason',
  'domain',
  'creationTimestamp',
  'lastTransitionTime',
]);
const interned = new Map<string, string>();

function intern(value: string): string {
  const hit = interned.get(value);
  if (hit !== undefined) return hit;
  if (value.length > 128) return value;
  if (interned.size >= 10_000) interned.clear();
  interned.set(value, value);
  return value;
}

// Cached objects are shared by every controller; freezing them turns an accidental in-place edit (which would
// corrupt the cache until the next event) into an immediate TypeError. Mutate a structuredClone instead.
// Within one object, equal strings become one: JSON.parse makes a string per occurrence, and an object repeats its
// own values (a claim's name in its addressRef, a condition's message and time in its v1beta1 copy, an IPAddress's
// claim in its claimRef and owner reference).
function internAndFreeze<T>(value: T, own = new Map<string, string>(), field?: string): T {
  if (!value || typeof value !== 'object' || Object.isFrozen(value)) return value;
  const obj = value as Record<string, unknown>;
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v !== 'string') internAndFreeze(v, own, k);
    else if (INTERNED_FIELDS.has(k) || field === 'finalizers') obj[k] = intern(v);
    else {
      const same = own.get(v);
      if (same === undefined) own.set(v, v);
      else obj[k] = same;
    }
  }
  return Object.freeze(value);
}

/**
 * A reflector plus an indexed store (client-go's SharedIndexInformer): paginated LIST, then WATCH from the list's
 * resourceVersion with bookmarks, a randomised server timeout and an idle watchdog; on 410 Gone it relists and
 * synthesises the adds, updates and deletes it missed; every error is retried with backoff, forever.
 */
export class Informer<T extends KubeObject> {
  readonly client: ResourceClient<T>;
  private readonly opts: InformerOptions;
  private readonly log: Logger;
  private readonly store = new Map<string, T>();
  private readonly indexers = new Map<string, IndexFunc<T>>();
  // Index name → value → the keys of the objects under it: a lone key as a string (an index by uid has one key per
  // value: a Set each cost ~240 bytes per object), several in a Set.
  private readonly indices = new Map<string, Map<string, string | Set<string>>>();
  private readonly handlers = new Set<EventHandler<T>>();
  private syncWaiters: (() => void)[] = [];
  /** Who waits for the store to be current to a resourceVersion (waitForResourceVersion). */
  private rvWaiters: { rv: bigint; wake: () => void }[] = [];
  private synced = false;
  /** An optional kind the API server answered 404 for; it counts as synced and empty until it is served. */
  private absent = false;
  private running = false;
  private resourceVersion = '';
  private expiredInARow = 0;
  /** Counters for logs, tests and benchmarks. */
  readonly stats = { lists: 0, watches: 0, expired: 0, idleRestarts: 0, events: 0, absent: 0 };

  constructor(client: ResourceClient<T>, opts: InformerOptions = {}) {
    this.client = client;
    this.opts = opts;
    this.log = (opts.logger ?? silentLogger).child({ informer: client.type.plural, namespace: opts.namespace });
    this.addIndex(NAMESPACE_INDEX, (obj) => [obj.metadata.namespace ?? '']);
  }

  /** A secondary index: `fn` maps an object to the index values it is found under. */
  addIndex(name: string, fn: IndexFunc<T>): void {
    if (this.indexers.has(name)) throw new Error(`index "${name}" already exists`);
    this.indexers.set(name, fn);
    this.indices.set(name, new Map());
    for (const [key, obj] of this.store) this.reindex(name, fn, key, undefined, obj);
  }

  byIndex(name: string, value: string): T[] {
    const index = this.indices.get(name);
    if (!index) throw new Error(`no index "${name}"`);
    const keys = index.get(value);
    if (keys === undefined) return [];
    return typeof keys === 'string' ? [this.store.get(keys)!] : [...keys].map((key) => this.store.get(key)!);
  }

  /** A frozen object: clone before changing it. */
  get(key: string | ObjectKey): T | undefined {
    return this.store.get(typeof key === 'string' ? key : keyOf(key));
  }

  list(namespace?: string): T[] {
    return namespace === undefined ? [...this.store.values()] : this.byIndex(NAMESPACE_INDEX, namespace);
  }

  get size(): number {
    return this.store.size;
  }

  /** Registers handlers; if the store is already filled they first get an add for every object. */
  addEventHandler(handler: EventHandler<T>): () => void {
    this.handlers.add(handler);
    for (const obj of this.store.values()) this.call(handler, 'onAdd', obj);
    return () => this.handlers.delete(handler);
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** False for an optional kind the API server does not serve (yet): its store is empty and stays so until then. */
  isServed(): boolean {
    return !this.absent;
  }

  /** True once the first LIST is in the store (and its adds dispatched); false if `signal` aborts first. */
  async waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return true;
    if (signal?.aborted) return false;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.syncWaiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
    return this.synced;
  }

  /**
   * True once the store (and what its handlers keep) is current to at least `rv`, a resourceVersion of this kind:
   * every change up to it has been seen. False if `timeoutMs` passes or `signal` aborts first, or if either version is
   * not a number (fail closed: resourceVersions are opaque to clients, and are compared only where the API server
   * writes them as etcd revisions, as every Kubernetes release does).
   */
  async waitForResourceVersion(rv: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const want = resourceVersionNumber(rv);
    if (want === undefined) return false;
    const current = (): boolean => {
      const now = resourceVersionNumber(this.resourceVersion);
      return now !== undefined && now >= want;
    };
    if (current()) return true;
    if (signal?.aborted) return false;
    await new Promise<void>((resolve) => {
      const waiter = { rv: want, wake: () => done() };
      const timer = setTimeout(() => done(), timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.rvWaiters = this.rvWaiters.filter((w) => w !== waiter);
        resolve();
      };
      this.rvWaiters.push(waiter);
      signal?.addEventListener('abort', done, { once: true });
    });
    return current();
  }

  /** Lists and watches until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.running) throw new Error(`informer for ${this.client.type.plural} is already running`);
    this.running = true;
    const backoff = new Backoff(this.opts.backoff ?? { initialMs: 800, maxMs: 30_000 });
    const absentBackoff = new Backoff(this.opts.absentBackoff ?? { initialMs: 2_000, maxMs: 60_000 });
    let hinted = false;
    let needList = !this.resourceVersion;
    try {
      while (!signal.aborted) {
        try {
          if (needList) {
            // A CRD that looked ready but whose kind still answered 404 must not make a hot loop: then wait it out.
            if (this.absent) hinted = await this.untilMaybeServed(signal, absentBackoff.next(), !hinted);
            if (signal.aborted) break;
            await this.relist(signal);
            needList = false;
            if (this.absent) {
              this.absent = false;
              hinted = false;
              absentBackoff.reset();
              this.log.info(`${kindTitle(this.client.type)} is served now; following it`);
            }
          }
          await this.watchOnce(signal, backoff);
        } catch (err) {
          if (signal.aborted) break;
          if (this.client.type.optional && notServed(err)) {
            this.markAbsent();
            needList = true;
            continue;
          }
          if (err instanceof WatchIdleError) {
            // Not a failure: re-watch at once; if the connection is really dead the next attempt fails and backs off.
            this.stats.idleRestarts++;
            this.log.debug({ resourceVersion: this.resourceVersion }, 'watch silent for too long, restarting it');
            continue;
          }
          if (isGone(err)) {
            this.stats.expired++;
            needList = true;
            this.log.info({ resourceVersion: this.resourceVersion, reason: (err as Error).message }, 'relisting');
            // Relist at once the first time; a server that keeps answering 410 gets the backoff.
            if (this.expiredInARow++ === 0) continue;
          } else {
            this.log.warn({ err }, 'list/watch failed, retrying');
          }
          await sleep(backoff.next(), signal);
        }
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * Not served: one log line per transition, the store emptied (with delete events, should the kind have gone away
   * under us) and the informer synced, so readiness and controllers waiting for caches go on without it.
   */
  private markAbsent(): void {
    if (this.absent) return;
    this.absent = true;
    this.stats.absent++;
    const title = kindTitle(this.client.type);
    this.log.info(
      this.synced
        ? `${title} is no longer served; following it again once its CRD is installed`
        : `${title} is not served; following it once its CRD is installed`,
    );
    const gone = [...this.store];
    for (const [key, obj] of gone) this.remove(key, obj);
    this.resourceVersion = '';
    for (const [, obj] of gone) this.emit('onDelete', obj);
    if (!this.synced) {
      this.synced = true;
      for (const wake of this.syncWaiters.splice(0)) wake();
    }
  }

  /**
   * Waits `ms`, or less when `useHint` and the kind's CRD is (or becomes) Established with our version served.
   * Returns whether the CRD cut the wait short. Any failure of the CRD watch (no RBAC for CRDs, say) just means
   * waiting the full time: the LIST that follows is the real test.
   */
  private async untilMaybeServed(signal: AbortSignal, ms: number, useHint: boolean): Promise<boolean> {
    const type = this.client.type;
    if (!useHint || !this.opts.crds) {
      await sleep(ms, signal);
      return false;
    }
    const wait = linkedSignal([signal], Math.ceil(ms));
    const served = new AbortController();
    const watching = linkedSignal([wait.signal, served.signal]);
    try {
      await this.opts.crds.watch(
        {
          fieldSelector: `metadata.name=${type.plural}.${type.group}`,
          timeoutSeconds: Math.max(1, Math.ceil(ms / 1000)),
          signal: watching.signal,
        },
        (event) => {
          if (event.type !== 'BOOKMARK' && event.type !== 'DELETED' && crdServes(event.object, type)) served.abort();
        },
      );
    } catch (err) {
      this.log.debug({ err }, 'cannot watch the CRD; polling');
    } finally {
      watching.release();
    }
    if (!served.signal.aborted && !wait.signal.aborted) await sleep(ms, wait.signal);
    wait.release();
    return served.signal.aborted;
  }

  private listOptions() {
    const { namespace, labelSelector, fieldSelector } = this.opts;
    return { namespace, labelSelector, fieldSelector };
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const { items, resourceVersion } = await this.client.listAll({
      ...this.listOptions(),
      limit: this.opts.pageSize ?? 500,
      signal,
    });
    this.stats.lists++;
    const fresh = new Map<string, T>();
    for (const item of items) fresh.set(objectKey(item), cached(this.client.type, item));
    // The store changes as a whole before any handler runs, so handlers see one consistent snapshot.
    const notify: (() => void)[] = [];
    for (const [key, obj] of fresh) {
      const old = this.store.get(key);
      if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) continue;
      this.put(key, obj);
      notify.push(old ? () => this.emit('onUpdate', old, obj) : () => this.emit('onAdd', obj));
    }
    for (const [key, old] of this.store) {
      if (fresh.has(key)) continue;
      this.remove(key, old);
      notify.push(() => this.emit('onDelete', old));
    }
    this.resourceVersion = resourceVersion;
    for (const n of notify) n();
    this.wakeCurrent();
    if (notify.length) this.log.debug({ changes: notify.length, total: this.store.size }, 'listed');
    if (!this.synced) {
      this.synced = true;
      for (const wake of this.syncWaiters.splice(0)) wake();
    }
  }

  private async watchOnce(signal: AbortSignal, backoff: Backoff): Promise<void> {
    const min = this.opts.minWatchTimeoutSeconds ?? 300;
    const started = Date.now();
    let received = 0;
    this.stats.watches++;
    await this.client.watch(
      {
        ...this.listOptions(),
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: Math.floor(min * (1 + Math.random())),
        idleTimeoutMs: this.opts.idleTimeoutMs ?? 150_000,
        signal,
      },
      (event) => {
        if (received++ === 0) {
          backoff.reset();
          this.expiredInARow = 0;
        }
        this.apply(event);
      },
    );
    // A watch the server closes at once with nothing in it (an apiserver going down) must not become a hot loop.
    if (!received && !signal.aborted && Date.now() - started < 1000) {
      throw new Error('watch closed immediately without any event');
    }
  }

  private apply(event: WatchEvent<T>): void {
    this.stats.events++;
    const rv = event.object.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (event.type !== 'BOOKMARK') {
      const obj = cached(this.client.type, event.object);
      const key = objectKey(obj);
      const old = this.store.get(key);
      if (event.type === 'DELETED') {
        if (old) this.remove(key, old);
        this.emit('onDelete', obj);
      } else {
        this.put(key, obj);
        if (old) this.emit('onUpdate', old, obj);
        else this.emit('onAdd', obj);
      }
    }
    if (this.rvWaiters.length > 0) this.wakeCurrent();
  }

  /** Wakes the waiters the store is now current for (after the handlers ran: what they keep is current too). */
  private wakeCurrent(): void {
    const now = resourceVersionNumber(this.resourceVersion);
    if (now === undefined) return;
    const waiting = this.rvWaiters;
    this.rvWaiters = waiting.filter((w) => w.rv > now);
    for (const w of waiting) if (w.rv <= now) w.wake();
  }

  private put(key: string, obj: T): void {
    const old = this.store.get(key);
    this.store.set(key, obj);
    for (const [name, fn] of this.indexers) this.reindex(name, fn, key, old, obj);
  }

  private remove(key: string, old: T): void {
    this.store.delete(key);
    for (const [name, fn] of this.indexers) this.reindex(name, fn, key, old, undefined);
  }

  private indexValues(name: string, fn: IndexFunc<T>, obj: T | undefined): string[] {
    if (!obj) return [];
    try {
      return fn(obj);
    } catch (err) {
      this.log.error({ err, index: name, object: objectKey(obj) }, 'index function failed');
      return [];
    }
  }

  private reindex(name: string, fn: IndexFunc<T>, key: string, old: T | undefined, obj: T | undefined) {
    const index = this.indices.get(name)!;
    const before = this.indexValues(name, fn, old);
    const after = new Set(this.indexValues(name, fn, obj));
    for (const value of before) {
      if (after.has(value)) continue;
      const keys = index.get(value);
      if (keys === key) index.delete(value);
      else if (typeof keys === 'object') {
        keys.delete(key);
        if (keys.size === 1) index.set(value, keys.values().next().value!);
      }
    }
    for (const value of after) {
      const keys = index.get(value);
      if (keys === undefined) index.set(value, key);
      else if (typeof keys === 'object') keys.add(key);
      else if (keys !== key) index.set(value, new Set([keys, key]));
    }
  }

  private emit<M extends keyof EventHandler<T>>(method: M, ...args: Parameters<NonNullable<EventHandler<T>[M]>>) {
    for (const handler of this.handlers) this.call(handler, method, ...args);
  }

  private call<M extends keyof EventHandler<T>>(
    handler: EventHandler<T>,
    method: M,
    ...args: Parameters<NonNullable<EventHandler<T>[M]>>
  ): void {
    const fail = (err: unknown) => this.log.error({ err, handler: method }, 'event handler failed');
    try {
      const result = (handler[method] as ((...a: unknown[]) => unknown) | undefined)?.(...args);
      if (result instanceof Promise) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  }
}

function resourceVersionNumber(rv: string): bigint | undefined {
  if (!/^[0-9]+$/.test(rv)) return undefined;
  return BigInt(rv);
}
