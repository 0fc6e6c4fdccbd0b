import { loadClusterAccess, type ClusterAccess } from './config.ts';
import { ApiError } from './errors.ts';
import { Transport, type Query, type RequestObserver, type WriteGate } from './transport.ts';
import type { KubeList, KubeObject, Status } from './types.ts';

/** A group/version/kind/plural; `T` is the object type the client and caches hand out for it. */
export interface ResourceType<T extends KubeObject = KubeObject> {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /**
   * The kind may not be served (its CRD belongs to an optional component: Infoblox, Cluster API, k0rdent). Informers
   * of an optional kind that is absent count as synced and empty, and start following it once it is served.
   */
  readonly optional?: boolean;
  /**
   * The kind is served in another version than the shape the code works with (Cluster API ≤ 1.10 serves
   * IPAddressClaim only as v1beta1): objects read are decoded into that shape, bodies written are encoded back.
   */
  readonly codec?: Codec;
  /**
   * What informers keep of each object, when not all of it is read from a cache (kcm's ClusterDeployment status, say).
   * Objects are written by patching the fields a reconciler sets, never by writing a cached one back, so what this
   * leaves out is never dropped from the API.
   */
  cached?(obj: T): T;
  /** Type-level only: carries T so `client.resource(type)` is typed. Never set. */
  readonly __object?: T;
}

/** Converts one kind between the version the API server serves and the shape the code works with. */
export interface Codec {
  /** A whole object as the API server sent it (list items and watch events included) into the code's shape. */
  decode(wire: KubeObject): KubeObject;
  /**
   * A body to send: a whole object (create, update, apply) or a merge patch, so only the fields present are
   * converted and nothing is added that the body did not carry.
   */
  encode(body: unknown): unknown;
}

/**
 * Chooses the type actually spoken for a type the code names, e.g. the v1beta1 IPAddressClaim with its codec for the
 * v1beta2 one; undefined (or the type itself) keeps it.
 */
export type ResourceAdapter = (type: ResourceType<KubeObject>) => ResourceType<KubeObject> | undefined;

export function resourceType<T extends KubeObject>(def: Omit<ResourceType<T>, '__object'>): ResourceType<T> {
  return def;
}

export function apiVersionOf(type: ResourceType<KubeObject>): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** namespace/name; namespace is ignored (and may be omitted) for cluster-scoped kinds. */
export interface ObjectKey {
  namespace?: string;
  name: string;
}

interface Cancellable {
  signal?: AbortSignal;
}

export interface Selectors {
  labelSelector?: string;
  fieldSelector?: string;
}

export interface ListOptions extends Selectors, Cancellable {
  /** All namespaces when omitted. */
  namespace?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: 'NotOlderThan' | 'Exact';
}

export interface WriteOptions extends Cancellable {
  dryRun?: boolean;
  /** Defaults to the client's field manager. */
  fieldManager?: string;
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

export interface PatchOptions extends WriteOptions {
  /** Default `merge` (RFC 7386). Put `metadata.resourceVersion` in a merge patch to make it optimistic (409 if stale). */
  type?: PatchType;
  /** Server-side apply only: take over conflicting fields. */
  force?: boolean;
}

export interface DeleteOptions extends Cancellable {
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  gracePeriodSeconds?: number;
  dryRun?: boolean;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent<T> {
  type: WatchEventType;
  /** For BOOKMARK only `metadata.resourceVersion` is meaningful. */
  object: T;
}

export interface WatchOptions extends Selectors, Cancellable {
  namespace?: string;
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  /** Server-side timeout: the server ends the watch cleanly after it. */
  timeoutSeconds?: number;
  /** Client-side watchdog: fail when nothing (not even a bookmark) arrives for this long. */
  idleTimeoutMs?: number;
}

export interface ListAllResult<T> {
  items: T[];
  resourceVersion: string;
}

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

/** Typed REST access to one resource type, like a controller-runtime client scoped to a GVR. */
export class ResourceClient<T extends KubeObject> {
  constructor(
    private readonly transport: Transport,
    readonly type: ResourceType<T>,
    private readonly fieldManager: string,
  ) {}

  get apiVersion(): string {
    return apiVersionOf(this.type);
  }

  async get(key: ObjectKey, opts: Cancellable = {}): Promise<T> {
    return this.typed(await this.transport.json<T>('GET', this.path(key.namespace, key.name), opts));
  }

  async list(opts: ListOptions = {}): Promise<KubeList<T>> {
    const query: Query = {
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      limit: opts.limit,
      continue: opts.continue,
      resourceVersion: opts.resourceVersion,
      resourceVersionMatch: opts.resourceVersionMatch,
    };
    const list = await this.transport.json<KubeList<T>>('GET', this.collectionPath(opts.namespace), {
      query,
      signal: opts.signal,
    });
    list.items ??= [];
    // The API server omits apiVersion/kind on items of built-in lists; owner references and events need them.
    for (const item of list.items) this.typed(item);
    return list;
  }

