import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { QueueMetrics } from './queue.ts';

// controller-runtime's buckets, so existing dashboards read our histograms the same way.
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2,
  2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
// workqueue's ExponentialBuckets(10e-9, 10, 12): 10 ns .. 1000 s.
const QUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => 1e-8 * 10 ** i);

export type ReconcileResult = 'success' | 'error' | 'requeue' | 'requeue_after';

/** The metrics of one controller, bound to its label so the hot path does no label lookups. */
export interface ControllerMetrics {
  reconciled(result: ReconcileResult, seconds: number): void;
  failed(terminal: boolean): void;
  activeWorkers(delta: number): void;
  queue: QueueMetrics;
}

/** controller-runtime's metric names in a registry of our own (one per manager, so tests can run several). */
export class RuntimeMetrics {
  readonly registry = new Registry();
  private readonly reconcileTotal: Counter<'controller' | 'result'>;
  private readonly reconcileErrors: Counter<'controller'>;
  private readonly terminalErrors: Counter<'controller'>;
  private readonly reconcileTime: Histogram<'controller'>;
  private readonly workers: Gauge<'controller'>;
  private readonly maxWorkers: Gauge<'controller'>;
  private readonly depth: Gauge<'controller' | 'name'>;
  private readonly adds: Counter<'controller' | 'name'>;
  private readonly queueDuration: Histogram<'controller' | 'name'>;
  private readonly workDuration: Histogram<'controller' | 'name'>;
  private readonly retries: Counter<'controller' | 'name'>;
  private readonly leader: Gauge<'name'>;
  private readonly requests: Counter<'method' | 'resource' | 'code'>;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Counter<L>({ name, help, labelNames, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Gauge<L>({ name, help, labelNames, registers });
    const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) =>
      new Histogram<L>({ name, help, labelNames, buckets, registers });
    const ctl: 'controller'[] = ['controller'];
    const queue: ('controller' | 'name')[] = ['controller', 'name'];
    this.reconcileTotal = counter(
      'controller_runtime_reconcile_total',
      'Total number of reconciliations per controller',
      ['controller', 'result'],
    );
    this.reconcileErrors = counter(
      'controller_runtime_reconcile_errors_total',
      'Total number of reconciliation errors per controller',
      ctl,
    );
    this.terminalErrors = counter(
      'controller_runtime_terminal_reconcile_errors_total',
      'Total number of terminal reconciliation errors per controller',
      ctl,
    );
    this.reconcileTime = histogram(
      'controller_runtime_reconcile_time_seconds',
      'Length of time per reconciliation per controller',
      ctl,
      RECONCILE_BUCKETS,
    );
    this.workers = gauge('controller_runtime_active_workers', 'Number of currently used workers per controller', ctl);
    this.maxWorkers = gauge(
      'controller_runtime_max_concurrent_reconciles',
      'Maximum number of concurrent reconciles per controller',
      ctl,
    );
    this.depth = gauge('workqueue_depth', 'Current depth of workqueue', queue);
    this.adds = counter('workqueue_adds_total', 'Total number of adds handled by workqueue', queue);
    this.queueDuration = histogram(
      'workqueue_queue_duration_seconds',
      'How long in seconds an item stays in workqueue before being requested',
      queue,
      QUEUE_BUCKETS,
    );
    this.workDuration = histogram(
      'workqueue_work_duration_seconds',
      'How long in seconds processing an item from workqueue takes',
      queue,
      QUEUE_BUCKETS,
    );
    this.retries = counter('workqueue_retries_total', 'Total number of retries handled by workqueue', queue);
    this.requests = counter(
      'rest_client_requests_total',
      'Requests of the controllers to the API server (watches excluded), by method, resource and HTTP status; ' +
        'code 0: no answer',
      ['method', 'resource', 'code'],
    );
    this.leader = gauge(
      'leader_election_master_status',
      'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master',
      ['name'],
    );
  }

  controller(name: string, maxConcurrent: number): ControllerMetrics {
    this.maxWorkers.labels(name).set(maxConcurrent);
    const total = {
      success: this.reconcileTotal.labels(name, 'success'),
      error: this.reconcileTotal.labels(name, 'error'),
      requeue: this.reconcileTotal.labels(name, 'requeue'),
      requeue_after: this.reconcileTotal.labels(name, 'requeue_after'),
    };
    const time = this.reconcileTime.labels(name);
    const errors = this.reconcileErrors.labels(name);
    const terminal = this.terminalErrors.labels(name);
    const workers = this.workers.labels(name);
    workers.set(0);
    errors.inc(0);
    terminal.inc(0);
    const q = { controller: name, name };
    const depth = this.depth.labels(q);
    const adds = this.adds.labels(q);
    const queued = this.queueDuration.labels(q);
    const worked = this.workDuration.labels(q);
    const retries = this.retries.labels(q);
    depth.set(0);
    return {
      reconciled(result, seconds) {
        total[result].inc();
        time.observe(seconds);
      },
      failed(isTerminal) {
        errors.inc();
        if (isTerminal) terminal.inc();
      },
      activeWorkers: (delta) => workers.inc(delta),
      queue: {
        added: () => adds.inc(),
        depth: (n) => depth.set(n),
        queued: (s) => queued.observe(s),
        worked: (s) => worked.observe(s),
        retried: () => retries.inc(),
      },
    };
  }

  /** For KubeClient's `observer`. */
  readonly request = (method: string, resource: string, code: number): void => {
    this.requests.labels(method, resource, String(code)).inc();
  };

  leaderStatus(lease: string, isLeader: boolean): void {
    this.leader.labels(lease).set(isLeader ? 1 : 0);
  }
}
