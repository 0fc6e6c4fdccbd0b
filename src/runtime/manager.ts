import { setMaxListeners } from 'node:events';
import { Leases, type KubeClient, type KubeObject, type ResourceType } from '../kube/index.ts';
import { aborted, sleep } from './backoff.ts';
import { InformerCache, type InformerScope } from './cache.ts';
import {
  Controller,
  requestFor,
  requestForOwner,
  type MapFunc,
  type Predicate,
  type Reconciler,
} from './controller.ts';
import { EventRecorder } from './events.ts';
import type { Informer, InformerOptions } from './informer.ts';
import { LeaderElector, NotLeaderError } from './leaderelection.ts';
import { silentLogger, type Logger } from './log.ts';
import { RuntimeMetrics } from './metrics.ts';
import type { RateLimiter } from './ratelimiter.ts';
import { serve, type Routes, type Serving } from './server.ts';

export interface LeaderElectionOptions {
  /** Namespace and name of the Lease. */
  namespace: string;
  id: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface ManagerOptions {
  client: KubeClient;
  logger?: Logger;
  /** Omit (or false) to run without leader election: every replica reconciles. */
  leaderElection?: LeaderElectionOptions | false;
  /** `host:port`, `:port`; `0` (the default) disables. */
  metricsBindAddress?: string;
  healthProbeBindAddress?: string;
  /** Workers of controllers that do not say (default 1). */
  workers?: number;
  /** How long a shutdown waits for in-flight reconciles before aborting them (default drainTimeoutMs). */
  gracefulShutdownTimeoutMs?: number;
  /** Defaults for every informer (watch timeouts, watchdog, backoff). */
  informers?: Omit<InformerOptions, keyof InformerScope | 'logger'>;
  /** The manager's own namespace (`--namespace`): where controllers find what belongs to it, e.g. credentials. */
  namespace?: string;
}

/** A watch of another kind whose events map to requests of the controller. */
export interface WatchSpec<T extends KubeObject = KubeObject> {
  type: ResourceType<T>;
  map: MapFunc<T>;
  predicate?: Predicate<T>;
  scope?: InformerScope;
}

/** `W` lists the kinds of `watches`, inferred element by element so each `map` gets its own kind's type. */
export interface ControllerSpec<T extends KubeObject, W extends readonly KubeObject[] = KubeObject[]> {
  /** Unique: labels metrics and logs. */
  name: string;
  /** The primary kind: its events enqueue the object's own key. */
  for: ResourceType<T>;
  predicate?: Predicate<T>;
  /** Watch the primary kind in one namespace (and with selectors) only; owned kinds use the same scope. */
  scope?: InformerScope;
  /** Kinds this controller creates: their events enqueue the controlling owner (controller owner reference). */
  owns?: ResourceType<KubeObject>[];
  watches?: { [K in keyof W]: WatchSpec<W[K]> };
  workers?: number;
  rateLimiter?: RateLimiter<string>;
  reconcile: Reconciler;
}

/** How later issues plug their controllers into `cluster-ipam run` (see src/controllers/index.ts). */
export interface ControllerSetup {
  name: string;
  setup(mgr: Manager): void | Promise<void>;
}

/**
 * How long a shutdown waits for in-flight reconciles by default. Then the lease is released (up to the renew
 * deadline): the pod's termination grace period (the chart's deployment.yaml) must cover both.
 */
export const drainTimeoutMs = 30_000;

// These signals reach every informer, controller and in-flight request: many listeners is the design, not a leak.
function fanOutAbortController(): AbortController {
  const ac = new AbortController();
  setMaxListeners(0, ac.signal);
  return ac;
}

/**
 * controller-runtime's manager: shared caches, controllers, leader election, probes, metrics and graceful
 * shutdown. Caches start (and become ready) on every replica so a stand-by is warm; reconciles run only on the
 * leader. Losing the lease makes `start` reject with LeaderElectionLostError: the process should exit non-zero.
 */
export class Manager {
  /**
   * The client for controllers. Its reads always work; its writes (POST, PUT, PATCH, DELETE) are fenced by
   * leadership: allowed during setup (before `start`), then only while this replica leads (without leader election:
   * until the work queues drained at shutdown). Once leadership is lost, writes not yet sent fail at once and writes
   * in flight are cut off, both with WriteRefusedError (cause: NotLeaderError or LeaderElectionLostError); the API
   * server abandons a request whose client hung up, unless it was already committing it (nothing can fence that).
   */
  readonly client: KubeClient;
  readonly logger: Logger;
  readonly metrics = new RuntimeMetrics();
  readonly cache: InformerCache;
  /** Resolves when this replica becomes leader (at start without leader election). */
  readonly elected: Promise<void>;
  /** Resolves with the bound addresses once the HTTP endpoints listen. */
  readonly serving: Promise<{ metrics?: string; health?: string }>;
  private readonly opts: ManagerOptions;
  private readonly elector: LeaderElector | undefined;
  private readonly controllers: Controller[] = [];
  private readonly recorders = new Map<string, EventRecorder>();
  private resolveElected!: () => void;
  private resolveServing!: (addresses: { metrics?: string; health?: string }) => void;
  private started = false;
  private readonly endpoints: { bindAddress: string; routes: Routes; bound: (address: string | undefined) => void }[] =
    [];
  /** Live while writes through `client` may go out; aborted (with the reason) when they may not. */
  private writes = fanOutAbortController();

