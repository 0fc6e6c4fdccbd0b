import { defaultControllerRateLimiter, type RateLimiter } from './ratelimiter.ts';

/** What a work queue reports (client-go's workqueue metrics provider). */
export interface QueueMetrics {
  added(): void;
  depth(n: number): void;
  /** Seconds an item waited between add and get. */
  queued(seconds: number): void;
  /** Seconds between get and done. */
  worked(seconds: number): void;
  retried(): void;
}

const noMetrics: QueueMetrics = { added() {}, depth() {}, queued() {}, worked() {}, retried() {} };

export interface WorkQueueOptions<K> {
  rateLimiter?: RateLimiter<K>;
  metrics?: QueueMetrics;
}

interface Delayed<K> {
  key: K;
  at: number;
}

/** Binary min-heap on `at` for delayed adds; O(log n) for 100k pending requeues. */
class DelayHeap<K> {
  private readonly a: Delayed<K>[] = [];

  get size(): number {
    return this.a.length;
  }

  peek(): Delayed<K> | undefined {
    return this.a[0];
  }

  push(item: Delayed<K>): void {
    const a = this.a;
    a.push(item);
    for (let i = a.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (a[parent]!.at <= a[i]!.at) break;
      [a[parent], a[i]] = [a[i]!, a[parent]!];
      i = parent;
    }
  }

  pop(): Delayed<K> | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < a.length && a[l]!.at < a[min]!.at) min = l;
      if (r < a.length && a[r]!.at < a[min]!.at) min = r;
      if (min === i) break;
      [a[min], a[i]] = [a[i]!, a[min]!];
      i = min;
    }
    return top;
  }

  clear(): void {
    this.a.length = 0;
  }
}

/**
 * client-go's rate-limiting delaying work queue: a key waits at most once (dirty set), is never handed to two
 * workers at once (processing set), and if added while processing it is queued again when `done` is called.
 *
 * One difference: after shutDown, `get` hands out nothing more (client-go drains what is queued), so a manager
 * stops within the time of its in-flight reconciles; being level-based, the next leader picks the rest up.
 */
export class WorkQueue<K> {
  private items: K[] = [];
  private head = 0;
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly addedAt = new Map<K, number>();
  private readonly startedAt = new Map<K, number>();
  private waiters: (() => void)[] = [];
  private drainWaiters: (() => void)[] = [];
  private shutting = false;

  private readonly readyAt = new Map<K, number>();
  private readonly delayed = new DelayHeap<K>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  private readonly rateLimiter: RateLimiter<K>;
  private readonly metrics: QueueMetrics;

  constructor(opts: WorkQueueOptions<K> = {}) {
    this.rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter<K>();
    this.metrics = opts.metrics ?? noMetrics;
  }

  /** Queued items, not counting those being processed. */
  len(): number {
    return this.items.length - this.head;
  }

  get shuttingDown(): boolean {
    return this.shutting;
  }

  add(key: K): void {
    if (this.shutting || this.dirty.has(key)) return;
    this.metrics.added();
    this.dirty.add(key);
    if (!this.addedAt.has(key)) this.addedAt.set(key, Date.now());
    if (this.processing.has(key)) {
      this.metrics.depth(this.dirty.size);
      return;
    }
    this.push(key);
  }

  /** Adds `key` once `ms` have passed; an earlier pending time for the same key wins. */
  addAfter(key: K, ms: number): void {
    if (this.shutting) return;
    this.metrics.retried();
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const pending = this.readyAt.get(key);
    if (pending !== undefined && pending <= at) return;
    this.readyAt.set(key, at);
    this.delayed.push({ key, at });
    this.schedule();
  }

  /** Adds `key` after the rate limiter's delay for it (per-item backoff, overall token bucket). */
  addRateLimited(key: K): void {
    this.addAfter(key, this.rateLimiter.when(key));
  }

  forget(key: K): void {
    this.rateLimiter.forget(key);
  }

  numRequeues(key: K): number {
    return this.rateLimiter.numRequeues(key);
  }

  /** The next key, marked as processing until `done(key)`; undefined once the queue shuts down. */
  async get(): Promise<K | undefined> {
    while (this.len() === 0 && !this.shutting) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.shutting) return undefined;
    const key = this.items[this.head]!;
    this.items[this.head++] = undefined as K;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.processing.add(key);
    this.dirty.delete(key);
    const now = Date.now();
    this.metrics.queued((now - (this.addedAt.get(key) ?? now)) / 1000);
    this.addedAt.delete(key);
    this.startedAt.set(key, now);
    this.metrics.depth(this.dirty.size);
    return key;
  }

  done(key: K): void {
    if (!this.processing.delete(key)) return;
    const started = this.startedAt.get(key);
    this.startedAt.delete(key);
    if (started !== undefined) this.metrics.worked((Date.now() - started) / 1000);
    if (this.dirty.has(key) && !this.shutting) this.push(key);
    if (this.processing.size === 0) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
  }

  /** Stops handing out keys; adds are ignored from now on. */
  shutDown(): void {
    if (this.shutting) return;
    this.shutting = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.delayed.clear();
    this.readyAt.clear();
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** shutDown, then resolves once every key handed out has been marked done. */
  async shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size > 0) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  private push(key: K): void {
    this.items.push(key);
    this.metrics.depth(this.dirty.size);
    this.waiters.shift()?.();
  }

  private schedule(): void {
    let next = this.delayed.peek();
    while (next && this.readyAt.get(next.key) !== next.at) {
      this.delayed.pop();
      next = this.delayed.peek();
    }
    if (!next) return;
    if (this.timer && this.timerAt <= next.at) return;
    clearTimeout(this.timer);
    this.timerAt = next.at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, next.at - Date.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    for (let next = this.delayed.peek(); next && next.at <= now; next = this.delayed.peek()) {
      this.delayed.pop();
      if (this.readyAt.get(next.key) === next.at) {
        this.readyAt.delete(next.key);
        this.add(next.key);
      }
    }
    this.schedule();
  }
}
