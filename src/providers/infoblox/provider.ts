// The ipam-infoblox provider: addresses of InfobloxIPPools are host records (`record:host`) of an Infoblox appliance,
// which stays the source of truth (spec 04 §4.2). The claim controller does the Cluster API side (finalizers, the
// IPAddress, status, pause, deletion order); this provider decides the address on the appliance and gives it back.
//
// Ownership: a host record belongs to the claim whose uid it carries (records.ts), never to whoever has its name: the
// host name is resolved once and recorded on the claim (its annotation) for users and DNS, and every allocation
// searches the appliance by the claim's uid before it writes. So an allocation the appliance made before a crash, or
// whose answer was lost after a committed POST, is found and used by the next attempt, and two claims of one host
// name get records of their own (with DNS, where a name is unique, the second's goes without DNS).
//
// A write that got no answer (a timeout, a connection that broke, the lease lost while it was sent) may still be
// applied by the appliance after we gave up on it: the claim then writes nothing for `settleMs` (searching only), so
// a late commit is found instead of duplicated. A predecessor (the replica that led before, or this manager before a
// restart) may have left such a write behind, unknown here: a claim whose host name was recorded before this process
// led, and that has nothing on the appliance yet, is only searched for until `settleMs` after the predecessor's last
// write could have timed out (the host name is recorded before any write, so it is what persists "a write may be in
// flight"; no other Kubernetes write is needed).
//
// Release: every record carrying the claim's uid is deleted; a release that cannot be done throws, so the claim keeps
// its finalizer, says ReleaseFailed and is retried.
//
// Client per instance (clients.ts), rebuilt when the instance, its Secret or its CA file changes.
import {
  IPAddressClaims,
  IPAddresses,
  InfobloxInstances,
  InfobloxIPPools,
  type Condition,
  type IPAddress,
  type IPAddressClaim,
  type InfobloxInstance,
  type InfobloxIPPool,
} from '../../api/index.ts';
import { poolReadiness as readinessOf } from '../../ipam/pools.ts';
import { WapiAuthError, WapiConnectionError, WapiError, WapiResponseError } from '../../infoblox/errors.ts';
import { type KubeObject, type ResourceType } from '../../kube/index.ts';
import {
  findCondition,
  hasFinalizer,
  notStatusOnly,
  type EventRecorder,
  type Informer,
  type Logger,
  type Manager,
} from '../../runtime/index.ts';
import { Overlay } from '../overlay.ts';
import { PoolProtection } from '../pool-protection.ts';
import { providerRegistry } from '../registry.ts';
import { presentPool } from '../types.ts';
import type { AllocateResult, Allocation, ClaimHandler, ClaimWakeup, IPAMProvider, PoolReadiness } from '../types.ts';
import { InstanceConfigError, WapiClients, type ClientTuning } from './clients.ts';
import type { Check } from './conditions.ts';
import { OwnerForbiddenError, resolveHostname } from './hostname.ts';
import {
  canonicalAddress,
  dnsViewOf,
  hostnameAnnotation,
  InfobloxReasons,
  isInfobloxPoolRef,
  keyOf,
  networkViewOf,
  poolKeyOf,
  subnetsOf,
} from './names.ts';
import { releaseAddressFinalizer } from '../claims.ts';
import * as records from './records.ts';

export interface InfobloxProviderOptions {
  /** Per WAPI request, each attempt (default 15 s). */
  wapiTimeoutMs?: number;
  /** Attempts of WAPI reads and other repeatable requests, and the backoff between them (see WapiClient). */
  wapiRetry?: ClientTuning['retry'];
  /**
   * How long a write that got no answer may still be applied by the appliance: the claim only searches meanwhile
   * (default twice the request timeout).
   */
  settleMs?: number;
  /** Re-check of instances and pools that are ready (default 5 min), and of those that are not (default 30 s). */
  recheckMs?: number;
  retryMs?: number;
  /**
   * How long a claim whose owner the manager may not read (403) says so and waits for the permission before its
   * host name falls back to `<claim name>.<dnsZone>` (default 2 min).
   */
  ownerFallbackMs?: number;
  /** Where credentials Secrets are (default the manager's namespace, else cluster-ipam-system). */
  namespace?: string;
}

