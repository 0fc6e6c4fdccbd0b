import os from 'node:os';
import {
  Events,
  isNotFound,
  isWriteRefused,
  type CoreEvent,
  type KubeClient,
  type KubeObject,
  type ObjectReference,
} from '../kube/index.ts';
import { metaTime } from './conditions.ts';
import { silentLogger, type Logger } from './log.ts';

export interface EventRecorderOptions {
  /** Shown as the event's source (`kubectl describe`'s "From"). */
  component: string;
  logger?: Logger;
  /** Per-object token bucket (client-go's spam filter): burst 25, one more every 5 minutes. */
  burst?: number;
  refillMs?: number;
}

const DEDUP_WINDOW_MS = 10 * 60_000;
const DEDUP_ENTRIES = 4096;
const MAX_PENDING = 1000;

interface Seen {
  namespace: string;
  name: string;
  count: number;
  at: number;
}

/**
 * Records core/v1 Events for notable transitions without flooding the API server: a repeat of the same
 * (object, type, reason, message) within 10 minutes bumps `count` on the existing Event instead of creating one,
 * each object has a token bucket, and writes are queued, fire-and-forget: recording never throws and never blocks
 * a reconcile.
 */
export class EventRecorder {
  private readonly client;
  private readonly host = os.hostname();
  private readonly log: Logger;
  private readonly burst: number;
  private readonly refillMs: number;
  private readonly seen = new Map<string, Seen>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  private seq = 0;

  constructor(
    client: KubeClient,
    private readonly opts: EventRecorderOptions,
  ) {
    this.client = client.resource(Events);
    this.log = (opts.logger ?? silentLogger).child({ component: 'events' });
    this.burst = opts.burst ?? 25;
    this.refillMs = opts.refillMs ?? 300_000;
  }

  /** `obj` needs apiVersion, kind and metadata (objects from caches and clients have them). */
  event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const { name, namespace, uid, resourceVersion } = obj.metadata;
    const ref: ObjectReference = { apiVersion: obj.apiVersion, kind: obj.kind, name, namespace, uid, resourceVersion };
    if (!this.allow(uid ?? `${namespace}/${name}`) || this.pending >= MAX_PENDING) {
      this.log.debug({ object: `${namespace ?? ''}/${name}`, reason }, 'event dropped (rate limited)');
      return;
    }
    this.pending++;
    this.tail = this.tail
      .then(() => this.write(ref, type, reason, message))
      .catch((err: unknown) =>
        // Refused: the manager lost (or never had) the lease; the events of a non-leader are dropped on purpose.
        isWriteRefused(err)
          ? this.log.debug({ err, reason }, 'event dropped (not the leader)')
          : this.log.warn({ err, reason }, 'could not record event'),
      )
      .finally(() => this.pending--);
  }

  /** Resolves once every event recorded so far has been written (or given up on). */
  flush(): Promise<void> {
    return this.tail;
  }

  private allow(key: string): boolean {
    const now = Date.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) / this.refillMs);
    bucket.at = now;
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > DEDUP_ENTRIES) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private async write(ref: ObjectReference, type: 'Normal' | 'Warning', reason: string, message: string) {
    const key = [ref.uid, ref.namespace, ref.name, type, reason, message].join('\0');
    const now = Date.now();
    const timestamp = metaTime(new Date(now));
    const seen = this.seen.get(key);
    this.seen.delete(key);
    if (seen && now - seen.at < DEDUP_WINDOW_MS) {
      try {
        await this.client.patch(seen, { count: seen.count + 1, lastTimestamp: timestamp });
        this.remember(key, { ...seen, count: seen.count + 1, at: now });
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err; // expired (events live 1 h by default): create a new one
      }
    }
    const suffix = (BigInt(now) * 1_000_000n + BigInt(this.seq++ % 1_000_000)).toString(16);
    const event: CoreEvent = {
      metadata: {
        name: `${(ref.name ?? 'object').slice(0, 253 - suffix.length - 1)}.${suffix}`,
        // Events about cluster-scoped objects go to "default", as client-go's recorder does.
        namespace: ref.namespace || 'default',
      },
      involvedObject: ref,
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: timestamp,
      lastTimestamp: timestamp,
      source: { component: this.opts.component, host: this.host },
      reportingComponent: this.opts.component,
      reportingInstance: this.host,
    };
    const created = await this.client.create(event);
    this.remember(key, { namespace: created.metadata.namespace!, name: created.metadata.name!, count: 1, at: now });
  }

  private remember(key: string, seen: Seen): void {
    this.seen.set(key, seen);
    if (this.seen.size > DEDUP_ENTRIES) this.seen.delete(this.seen.keys().next().value!);
  }
}