  constructor(opts: ManagerOptions) {
    this.opts = opts;
    this.client = opts.client.withWriteGate(() => {
      // By the clock too: after an event-loop stall the renew loop has not yet noticed the deadline passed.
      this.elector?.stillLeading();
      return this.writes.signal;
    }, this.metrics.request);
    this.logger = opts.logger ?? silentLogger;
    this.cache = new InformerCache(opts.client, this.logger, opts.informers);
    this.elected = new Promise((resolve) => (this.resolveElected = resolve));
    this.serving = new Promise((resolve) => (this.resolveServing = resolve));
    if (opts.leaderElection) {
      const le = opts.leaderElection;
      this.elector = new LeaderElector({
        client: opts.client.resource(Leases),
        namespace: le.namespace,
        name: le.id,
        identity: le.identity,
        leaseDurationMs: le.leaseDurationMs,
        renewDeadlineMs: le.renewDeadlineMs,
        retryPeriodMs: le.retryPeriodMs,
        logger: this.logger,
        onChange: (leader, lost) => {
          // Synchronously, as the elector decides: not a single write may slip in between.
          if (!leader) this.fenceWrites(lost ?? new NotLeaderError('this replica released the lease'));
          this.metrics.leaderStatus(le.id, leader);
        },
      });
      this.metrics.leaderStatus(le.id, false);
    }
  }

  get registry() {
    return this.metrics.registry;
  }

  /** The manager's own namespace (credentials Secrets live there); the leader election Lease's if not given. */
  get namespace(): string | undefined {
    return this.opts.namespace ?? (this.opts.leaderElection ? this.opts.leaderElection.namespace : undefined);
  }

  /** This process's leader election identity, if leader election is on. */
  get identity(): string | undefined {
    return this.elector?.identity;
  }

  isLeader(): boolean {
    return this.elector ? this.elector.stillLeading() : this.started;
  }

  /** The shared informer for a kind (and scope): use it to read (get/list/byIndex) and to add indexes. */
  informer<T extends KubeObject>(type: ResourceType<T>, scope?: InformerScope): Informer<T> {
    return this.cache.informer(type, scope);
  }

  /** One recorder per component name, shared. */
  eventRecorder(component = 'cluster-ipam'): EventRecorder {
    let recorder = this.recorders.get(component);
    if (!recorder) {
      recorder = new EventRecorder(this.client, { component, logger: this.logger });
      this.recorders.set(component, recorder);
    }
    return recorder;
  }

  /**
   * More read-only HTTP endpoints (e.g. the address-plan page), served from start to stop like /metrics; resolves
   * with the bound `host:port` (undefined when `bindAddress` disables it).
   */
  serve(bindAddress: string, routes: Routes): Promise<string | undefined> {
    if (this.started) throw new Error('endpoints must be added before the manager starts');
    return new Promise((bound) => this.endpoints.push({ bindAddress, routes, bound }));
  }

  addController<T extends KubeObject, W extends readonly KubeObject[] = []>(spec: ControllerSpec<T, W>): Controller {
    if (this.started) throw new Error('controllers must be added before the manager starts');
    if (this.controllers.some((c) => c.name === spec.name)) throw new Error(`duplicate controller "${spec.name}"`);
    const workers = spec.workers ?? this.opts.workers ?? 1;
    const controller = new Controller({
      name: spec.name,
      reconcile: spec.reconcile,
      workers,
      rateLimiter: spec.rateLimiter,
      logger: this.logger,
      metrics: this.metrics.controller(spec.name, workers),
    });
    controller.watch(this.informer(spec.for, spec.scope), requestFor, spec.predicate);
    for (const owned of spec.owns ?? []) {
      controller.watch(this.informer(owned, spec.scope), requestForOwner(spec.for as ResourceType<KubeObject>));
    }
    for (const w of (spec.watches ?? []) as readonly WatchSpec[]) {
      controller.watch(this.informer(w.type, w.scope), w.map, w.predicate);
    }
    this.controllers.push(controller);
    return controller;
  }

