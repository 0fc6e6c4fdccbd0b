export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Growth per step (default 2). */
  factor?: number;
  /** Each delay is stretched by up to this fraction at random, like client-go's wait.Jitter (default 1: d..2d). */
  jitter?: number;
}

/** Adds up to `fraction` × ms at random, so many clients retrying together spread out. */
export function jittered(ms: number, fraction: number, random: () => number = Math.random): number {
  return ms + ms * fraction * random();
}

/** Exponential backoff with jitter and a cap; `reset()` after a success. */
export class Backoff {
  private steps = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const base = this.opts.initialMs * (this.opts.factor ?? 2) ** this.steps;
    if (base < this.opts.maxMs) this.steps++;
    return Math.min(this.opts.maxMs, jittered(Math.min(base, this.opts.maxMs), this.opts.jitter ?? 1, this.random));
  }

  reset(): void {
    this.steps = 0;
  }
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolves when `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * A signal that aborts (with the source's reason, or a timeout error) when one of `sources` does or after `ms`; call
 * `release` once done with it. Unlike AbortSignal.any, it leaves nothing behind on a long-lived source: Node 20 keeps
 * a WeakRef per AbortSignal.any in each source until that source aborts.
 */
export function linkedSignal(sources: readonly AbortSignal[], ms?: number): { signal: AbortSignal; release(): void } {
  const linked = new AbortController();
  const onAbort = (event: Event): void => linked.abort((event.target as AbortSignal).reason);
  const timer =
    ms === undefined
      ? undefined
      : setTimeout(() => linked.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')), ms).unref();
  const release = (): void => {
    clearTimeout(timer);
    for (const source of sources) source.removeEventListener('abort', onAbort);
  };
  for (const source of sources) {
    if (source.aborted) linked.abort(source.reason);
    else source.addEventListener('abort', onAbort, { once: true });
  }
  linked.signal.addEventListener('abort', release, { once: true });
  return { signal: linked.signal, release };
}