  /** Pages through a LIST (`limit`/`continue`); all pages come from one snapshot, whose resourceVersion is returned. */
  async listAll(opts: Omit<ListOptions, 'continue'> = {}): Promise<ListAllResult<T>> {
    const items: T[] = [];
    let page = await this.list(opts);
    for (;;) {
      items.push(...page.items);
      if (!page.metadata.continue) return { items, resourceVersion: page.metadata.resourceVersion ?? '' };
      page = await this.list({ ...opts, resourceVersion: undefined, continue: page.metadata.continue });
    }
  }

  async create(obj: T, opts: WriteOptions = {}): Promise<T> {
    const body = { apiVersion: this.apiVersion, kind: this.type.kind, ...obj };
    return this.write('POST', this.collectionPath(this.namespaceOf(obj)), this.encoded(body), opts);
  }

  /** PUT: carries metadata.resourceVersion, so a stale object fails with 409 Conflict. */
  async update(obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.write('PUT', this.objectPath(obj), this.encoded(obj), opts);
  }

  /** PUT to the status subresource (only status changes are kept); 409 when stale. */
  async updateStatus(obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.write('PUT', this.objectPath(obj, 'status'), this.encoded(obj), opts);
  }

  async patch(key: ObjectKey, patch: unknown, opts: PatchOptions = {}): Promise<T> {
    return this.patchAt(this.path(key.namespace, key.name), patch, opts);
  }

  async patchStatus(key: ObjectKey, patch: unknown, opts: PatchOptions = {}): Promise<T> {
    return this.patchAt(this.path(key.namespace, key.name, 'status'), patch, opts);
  }

  /** Server-side apply of a (partial) object under the client's field manager. */
  async apply(obj: T, opts: Omit<PatchOptions, 'type'> = {}): Promise<T> {
    const body = { apiVersion: this.apiVersion, kind: this.type.kind, ...obj };
    return this.patchAt(this.objectPath(obj), body, { ...opts, type: 'apply' });
  }

  /** Returns the object while finalizers hold it, undefined once it is gone. */
  async delete(key: ObjectKey, opts: DeleteOptions = {}): Promise<T | undefined> {
    const body = {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: opts.preconditions,
      propagationPolicy: opts.propagationPolicy,
      gracePeriodSeconds: opts.gracePeriodSeconds,
      dryRun: opts.dryRun ? ['All'] : undefined,
    };
    const res = await this.transport.json<T | Status>('DELETE', this.path(key.namespace, key.name), {
      body,
      signal: opts.signal,
    });
    return res && res.kind !== 'Status' ? this.typed(res as T) : undefined;
  }

  /**
   * One WATCH request. Resolves when the server ends it (timeoutSeconds) or `signal` aborts; rejects on
   * transport errors, the idle watchdog, or an ERROR event (as ApiError: 410 when resourceVersion is too old).
   */
  async watch(opts: WatchOptions, onEvent: (event: WatchEvent<T>) => void): Promise<void> {
    const path = this.collectionPath(opts.namespace);
    const query: Query = {
      watch: 'true',
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      resourceVersion: opts.resourceVersion,
      allowWatchBookmarks: opts.allowWatchBookmarks,
      timeoutSeconds: opts.timeoutSeconds,
    };
    await this.transport.stream(path, { query, signal: opts.signal, idleTimeoutMs: opts.idleTimeoutMs }, (line) => {
      const event = JSON.parse(line) as { type: WatchEventType | 'ERROR'; object: T | Status };
      if (event.type === 'ERROR') {
        const status = event.object as Status;
        throw new ApiError(status.code ?? 500, status, `WATCH ${path}`);
      }
      onEvent({
        type: event.type,
        object: event.type === 'BOOKMARK' ? (event.object as T) : this.typed(event.object as T),
      });
    });
  }

  /** The URL path of an object (or of the collection when `name` is omitted). */
  path(namespace: string | undefined, name?: string, subresource?: string): string {
    let path = this.collectionPath(this.type.namespaced ? this.requireNamespace(namespace) : undefined);
    if (name !== undefined) path += `/${encodeURIComponent(name)}`;
    if (subresource) path += `/${subresource}`;
    return path;
  }