  /**
   * Runs until `signal` aborts: then stops the queues, waits for in-flight reconciles (up to the graceful timeout),
   * releases the lease and stops the caches. Rejects with LeaderElectionLostError if the lease is lost.
   */
  async start(signal: AbortSignal): Promise<void> {
    if (this.started) throw new Error('manager already started');
    this.started = true;
    const stopCache = fanOutAbortController();
    const servers: Serving[] = [];
    try {
      const metrics = await serve(this.opts.metricsBindAddress ?? '0', {
        '/metrics': async () => ({
          status: 200,
          body: await this.registry.metrics(),
          contentType: this.registry.contentType,
        }),
      });
      if (metrics) servers.push(metrics);
      // Ready once the caches the controllers start with have synced, and from then on: an informer a controller
      // starts later (the Cluster kind, found on the first claim naming one) is waited for by that controller, and
      // must not take the replica (and the webhook Service it backs) out of service while it lists.
      let ready = false;
      const health = await serve(this.opts.healthProbeBindAddress ?? '0', {
        '/healthz': async () => ({ status: 200, body: 'ok' }),
        '/readyz': async () => (ready ? { status: 200, body: 'ok' } : { status: 503, body: 'caches not synced' }),
      });
      if (health) servers.push(health);
      for (const e of this.endpoints) {
        const server = await serve(e.bindAddress, e.routes);
        if (server) servers.push(server);
        e.bound(server?.address);
      }
      this.resolveServing({ metrics: metrics?.address, health: health?.address });
      this.logger.info({ metrics: metrics?.address, health: health?.address }, 'manager starting');

      this.cache.start(stopCache.signal);
      void this.cache.waitForSync(stopCache.signal).then((synced) => (ready = synced));
      if (this.elector) {
        this.fenceWrites(new NotLeaderError('this replica has not acquired the lease'));
        if (!(await this.elector.acquire(signal))) return;
        this.writes = fanOutAbortController();
      }
      this.resolveElected();
      await this.runControllers(signal);
    } finally {
      this.fenceWrites(new NotLeaderError('the manager stopped'));
      stopCache.abort();
      await this.cache.stopped();
      await Promise.all(servers.map((s) => s.close()));
      this.logger.info('manager stopped');
    }
  }

  /** Fails every write through `client` from now on, and cuts those in flight. */
  private fenceWrites(reason: Error): void {
    if (!this.writes.signal.aborted) this.writes.abort(reason);
  }

  private async runControllers(signal: AbortSignal): Promise<void> {
    const stopQueues = fanOutAbortController();
    const abortReconciles = fanOutAbortController();
    const stopLease = new AbortController();
    const runs = Promise.all(this.controllers.map((c) => c.start(stopQueues.signal, abortReconciles.signal)));
    const holding = this.elector ? this.elector.holdUntil(stopLease.signal) : aborted(stopLease.signal);
    const lost = await Promise.race([
      aborted(signal).then(() => undefined),
      holding.then(
        () => undefined,
        (e) => e,
      ),
    ]);
    if (lost) {
      // No graceful drain: another replica may already be reconciling.
      this.fenceWrites(lost);
      abortReconciles.abort();
      stopQueues.abort();
      this.logger.error({ err: lost }, 'leader election lost');
      throw lost;
    }
    this.logger.info('shutting down: draining work queues');
    stopQueues.abort();
    const timeout = new AbortController();
    const drained = await Promise.race([
      runs.then(() => true),
      sleep(this.opts.gracefulShutdownTimeoutMs ?? drainTimeoutMs, timeout.signal).then(() => false),
    ]);
    timeout.abort();
    if (!drained) {
      this.logger.warn('graceful shutdown timed out: aborting in-flight reconciles');
      abortReconciles.abort();
    }
    // Release only now: until the last reconcile ended we were still acting as leader. From here on, a reconcile that
    // outlived the graceful timeout can no longer write.
    this.fenceWrites(new NotLeaderError('the manager is shutting down'));
    stopLease.abort();
    await holding.catch((err: unknown) => this.logger.warn({ err }, 'lease lost while shutting down'));
  }
}
