import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { isNotFound, type Lease, type LeaseSpec, type ResourceClient } from '../kube/index.ts';
import { jittered, linkedSignal, sleep } from './backoff.ts';
import { silentLogger, type Logger } from './log.ts';

export interface LeaderElectionConfig {
  client: ResourceClient<Lease>;
  namespace: string;
  /** The Lease's name: every replica of one manager must use the same. */
  name: string;
  /** Unique per process; default hostname_uuid like controller-runtime. */
  identity?: string;
  /** client-go defaults: 15 s / 10 s / 2 s. */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger?: Logger;
  /** `lost` is set when leadership ended by a loss (not by a release). */
  onChange?: (isLeader: boolean, lost?: LeaderElectionLostError) => void;
}

export class LeaderElectionLostError extends Error {
  override readonly name = 'LeaderElectionLostError';
}

/** Why the manager refused a write: this replica does not (or no longer) lead. */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits (the API server rejects three). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function defaultIdentity(): string {
  return `${os.hostname()}_${randomUUID()}`;
}

/**
 * client-go's Lease-based leader election. Expiry is judged by *our* clock from when we last saw the record change
 * (never by the renewTime written by another host), so clock skew between replicas does not matter. "Saw" is when
 * the GET answered, as in client-go: a slow answer must not make the holder's lease look older than it is.
 *
 * The leader leads until renewDeadline after the start of its last successful renewal (a stand-by counts
 * leaseDuration, which is longer, from a later instant: when it saw that renewal). That deadline is judged by the
 * clock wherever leadership matters (stillLeading), not only by the renew loop: when the event loop stalls, the
 * loop's timer runs late, and writes queued behind the stall must not go out as if the lease were still ours.
 */
export class LeaderElector {
  readonly identity: string;
  private readonly cfg: Required<Omit<LeaderElectionConfig, 'onChange' | 'identity' | 'logger'>>;
  private readonly log: Logger;
  private readonly onChange: (isLeader: boolean, lost?: LeaderElectionLostError) => void;
  private lease: Lease | undefined;
  private observedRaw = '';
  private observedAt = 0;
  /** When the last successful acquire or renew started. */
  private renewedAt = 0;
  private leader = false;
  /** Set once leadership was lost: nothing (a late renewal included) gives it back. */
  private lostWith: LeaderElectionLostError | undefined;

  constructor(config: LeaderElectionConfig) {
    this.identity = config.identity ?? defaultIdentity();
    this.cfg = {
      client: config.client,
      namespace: config.namespace,
      name: config.name,
      leaseDurationMs: config.leaseDurationMs ?? 15_000,
      renewDeadlineMs: config.renewDeadlineMs ?? 10_000,
      retryPeriodMs: config.retryPeriodMs ?? 2_000,
    };
    if (this.cfg.leaseDurationMs <= this.cfg.renewDeadlineMs || this.cfg.renewDeadlineMs <= this.cfg.retryPeriodMs) {
      throw new Error('leader election needs leaseDuration > renewDeadline > retryPeriod');
    }
    this.log = (config.logger ?? silentLogger).child({
      lease: `${config.namespace}/${config.name}`,
      id: this.identity,
    });
    this.onChange = config.onChange ?? (() => {});
  }

  isLeader(): boolean {
    return this.leader;
  }

  /** Whether this replica leads now by the clock; the first call past the renew deadline ends leadership. */
  stillLeading(): boolean {
    if (this.leader && Date.now() >= this.renewedAt + this.cfg.renewDeadlineMs) {
      this.lose(`the lease was not renewed within ${this.cfg.renewDeadlineMs} ms`);
    }
    return this.leader;
  }