  private collectionPath(namespace: string | undefined): string {
    const base = this.type.group ? `/apis/${this.type.group}/${this.type.version}` : `/api/${this.type.version}`;
    const ns = this.type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${base}${ns}/${this.type.plural}`;
  }

  private objectPath(obj: T, subresource?: string): string {
    const name = obj.metadata.name;
    if (!name) throw new Error(`${this.type.kind}: metadata.name is required`);
    return this.path(this.namespaceOf(obj), name, subresource);
  }

  private namespaceOf(obj: T): string | undefined {
    return this.type.namespaced ? this.requireNamespace(obj.metadata.namespace) : undefined;
  }

  private requireNamespace(namespace: string | undefined): string {
    if (!namespace) throw new Error(`${this.type.kind} is namespaced: a namespace is required`);
    return namespace;
  }

  private async patchAt(path: string, patch: unknown, opts: PatchOptions): Promise<T> {
    const type = opts.type ?? 'merge';
    const query: Query = {
      fieldManager: opts.fieldManager ?? this.fieldManager,
      dryRun: opts.dryRun ? 'All' : undefined,
      force: type === 'apply' && opts.force ? 'true' : undefined,
    };
    if (this.type.codec && type !== 'merge' && type !== 'apply') {
      // A JSON patch addresses the served shape by path: converting it is not this client's to guess.
      throw new Error(`${type} patches of ${this.type.kind} ${this.apiVersion} (a converted kind) are not supported`);
    }
    const res = await this.transport.json<T>('PATCH', path, {
      body: this.encoded(patch),
      contentType: PATCH_CONTENT_TYPES[type],
      query,
      signal: opts.signal,
    });
    return this.typed(res);
  }

  private async write(method: string, path: string, body: unknown, opts: WriteOptions): Promise<T> {
    const query: Query = {
      fieldManager: opts.fieldManager ?? this.fieldManager,
      dryRun: opts.dryRun ? 'All' : undefined,
    };
    return this.typed(await this.transport.json<T>(method, path, { body, query, signal: opts.signal }));
  }

  private typed(obj: T): T {
    obj.apiVersion ??= this.apiVersion;
    obj.kind ??= this.type.kind;
    return this.type.codec ? (this.type.codec.decode(obj) as T) : obj;
  }

  private encoded(body: unknown): unknown {
    return this.type.codec ? this.type.codec.encode(body) : body;
  }
}

export interface KubeClientOptions {
  /** Path of a kubeconfig; otherwise $KUBECONFIG, in-cluster, ~/.kube/config. */
  kubeconfig?: string;
  userAgent?: string;
  /** Field manager of every write (managedFields, server-side apply). */
  fieldManager?: string;
  /** Deadline of each non-watch request. */
  timeoutMs?: number;
  /** Decides whether, and for how long, each write (POST, PUT, PATCH, DELETE) may go out: see WriteGate. */
  writeGate?: WriteGate;
  /** Told of each request's outcome (not watches): the manager counts them in its metrics. */
  observer?: RequestObserver;
  /** The version actually spoken for some kinds, chosen at start (src/cli/discovery.ts). */
  adapter?: ResourceAdapter;
}

/** Entry point of src/kube: one per process, shared by caches, controllers and helpers. */
export class KubeClient {
  private readonly transport: Transport;
  private readonly fieldManager: string;
  private readonly clients = new Map<string, ResourceClient<KubeObject>>();

  constructor(
    private readonly access: ClusterAccess,
    private readonly opts: Omit<KubeClientOptions, 'kubeconfig'> = {},
  ) {
    this.fieldManager = opts.fieldManager ?? 'cluster-ipam';
    this.transport = new Transport(
      access,
      opts.userAgent ?? 'cluster-ipam',
      opts.timeoutMs ?? 30_000,
      opts.writeGate,
      opts.observer,
    );
  }

  /**
   * A client on the same connection whose writes pass through `gate` (reads, watches included, never do). It shares
   * this client's credentials and sockets: closing either closes both.
   */
  withWriteGate(gate: WriteGate, observer?: RequestObserver): KubeClient {
    return new KubeClient(this.access, { ...this.opts, writeGate: gate, ...(observer ? { observer } : {}) });
  }

  /** A client on the same connection that speaks the versions `adapter` chooses (see withWriteGate). */
  withAdapter(adapter: ResourceAdapter): KubeClient {
    return new KubeClient(this.access, { ...this.opts, adapter });
  }

  static load(opts: KubeClientOptions = {}): KubeClient {
    return new KubeClient(loadClusterAccess(opts.kubeconfig), opts);
  }

  get server(): string {
    return this.access.server;
  }

  /** The kubeconfig context's namespace (or the pod's), if any. */
  get namespace(): string | undefined {
    return this.access.namespace;
  }

  resource<T extends KubeObject>(named: ResourceType<T>): ResourceClient<T> {
    const type = (this.opts.adapter?.(named as ResourceType<KubeObject>) ?? named) as ResourceType<T>;
    const key = `${type.group}/${type.version}/${type.plural}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new ResourceClient(this.transport, type, this.fieldManager);
      this.clients.set(key, client as unknown as ResourceClient<KubeObject>);
    }
    return client as unknown as ResourceClient<T>;
  }

  close(): void {
    this.access.close();
  }
}
