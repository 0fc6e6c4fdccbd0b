import type { KubeObject, ObjectKey, ResourceType } from '../kube/index.ts';
import { aborted } from './backoff.ts';
import { keyOf, splitKey, type Informer } from './informer.ts';
import { silentLogger, type Logger } from './log.ts';
import type { ControllerMetrics } from './metrics.ts';
import { getControllerOf } from './ownerrefs.ts';
import { WorkQueue } from './queue.ts';
import type { RateLimiter } from './ratelimiter.ts';

/** What to reconcile: namespace is '' for cluster-scoped objects. */
export interface Request {
  namespace: string;
  name: string;
}

export interface Result {
  /** Reconcile again after this many ms (resets the item's backoff). */
  requeueAfter?: number;
  /** Reconcile again after the rate limiter's delay. */
  requeue?: boolean;
}

export interface ReconcileContext {
  /** Aborted when the manager loses leadership or its graceful shutdown times out. */
  signal: AbortSignal;
  log: Logger;
}

/** Level-based: look at the world as it is now and move it one step towards what it should be. */
export type Reconciler = (req: Request, ctx: ReconcileContext) => Promise<Result | void> | Result | void;

/** An error retrying cannot fix (invalid spec, ...): logged and counted, never requeued. */
export class TerminalError extends Error {
  override readonly name = 'TerminalError';
}

export interface WatchEventInfo<T> {
  type: 'add' | 'update' | 'delete';
  object: T;
  /** The previous state, for updates. */
  old?: T;
}

/** Filters events before they are mapped to requests (controller-runtime's predicates). */
export type Predicate<T> = (event: WatchEventInfo<T>) => boolean;

/** Maps an event's object to the requests it should trigger. */
export type MapFunc<T> = (obj: T) => Request[];

export function requestFor(obj: KubeObject): Request[] {
  return [{ namespace: obj.metadata.namespace ?? '', name: obj.metadata.name ?? '' }];
}

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Maps an owned object to its controlling owner of `ownerType` (group and kind match, version does not). */
export function requestForOwner(ownerType: ResourceType<KubeObject>): MapFunc<KubeObject> {
  return (obj) => {
    const ref = getControllerOf(obj);
    if (!ref || ref.kind !== ownerType.kind || groupOf(ref.apiVersion) !== ownerType.group) return [];
    return [{ namespace: ownerType.namespaced ? (obj.metadata.namespace ?? '') : '', name: ref.name }];
  };
}

export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  /** Concurrent reconciles (never two for the same key); default 1. */
  workers?: number;
  rateLimiter?: RateLimiter<string>;
  logger?: Logger;
  metrics?: ControllerMetrics;
}

interface Source {
  informer: Informer<KubeObject>;
  map: MapFunc<KubeObject>;
  predicate?: Predicate<KubeObject>;
}

/** A work queue fed by informer events and drained by N workers calling the reconciler. */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue<string>;
  private readonly reconcile: Reconciler;
  private readonly workers: number;
  private readonly log: Logger;
  private readonly metrics: ControllerMetrics | undefined;
  private readonly sources: Source[] = [];

  constructor(opts: ControllerOptions) {
    this.name = opts.name;
    this.reconcile = opts.reconcile;
    this.workers = Math.max(1, opts.workers ?? 1);
    this.log = (opts.logger ?? silentLogger).child({ controller: opts.name });
    this.metrics = opts.metrics;
    this.queue = new WorkQueue<string>({ rateLimiter: opts.rateLimiter, metrics: opts.metrics?.queue });
  }

  /** Events of `informer` (passing `predicate`) enqueue the requests `map` returns. */
  watch<T extends KubeObject>(informer: Informer<T>, map: MapFunc<T>, predicate?: Predicate<T>): this {
    this.sources.push({
      informer: informer as unknown as Informer<KubeObject>,
      map: map as MapFunc<KubeObject>,
      predicate: predicate as Predicate<KubeObject> | undefined,
    });
    return this;
  }

  enqueue(req: Request | ObjectKey): void {
    this.queue.add(keyOf(req));
  }

  /**
   * Registers the event handlers, waits for the caches, runs the workers until `signal` aborts, then stops the
   * queue and waits for in-flight reconciles. `reconcileSignal` is what reconcilers see as ctx.signal.
   */
  async start(signal: AbortSignal, reconcileSignal: AbortSignal = signal): Promise<void> {
    const unsubscribe = this.sources.map((source) => source.informer.addEventHandler(this.handlerFor(source)));
    try {
      const synced = await Promise.all(this.sources.map((s) => s.informer.waitForSync(signal)));
      if (synced.every(Boolean)) {
        this.log.info({ workers: this.workers }, 'starting workers');
        const workers = Array.from({ length: this.workers }, () => this.work(reconcileSignal));
        await aborted(signal);
        await this.queue.shutDownWithDrain();
        await Promise.all(workers);
      }
    } finally {
      this.queue.shutDown();
      for (const off of unsubscribe) off();
    }
    this.log.info('stopped');
  }

  private handlerFor(source: Source) {
    const enqueue = (obj: KubeObject): void => {
      for (const req of source.map(obj)) this.queue.add(keyOf(req));
    };
    const pass = (event: WatchEventInfo<KubeObject>): boolean => !source.predicate || source.predicate(event);
    return {
      onAdd: (obj: KubeObject) => {
        if (pass({ type: 'add', object: obj })) enqueue(obj);
      },
      onUpdate: (old: KubeObject, obj: KubeObject) => {
        if (!pass({ type: 'update', object: obj, old })) return;
        // Both: an owner reference or a label that moved must reach the old target too.
        enqueue(old);
        enqueue(obj);
      },
      onDelete: (obj: KubeObject) => {
        if (pass({ type: 'delete', object: obj })) enqueue(obj);
      },
    };
  }

  private async work(signal: AbortSignal): Promise<void> {
    for (let key = await this.queue.get(); key !== undefined; key = await this.queue.get()) {
      this.metrics?.activeWorkers(1);
      try {
        await this.reconcileKey(key, signal);
      } finally {
        this.metrics?.activeWorkers(-1);
        this.queue.done(key);
      }
    }
  }

  private async reconcileKey(key: string, signal: AbortSignal): Promise<void> {
    const req = splitKey(key);
    const log = this.log.child({ namespace: req.namespace || undefined, name: req.name });
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const result = (await this.reconcile(req, { signal, log })) ?? {};
      if (result.requeueAfter && result.requeueAfter > 0) {
        this.queue.forget(key);
        this.queue.addAfter(key, result.requeueAfter);
        this.metrics?.reconciled('requeue_after', seconds());
      } else if (result.requeue) {
        this.queue.addRateLimited(key);
        this.metrics?.reconciled('requeue', seconds());
      } else {
        this.queue.forget(key);
        this.metrics?.reconciled('success', seconds());
      }
    } catch (err) {
      const terminal = err instanceof TerminalError;
      if (terminal) this.queue.forget(key);
      else this.queue.addRateLimited(key);
      this.metrics?.failed(terminal);
      this.metrics?.reconciled('error', seconds());
      log.error({ err, terminal, requeues: this.queue.numRequeues(key) }, 'reconciler error');
    }
  }
}