  /** Tries every retryPeriod (jittered) until the lease is ours: true, or false if `signal` aborts first. */
  async acquire(signal: AbortSignal): Promise<boolean> {
    this.log.info('waiting to acquire the lease');
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew(signal, this.cfg.renewDeadlineMs)) {
        this.setLeader(true);
        this.log.info('acquired the lease');
        return true;
      }
      await sleep(jittered(this.cfg.retryPeriodMs, 1.2), signal);
    }
    return false;
  }

  /**
   * Renews every retryPeriod until `signal` aborts, then releases the lease and resolves. Rejects with
   * LeaderElectionLostError once renewDeadline has passed since the last successful renewal started, or at once if
   * another holder shows up.
   */
  async holdUntil(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(this.cfg.retryPeriodMs, signal);
      for (;;) {
        // Checked after every wait: a stalled event loop may have carried us past the deadline meanwhile.
        if (!this.stillLeading()) throw this.lostWith ?? this.lose('this replica does not lead');
        if (signal.aborted) break;
        const deadline = this.renewedAt + this.cfg.renewDeadlineMs;
        if (await this.tryAcquireOrRenew(signal, deadline - Date.now())) break;
        if (signal.aborted) break;
        const holder = this.lease?.spec?.holderIdentity;
        if (holder && holder !== this.identity) throw this.lose(`the lease is now held by ${holder}`);
        await sleep(Math.max(0, Math.min(this.cfg.retryPeriodMs, deadline - Date.now())), signal);
      }
    }
    await this.release();
  }

  private lose(why: string): LeaderElectionLostError {
    const err = new LeaderElectionLostError(`leader election lost: ${why}`);
    this.lostWith = err;
    this.setLeader(false, err);
    return err;
  }

  private setLeader(leader: boolean, lost?: LeaderElectionLostError): void {
    if (this.leader === leader) return;
    this.leader = leader;
    this.onChange(leader, lost);
  }

  /** Right after the API answered: the record is at least this fresh. */
  private observe(lease: Lease): void {
    this.lease = lease;
    const raw = JSON.stringify(lease.spec ?? {});
    if (raw !== this.observedRaw) {
      this.observedRaw = raw;
      this.observedAt = Date.now();
    }
  }

  private async tryAcquireOrRenew(signal: AbortSignal, timeoutMs: number): Promise<boolean> {
    if (this.lostWith) return false;
    const { client, namespace, name, leaseDurationMs } = this.cfg;
    const deadline = linkedSignal([signal], Math.max(1, timeoutMs));
    const opts = { signal: deadline.signal };
    const now = Date.now();
    const fresh: LeaseSpec = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
    };
    try {
      let lease: Lease;
      try {
        lease = await client.get({ namespace, name }, opts);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        this.observe(
          await client.create({ metadata: { namespace, name }, spec: { ...fresh, leaseTransitions: 0 } }, opts),
        );
        this.renewedAt = now;
        return true;
      }
      this.observe(lease);
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const mine = holder === this.identity;
      if (holder && !mine && this.observedAt + (spec.leaseDurationSeconds ?? 0) * 1000 > now) return false;
      const next: LeaseSpec = mine
        ? { ...fresh, acquireTime: spec.acquireTime, leaseTransitions: spec.leaseTransitions ?? 0 }
        : { ...fresh, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 };
      // The update carries the resourceVersion we read: of two candidates racing for an expired lease one gets 409.
      this.observe(await client.update({ ...lease, spec: next }, opts));
      this.renewedAt = now;
      return true;
    } catch (err) {
      if (!signal.aborted) this.log.debug({ err }, 'could not acquire or renew the lease');
      return false;
    } finally {
      deadline.release();
    }
  }

  // client-go's ReleaseOnCancel: empty holder and a 1 s duration, so a stand-by takes over at its next try
  // instead of waiting out the lease.
  private async release(): Promise<void> {
    if (!this.leader || !this.lease) return;
    const now = microTime(Date.now());
    const spec: LeaseSpec = {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: this.lease.spec?.leaseTransitions ?? 0,
    };
    try {
      await this.cfg.client.update({ ...this.lease, spec }, { signal: AbortSignal.timeout(this.cfg.renewDeadlineMs) });
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn({ err }, 'could not release the lease');
    }
    this.setLeader(false);
  }
}