const Index = {
  /** IPAddressClaims by the `namespace/name` of their InfobloxIPPool. */
  pool: 'infoblox.pool',
  /** InfobloxIPPools by instance name. */
  instance: 'infoblox.instance',
  /** IPAddresses of InfobloxIPPools by canonical address. */
  address: 'infoblox.address',
  /** IPAddresses by the `namespace/name` of their InfobloxIPPool. */
  addressPool: 'infoblox.address-pool',
} as const;

function addIndex<T extends KubeObject>(informer: Informer<T>, name: string, fn: (obj: T) => string[]): void {
  try {
    informer.byIndex(name, '');
  } catch {
    informer.addIndex(name, fn);
  }
}

const request = (o: KubeObject) => ({ namespace: o.metadata.namespace ?? '', name: o.metadata.name ?? '' });

/** Changes that may change what the provider does: spec and metadata, and the Ready condition. */
function readyOrSpecChanged(event: { type: string; object: KubeObject; old?: KubeObject }): boolean {
  if (notStatusOnly(event)) return true;
  const ready = (o: KubeObject | undefined) =>
    JSON.stringify(findCondition((o as { status?: { conditions?: Condition[] } })?.status?.conditions, 'Ready'));
  return ready(event.old) !== ready(event.object);
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class InfobloxProvider implements IPAMProvider {
  readonly name = 'ipam-infoblox';
  readonly poolTypes = [InfobloxIPPools as unknown as ResourceType<KubeObject>];
  readonly claims: Informer<IPAddressClaim>;
  readonly ipAddresses: Informer<IPAddress>;
  readonly instances: Informer<InfobloxInstance>;
  readonly pools: Overlay<InfobloxIPPool>;
  readonly protection: PoolProtection<InfobloxIPPool>;
  readonly clients: WapiClients;
  readonly recheckMs: number;
  readonly retryMs: number;
  private readonly poolInformer: Informer<InfobloxIPPool>;
  private readonly settleMs: number;
  private readonly log: Logger;
  private readonly recorder: EventRecorder;
  /** Claim uid → the address last found on the appliance for it (no need to look again in this process). */
  private readonly verified = new Map<string, string>();
  /** Claims whose host name this process decided (the controller records it): no predecessor wrote for them. */
  private readonly named = new Set<string>();
  /** Until when a write a predecessor sent may still be applied (see the header). */
  private inheritedUntil = Infinity;
  /** Claim uid → until when a write of it that got no answer may still be applied. */
  private readonly unsettled = new Map<string, number>();
  /** Claims released here whose deletion has not been seen yet. */
  private readonly released = new Set<string>();
  /** Claim uid → the pool (`namespace/name`) of a claim deleted without its release, until it is released. */
  private readonly vanished = new Map<string, string>();
  /** Claim uid → when an owner of it was first found unreadable (403). */
  private readonly forbidden = new Map<string, number>();
  private readonly ownerFallbackMs: number;
  /** Claim uid → consecutive failures to reach the appliance, for the retry delay. */
  private readonly failures = new Map<string, number>();
  private readonly turns = new Map<string, Promise<unknown>>();

  constructor(
    private readonly mgr: Manager,
    opts: InfobloxProviderOptions = {},
  ) {
    const timeoutMs = opts.wapiTimeoutMs ?? 15_000;
    this.settleMs = opts.settleMs ?? 2 * timeoutMs;
    // The predecessor wrote no more once this process leads (leader election, or it is gone): its last write started
    // before, and timed out at most `timeoutMs` later.
    void mgr.elected.then(() => (this.inheritedUntil = Date.now() + timeoutMs + this.settleMs));
    this.recheckMs = opts.recheckMs ?? 5 * 60_000;
    this.retryMs = opts.retryMs ?? 30_000;
    this.ownerFallbackMs = opts.ownerFallbackMs ?? 2 * 60_000;
    this.log = mgr.logger.child({ provider: 'ipam-infoblox' });
    this.recorder = mgr.eventRecorder('cluster-ipam');
    this.claims = mgr.informer(IPAddressClaims);
    this.ipAddresses = mgr.informer(IPAddresses);
    this.instances = mgr.informer(InfobloxInstances);
    this.poolInformer = mgr.informer(InfobloxIPPools);
    this.pools = new Overlay(this.poolInformer);
    this.protection = new PoolProtection(mgr.client.resource(InfobloxIPPools), this.pools);
    this.clients = new WapiClients(mgr, opts.namespace ?? mgr.namespace ?? 'cluster-ipam-system', {
      timeoutMs,
      ...(opts.wapiRetry ? { retry: opts.wapiRetry } : {}),
    });
    addIndex(this.claims, Index.pool, (c) => {
      const key = poolKeyOf(c.spec?.poolRef, c.metadata.namespace);
      return key ? [key] : [];
    });
    addIndex(this.poolInformer, Index.instance, (p) => (p.spec?.instance?.name ? [p.spec.instance.name] : []));
    addIndex(this.ipAddresses, Index.address, (a) => {
      const address = isInfobloxPoolRef(a.spec?.poolRef) && canonicalAddress(a.spec.address);
      return address ? [address] : [];
    });
    addIndex(this.ipAddresses, Index.addressPool, (a) => {
      const key = poolKeyOf(a.spec?.poolRef, a.metadata.namespace);
      return key ? [key] : [];
    });
    this.instances.addEventHandler({ onDelete: (i) => this.clients.forget(i.metadata.name!) });
    this.claims.addEventHandler({
      onDelete: (c) => {
        // A claim that still carries its finalizer went without its release (the claim controller releases it
        // yet, and may need to wait for a write that got no answer): its pool stays until release() forgets it.
        // (The deleted object may be the cache's last state, from before the finalizer was removed: a claim
        // released here is no such claim.)
        const uid = c.metadata.uid ?? '';
        if (this.released.delete(uid)) return this.forget(uid);
        if (hasFinalizer(c, releaseAddressFinalizer)) {
          const key = poolKeyOf(c.spec?.poolRef, c.metadata.namespace);
          if (key) this.vanished.set(uid, key);
          return;
        }
        this.forget(uid);
      },
    });
  }

  pool(claim: IPAddressClaim): InfobloxIPPool | undefined {
    const key = poolKeyOf(claim.spec.poolRef, claim.metadata.namespace);
    return key ? this.pools.get(key) : undefined;
  }

  /** Claims of the pool (`namespace/name`). */
  claimsOf(poolKey: string): IPAddressClaim[] {
    return this.claims.byIndex(Index.pool, poolKey);
  }

  /**
   * Whether releases may still need the pool (`namespace/name`): claims use it, IPAddresses of it are left without
   * their claim (released by the claim controller), or claims of it went without their release (being released).
   */
  poolInUse(poolKey: string): boolean {
    return (
      this.claimsOf(poolKey).length > 0 ||
      this.ipAddresses.byIndex(Index.addressPool, poolKey).length > 0 ||
      [...this.vanished.values()].includes(poolKey)
    );
  }

  poolsOf(instance: string): InfobloxIPPool[] {
    return this.poolInformer.byIndex(Index.instance, instance);
  }

  wakeups(): ClaimWakeup[] {
    // Claims still waiting for an address, or being deleted (a release to retry); bound ones are done.
    const concerned = (poolKey: string) =>
      this.claimsOf(poolKey)
        .filter((c) => !c.status?.addressRef?.name || c.metadata.deletionTimestamp !== undefined)
        .map(request);
    return [
      {
        type: InfobloxIPPools as unknown as ResourceType<KubeObject>,
        predicate: readyOrSpecChanged,
        map: (p) => concerned(keyOf(p)),
      },
      {
        type: InfobloxInstances as unknown as ResourceType<KubeObject>,
        predicate: readyOrSpecChanged,
        map: (i) => this.poolsOf(i.metadata.name ?? '').flatMap((p) => concerned(keyOf(p))),
      },
      // An IPAddress that arrives with (or leaves) an address another one carries: both claims report the duplicate
      // (or stop reporting it).
      {
        type: IPAddresses as unknown as ResourceType<KubeObject>,
        map: (a) => {
          const ipa = a as IPAddress;
          const address = isInfobloxPoolRef(ipa.spec?.poolRef) && canonicalAddress(ipa.spec.address);
          return address ? this.ipAddresses.byIndex(Index.address, address).map(request) : [];
        },
      },
      // A claim gone has given its address back: a full pool's waiting claims try again.
      {
        type: IPAddressClaims as unknown as ResourceType<KubeObject>,
        predicate: (e) => e.type === 'delete',
        map: (c) => {
          const key = poolKeyOf((c as IPAddressClaim).spec?.poolRef, c.metadata.namespace);
          return key
            ? this.claimsOf(key)
                .filter((w) => !w.status?.addressRef?.name && !w.metadata.deletionTimestamp)
                .map(request)
            : [];
        },
      },
    ];
  }

  handler(claim: IPAddressClaim, pool: KubeObject | undefined): ClaimHandler {
    const ib = pool as InfobloxIPPool | undefined;
    return {
      readiness: () => this.poolReadiness(presentPool(ib, claim)),
      annotations: (signal) => this.annotations(claim, presentPool(ib, claim), signal),
      ensureAddress: (existing, signal) => this.allocate(claim, presentPool(ib, claim), existing, signal),
      duplicates: (allocation) => this.duplicates(claim, presentPool(ib, claim), allocation),
      // The appliance's record holds the address until release deletes it.
      retain: async () => {},
      release: (allocation, signal) => this.release(claim, ib, allocation, signal),
    };
  }

  private poolReadiness(pool: InfobloxIPPool): PoolReadiness {
    const r = readinessOf(pool);
    return r.ready ? { ready: true } : { ready: false, message: r.why };
  }

  /**
   * The host name, for the claim to carry before anything is written to the appliance. It must be recorded: the name
   * is the key under which the appliance keeps the claim's address, and it must stay the same for every later
   * search, for a restarted manager and for the release, even when what it was derived from changes or goes away
   * (the pool's dnsZone edited, the Machine deleted before its claim). Users see it too.
   */
  private async annotations(
    claim: IPAddressClaim,
    pool: InfobloxIPPool,
    signal: AbortSignal,
  ): Promise<Record<string, string> | undefined> {
    if (claim.metadata.annotations?.[hostnameAnnotation]) return undefined;
    let hostname: string;
    try {
      hostname = await this.hostnameOf(claim, pool, signal);
    } catch (err) {
      // Said on the claim by allocate(), which asks again.
      if (err instanceof OwnerForbiddenError) return undefined;
      throw err;
    }
    if (Date.now() - (this.forbidden.get(claim.metadata.uid!) ?? Infinity) >= this.ownerFallbackMs) {
      this.recorder.event(
        claim,
        'Warning',
        'HostNameFallback',
        `an owner of the claim could not be read for ${Math.round(this.ownerFallbackMs / 1000)} s: its host name ` +
          `is ${hostname}`,
      );
    }
    this.named.add(claim.metadata.uid!);
    return { [hostnameAnnotation]: hostname };
  }

  private async allocate(
    claim: IPAddressClaim,
    pool: InfobloxIPPool,
    existing: Allocation | undefined,
    signal: AbortSignal,
  ): Promise<AllocateResult> {
    const instance = this.instances.get(pool.spec.instance.name);
    if (existing) return this.keep(claim, pool, instance, existing, signal);
    if (!instance) {
      return { failed: 'PoolNotReady', message: `InfobloxInstance ${pool.spec.instance.name} not found` };
    }
    const uid = claim.metadata.uid!;
    let hostname: string;
    try {
      hostname = await this.hostnameOf(claim, pool, signal);
    } catch (err) {
      if (!(err instanceof OwnerForbiddenError)) throw err;
      const left = this.ownerFallbackMs - (Date.now() - (this.forbidden.get(uid) ?? Date.now()));
      return {
        failed: 'AllocationFailed',
        message:
          `${err.message}; retried, and in ${Math.max(0, Math.ceil(left / 1000))} s the host name falls back to ` +
          `${claim.metadata.name}.${(pool.spec.dnsZone ?? '').replace(/\.$/, '')}`,
        retryAfterMs: Math.max(1, Math.min(this.retryMs, left)),
      };
    }
    const placement = this.placement(claim, pool, instance, hostname);
    // Before the pool's first host record: a pool deleted meanwhile waits for its claims.
    await this.protection.protect(pool, signal);
    return this.inTurn(`${instance.metadata.name}/${placement.networkView}/${hostname}`, async () => {
      const until = this.settleUntil(uid);
      const write = until <= Date.now();
      let outcome: records.Outcome;
      try {
        outcome = await this.clients.use(instance, signal, (c) =>
          records.allocate(c, placement, subnetsOf(pool), { write, signal }),
        );
      } catch (err) {
        // Cut off (the lease lost, a shutdown) while a write may have been sent: its outcome is not known.
        if (signal.aborted && write) this.unsettled.set(uid, Date.now() + this.settleMs);
        if (signal.aborted) throw err;
        return this.unreachable(claim, instance, err);
      }
      if ('pending' in outcome) {
        return {
          failed: 'AllocationFailed',
          message:
            `an earlier write of host record "${hostname}" got no answer and may still be applied: searching ` +
            `again until ${new Date(until).toISOString()} before writing`,
          retryAfterMs: Math.max(1, until - Date.now()),
        };
      }
      // Found while only searching, the claim's address may still be joined by a late write: keep checks after.
      if ((this.unsettled.get(uid) ?? 0) <= Date.now()) this.unsettled.delete(uid);
      this.failures.delete(uid);
      // Full networks free up without any event here (other users of the appliance): look again now and then.
      if ('failed' in outcome) return { ...outcome, retryAfterMs: this.retryMs };
      // Not marked verified: the first reconcile with its IPAddress looks once more (keep), and lets go of what else
      // the claim's records hold (a gateway held when an attempt was cut off, a write that committed late).
      this.log.debug({ claim: keyOf(claim), uid, hostname, address: outcome.address }, 'allocated on the appliance');
      if (outcome.dnsTaken) this.recorder.event(claim, 'Warning', 'HostNameTaken', outcome.dnsTaken);
      return {
        allocated: {
          address: outcome.address,
          prefix: outcome.subnet.parsed.prefix,
          ...(outcome.subnet.gateway ? { gateway: outcome.subnet.gateway } : {}),
        },
      };
    });
  }

  private duplicates(claim: IPAddressClaim, pool: InfobloxIPPool, allocation: Allocation): string | undefined {
    const others = this.holders(claim, pool, allocation.address);
    if (others.length === 0) return undefined;
    return (
      `${allocation.address} is also carried by IPAddress ${others.join(', ')} of the same Infoblox network view: ` +
      'two machines may have the same address; delete one of the claims'
    );
  }

  private async release(
    claim: IPAddressClaim,
    pool: InfobloxIPPool | undefined,
    allocation: Allocation | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const uid = claim.metadata.uid ?? '';
    const address = allocation?.address;
    const hostname = claim.metadata.annotations?.[hostnameAnnotation];
    // Nothing was ever written for a claim without a host name, unless it is an orphan (found by address).
    if (hostname === undefined && address === undefined) return this.forget(uid);
    if (!pool) {
      // Its ProtectPool finalizer was removed by hand: which appliance holds the address is no longer known.
      this.log.error(
        { claim: keyOf(claim), address, hostname },
        "cannot release on the appliance: the claim's InfobloxIPPool is gone; remove the host record by hand",
      );
      return this.forget(uid);
    }
    // Without an IPAddress, a write for the claim may still be on its way (see the header).
    const until = allocation ? (this.unsettled.get(uid) ?? 0) : this.settleUntil(uid);
    if (until > Date.now()) {
      throw new Error(
        `an earlier write of host record "${hostname}" got no answer and may still be applied: waiting until ` +
          `${new Date(until).toISOString()}`,
      );
    }
    const instance = this.instances.get(pool.spec.instance.name);
    if (!instance) throw new Error(`InfobloxInstance ${pool.spec.instance.name} not found`);
    const placement = { ...this.placement(claim, pool, instance, hostname ?? ''), hostname };
    // An IPAddress left without its claim (no uid): the record holding its address, if its claim is gone.
    const live = (other: string) => this.claims.list().some((c) => c.metadata.uid === other);
    // A claim that stays (not being deleted, not gone) gives back only the address it does not keep.
    const whole = claim.metadata.deletionTimestamp !== undefined || this.claims.get(keyOf(claim))?.metadata.uid !== uid;
    const removed = await this.inTurn(`${instance.metadata.name}/${placement.networkView}/${hostname ?? address}`, () =>
      this.clients
        .use(instance, signal, (c) => records.release(c, placement, address, { whole, live, signal }))
        .catch((err: unknown) => {
          throw new Error(this.describe(instance, err), { cause: err });
        }),
    );
    if (removed.length) this.log.info({ claim: keyOf(claim), hostname, removed }, 'released on the appliance');
    else this.log.debug({ claim: keyOf(claim), hostname, address }, 'nothing to release on the appliance');
    // A claim still there goes once its finalizer is removed: its delete event is not a vanishing.
    if (!this.vanished.has(uid)) this.released.add(uid);
    this.forget(uid);
  }

  /** Whether the instance can be used: Secret, connection, credentials, default views (spec 04 §4.2). */
  async checkInstance(instance: InfobloxInstance, signal: AbortSignal): Promise<Check> {
    const { defaultNetworkView: nv, defaultDNSView: dv } = instance.spec;
    try {
      return await this.clients.use(instance, signal, async (c): Promise<Check> => {
        if (nv) {
          if (!(await c.getNetworkView(nv, { signal }))) {
            return notFound(InfobloxReasons.NetworkViewNotFound, `defaultNetworkView "${nv}" does not exist`);
          }
        } else await c.ping({ signal });
        if (dv && !(await c.getDNSView(dv, { signal }))) {
          return notFound(InfobloxReasons.DNSViewNotFound, `defaultDNSView "${dv}" does not exist`);
        }
        return {
          status: 'True',
          reason: InfobloxReasons.ConfigurationValid,
          message: `${c.baseURL} answers with the credentials of Secret ${this.secretOf(instance)}`,
        };
      });
    } catch (err) {
      return this.failure(instance, err);
    }
  }

  /** Whether the pool can allocate: its instance is Ready, its views and every subnet exist. */
  async checkPool(pool: InfobloxIPPool, signal: AbortSignal): Promise<Check> {
    const name = pool.spec.instance.name;
    const instance = this.instances.get(name);
    if (!instance) {
      return notFound(InfobloxReasons.InstanceNotFound, `InfobloxInstance ${name} does not exist`);
    }
    const ready = findCondition(instance.status?.conditions as Condition[] | undefined, 'Ready');
    if (!ready || (ready.observedGeneration ?? instance.metadata.generation) !== instance.metadata.generation) {
      return notFound(InfobloxReasons.InstanceNotReady, `waiting for InfobloxInstance ${name} to be checked`);
    }
    if (ready.status !== 'True') {
      return { status: 'False', reason: ready.reason, message: `InfobloxInstance ${name}: ${ready.message}` };
    }
    const nv = networkViewOf(pool, instance);
    const dv = dnsViewOf(pool, instance);
    try {
      return await this.clients.use(instance, signal, async (c): Promise<Check> => {
        if (!(await c.getNetworkView(nv, { signal }))) {
          return notFound(InfobloxReasons.NetworkViewNotFound, `network view "${nv}" does not exist on ${name}`);
        }
        if (!(await c.getDNSView(dv, { signal }))) {
          return notFound(InfobloxReasons.DNSViewNotFound, `DNS view "${dv}" does not exist on ${name}`);
        }
        const missing: string[] = [];
        for (const s of pool.spec.subnets) if (!(await c.getNetwork(s.cidr, nv, { signal }))) missing.push(s.cidr);
        if (missing.length > 0) {
          const what = missing.length === 1 ? 'network' : 'networks';
          return notFound(
            InfobloxReasons.NetworkNotFound,
            `${what} ${missing.join(', ')} not found in network view "${nv}" on ${name}`,
          );
        }
        return {
          status: 'True',
          reason: InfobloxReasons.Ready,
          message:
            `network view "${nv}", DNS view "${dv}" and ${pool.spec.subnets.length === 1 ? 'its subnet' : `its ${pool.spec.subnets.length} subnets`} ` +
            `exist on ${name}`,
        };
      });
    } catch (err) {
      return this.failure(instance, err);
    }
  }

  close(): void {
    this.clients.close();
  }

  // --- internals ------------------------------------------------------------------------------------------------

  private placement(
    claim: IPAddressClaim,
    pool: InfobloxIPPool,
    instance: InfobloxInstance,
    hostname: string,
  ): records.Placement {
    return {
      hostname,
      networkView: networkViewOf(pool, instance),
      ...(pool.spec.dnsZone ? { dnsView: dnsViewOf(pool, instance) } : {}),
      owner: { uid: claim.metadata.uid ?? '', claim: keyOf(claim) },
    };
  }

  /**
   * An address already handed out (its IPAddress exists) is kept whatever happens; it is looked up on the appliance
   * once per process, written back if the appliance lost it, and reported if another record holds it; whatever else
   * the claim's records hold is let go. An appliance that cannot be asked now changes nothing, and is asked again
   * later (nothing else would bring a bound claim back).
   */
  private async keep(
    claim: IPAddressClaim,
    pool: InfobloxIPPool,
    instance: InfobloxInstance | undefined,
    existing: Allocation,
    signal: AbortSignal,
  ): Promise<AllocateResult> {
    const uid = claim.metadata.uid!;
    const address = canonicalAddress(existing.address);
    if (!instance || (address && this.verified.get(uid) === address)) return { allocated: existing };
    const hostname = await this.hostnameOf(claim, pool, signal);
    const placement = this.placement(claim, pool, instance, hostname);
    let verdict: records.Verdict;
    try {
      verdict = await this.inTurn(`${instance.metadata.name}/${placement.networkView}/${hostname}`, () =>
        this.clients.use(instance, signal, (c) => records.verify(c, placement, existing.address, signal)),
      );
    } catch (err) {
      if (!(err instanceof WapiError || err instanceof InstanceConfigError)) throw err;
      this.log.debug({ claim: keyOf(claim), err: messageOf(err) }, 'cannot verify the address on the appliance now');
      // Looked at again: the record may hold more than the claim's address (a gateway held, a late write) until then.
      return { allocated: existing, retryAfterMs: this.retryMs };
    }
    if ('failed' in verdict) return verdict;
    if ('restored' in verdict) {
      this.log.warn(
        { claim: keyOf(claim), hostname, address: verdict.restored },
        'the appliance had lost the address of an IPAddress: written back onto its host record',
      );
    }
    // A write of the claim that got no answer may still add to its record: verified again once it cannot any more.
    const settle = (this.unsettled.get(uid) ?? 0) - Date.now();
    if (settle > 0) return { allocated: existing, retryAfterMs: settle };
    this.verified.set(uid, address!);
    return { allocated: existing };
  }

  /**
   * IPAddresses (`namespace/name`) other than the claim's carrying `address` in the pool's instance and view. One
   * being deleted holds nothing: its claim is giving the address back (the claim controller deletes the IPAddress
   * first), and the appliance may already have handed it out again.
   */
  private holders(claim: IPAddressClaim, pool: InfobloxIPPool, address: string): string[] {
    const canonical = canonicalAddress(address);
    if (!canonical) return [];
    const instance = this.instances.get(pool.spec.instance.name);
    const view = networkViewOf(pool, instance);
    const self = keyOf(claim);
    return this.ipAddresses
      .byIndex(Index.address, canonical)
      .filter((a) => {
        if (keyOf(a) === self || a.metadata.deletionTimestamp) return false;
        const other = this.pools.get(`${a.metadata.namespace}/${a.spec.poolRef.name}`);
        if (!other) return false;
        return (
          other.spec.instance.name === pool.spec.instance.name &&
          networkViewOf(other, this.instances.get(other.spec.instance.name)) === view
        );
      })
      .map(keyOf)
      .sort();
  }

  /**
   * The claim's host name; an owner the manager may not read is an OwnerForbiddenError until `ownerFallbackMs` after
   * it was first met, then the walk ends there.
   */
  private async hostnameOf(claim: IPAddressClaim, pool: InfobloxIPPool, signal: AbortSignal): Promise<string> {
    const uid = claim.metadata.uid!;
    const since = this.forbidden.get(uid);
    const fallback = since !== undefined && Date.now() - since >= this.ownerFallbackMs;
    try {
      return await resolveHostname(this.mgr.client, claim, pool.spec.dnsZone, signal, fallback);
    } catch (err) {
      if (err instanceof OwnerForbiddenError && since === undefined) this.forbidden.set(uid, Date.now());
      throw err;
    }
  }

  /** Until when the claim may only search: a write of it got no answer here, or a predecessor's may be on its way. */
  private settleUntil(uid: string): number {
    const here = this.unsettled.get(uid) ?? 0;
    return this.named.has(uid) ? here : Math.max(here, this.inheritedUntil === Infinity ? 0 : this.inheritedUntil);
  }

  private forget(uid: string): void {
    for (const m of [this.verified, this.unsettled, this.failures, this.forbidden, this.vanished]) m.delete(uid);
    this.named.delete(uid);
  }

  /** Runs `fn` after the previous holder of `key` is done: claims of one host name take turns. */
  private async inTurn<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.turns.get(key) ?? Promise.resolve();
    const mine = before.then(fn, fn);
    const settled = mine.then(
      () => undefined,
      () => undefined,
    );
    this.turns.set(key, settled);
    try {
      return await mine;
    } finally {
      if (this.turns.get(key) === settled) this.turns.delete(key);
    }
  }

  /** The appliance could not be used for a claim: it says why, and tries again after a growing delay. */
  private unreachable(claim: IPAddressClaim, instance: InfobloxInstance, err: unknown): AllocateResult {
    const uid = claim.metadata.uid!;
    if (err instanceof InstanceConfigError) {
      return {
        failed: 'PoolNotReady',
        message: `InfobloxInstance ${instance.metadata.name}: ${err.message}`,
        retryAfterMs: this.retryMs,
      };
    }
    if (!(err instanceof WapiError)) throw err;
    if (err instanceof WapiConnectionError && err.maybeCommitted) {
      this.unsettled.set(uid, Date.now() + this.settleMs);
    }
    this.log.debug(
      {
        claim: keyOf(claim),
        err: err.message,
        maybeCommitted: err.maybeCommitted,
        settleUntil: this.unsettled.get(uid),
      },
      'allocation failed on the appliance',
    );
    const failures = (this.failures.get(uid) ?? 0) + 1;
    this.failures.set(uid, failures);
    const backoff = Math.min(this.retryMs, 500 * 2 ** (failures - 1));
    const settle = (this.unsettled.get(uid) ?? 0) - Date.now();
    return {
      failed: 'AllocationFailed',
      message: `${this.describe(instance, err)}; retrying`,
      retryAfterMs: Math.max(backoff, settle > 0 ? Math.min(settle, backoff * 2) : 0),
    };
  }

  private describe(instance: InfobloxInstance, err: unknown): string {
    const name = instance.metadata.name;
    if (err instanceof InstanceConfigError) return `InfobloxInstance ${name}: ${err.message}`;
    if (err instanceof WapiAuthError) {
      return `InfobloxInstance ${name}: the appliance refused the credentials of Secret ${this.secretOf(instance)}`;
    }
    if (err instanceof WapiConnectionError) return `InfobloxInstance ${name}: ${err.message}`;
    return `InfobloxInstance ${name}: ${messageOf(err)}`;
  }

  private secretOf(instance: InfobloxInstance): string {
    return `${this.clients.namespace}/${instance.spec.credentialsSecretRef.name}`;
  }

  private failure(instance: InfobloxInstance, err: unknown): Check {
    if (err instanceof InstanceConfigError) return notFound(err.reason, err.message);
    if (err instanceof WapiAuthError) {
      return notFound(
        InfobloxReasons.AuthenticationFailed,
        `the appliance refused the credentials of Secret ${this.secretOf(instance)} (${err.status})`,
      );
    }
    if (err instanceof WapiConnectionError) return notFound(InfobloxReasons.ConnectionFailed, err.message);
    if (err instanceof WapiResponseError) return notFound(InfobloxReasons.ApplianceError, err.message);
    throw err;
  }
}

const notFound = (reason: string, message: string): Check => ({ status: 'False', reason, message });

const providers = new WeakMap<Manager, InfobloxProvider>();

/**
 * One provider (one client cache, one set of indexes) per manager, shared by the claim, pool and instance
 * controllers; `opts` apply if this call creates it. Creating it registers it (registry.ts): IPAddressClaims of
 * InfobloxIPPools are served only where the Infoblox controllers run; without them (`--controllers`, or next to the
 * reference Infoblox provider) such claims are another provider's and the manager touches no Infoblox kind.
 */
export function infobloxProvider(mgr: Manager, opts?: InfobloxProviderOptions): InfobloxProvider {
  let p = providers.get(mgr);
  if (!p) {
    providers.set(mgr, (p = new InfobloxProvider(mgr, opts)));
    providerRegistry(mgr).register(p);
  }
  return p;
}
