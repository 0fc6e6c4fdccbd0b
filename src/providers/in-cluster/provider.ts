// The in-cluster provider: pools kept in the Kubernetes API (InClusterIPPool, GlobalInClusterIPPool).
//
// Uniqueness does not rest on timing. Every address handed out has a cluster-scoped IPAddressReservation whose name
// is derived from the address alone (`ipv4-10-0-0-5`), created BEFORE the IPAddress. The API server accepts one
// object per name, so of two writers that pick the same address (two workers, two replicas during a leader
// hand-over, a stale cache) exactly one create succeeds; the other gets 409 AlreadyExists, marks the address taken
// and tries the next. The in-memory AddressBook (book.ts) makes such collisions rare; it is never trusted to
// prevent them. Consequences:
// - An address has one holder in the whole management cluster: pools that overlap share their addresses (the pool
//   reconciler warns about overlaps).
// - Crash after the reservation, before the IPAddress: the claim's next reconcile finds its reservation (book index
//   by claim uid, or the 409 followed by a GET showing the claim's uid) and uses it.
// - Crash after the IPAddress: the IPAddress is found and kept; a missing reservation is created ("adopt"), which
//   also covers IPAddresses written by the reference provider before a migration.
// - Reservations whose claim is gone without an IPAddress are released by the pool reconciler (`sweep`).
// - Start-up: the informers list every reservation and IPAddress before any reconcile runs, and the book counts an
//   address as taken if either exists; nothing is allocated from a partial view.
// - Grace period: a released reservation stays (spec.releasedAt set) until the pool's grace period has passed; the
//   pool reconciler then deletes it, and that delete wakes the claims waiting for an address.
// Writes per allocated claim: reservation create + IPAddress create (+ the claim's finalizer and status, which the
// contract requires of any provider) = 4. Release: reservation delete (or release mark) + IPAddress finalizer
// removal + IPAddress delete + claim finalizer removal = 4.
import {
  GlobalInClusterIPPools,
  InClusterIPPools,
  IPAddressClaims,
  IPAddresses,
  IPAddressReservations,
  ipAddressReservationKind,
  ipamGroup,
  type IPAddress,
  type IPAddressClaim,
  type IPAddressReservation,
} from '../../api/index.ts';
import { formatAddress, type Address } from '../../core/index.ts';
import {
  isAlreadyExists,
  isConflict,
  isNotFound,
  type KubeObject,
  type ResourceClient,
  type ResourceType,
} from '../../kube/index.ts';
import { hasFinalizer, metaTime, type Informer, type Logger, type Manager } from '../../runtime/index.ts';
import { Overlay } from '../overlay.ts';
import type { AllocateResult, Allocation, IPAMProvider, PoolReadiness, PoolRef } from '../types.ts';
import { AddressBook, type ReservationInfo } from './book.ts';
import { isInClusterPoolRef, poolKey, poolTitle, reservationName, tryParseAddress, type PoolKind } from './names.ts';
import { keyOfPool, PoolModels, poolProblem, type PoolModel, type PoolObject } from './pools.ts';

/** The two pool kinds, seen as what they share (PoolObject). */
export const poolTypes: Readonly<Record<PoolKind, ResourceType<PoolObject>>> = {
  InClusterIPPool: InClusterIPPools as ResourceType<PoolObject>,
  GlobalInClusterIPPool: GlobalInClusterIPPools as ResourceType<PoolObject>,
};

export const protectPoolFinalizer = 'ipam.cluster.x-k8s.io/ProtectPool';

/** Index names on the shared informers (prefixed: other controllers share them). */
export const Index = {
  /** IPAddressClaims and IPAddresses by the poolKey of their poolRef; reservations by their pool. */
  pool: 'in-cluster.pool',
  /** IPAddressClaims by uid. */
  uid: 'in-cluster.uid',
} as const;

export interface InClusterProviderOptions {
  /** A reservation is not swept as stale before this age: its claim or IPAddress may still be on its way to a cache. */
  staleAfterMs?: number;
}

function addIndex<T extends KubeObject>(informer: Informer<T>, name: string, fn: (obj: T) => string[]): void {
  try {
    informer.byIndex(name, '');
  } catch {
    informer.addIndex(name, fn);
  }
}

const refKey = (ref: PoolRef | undefined, namespace: string | undefined): string[] =>
  isInClusterPoolRef(ref) ? [poolKey(ref.kind, namespace, ref.name)] : [];

function reservationInfo(r: IPAddressReservation): ReservationInfo | undefined {
  const address = tryParseAddress(r.spec.address);
  if (!address || r.metadata.name !== reservationName(address)) return undefined;
  const { poolRef, claimRef } = r.spec;
  return {
    name: r.metadata.name,
    uid: r.metadata.uid ?? '',
    address,
    claimUid: claimRef.uid,
    claimNamespace: claimRef.namespace,
    claimName: claimRef.name,
    poolKey: poolKey(poolRef.kind, poolRef.namespace, poolRef.name),
    releasedAt: r.spec.releasedAt,
  };
}

/** The address an in-cluster IPAddress carries, with its book key. */
function ipAddressEntry(ipa: IPAddress): { key: string; address: Address } | undefined {
  if (!isInClusterPoolRef(ipa.spec?.poolRef)) return undefined;
  const address = tryParseAddress(ipa.spec.address);
  return address && { key: `${ipa.metadata.namespace}/${ipa.metadata.name}`, address };
}

/** Whether a duplicate was found: the caller reports it. */
export interface Duplicate {
  address: string;
  holder: string;
}

export class InClusterProvider implements IPAMProvider {
  readonly name = 'in-cluster';
  readonly book = new AddressBook();
  readonly models = new PoolModels();
  readonly claims: Informer<IPAddressClaim>;
  readonly ipAddresses: Informer<IPAddress>;
  readonly reservations: Informer<IPAddressReservation>;
  readonly poolInformers: Record<PoolKind, Informer<PoolObject>>;
  readonly poolOverlays: Record<PoolKind, Overlay<PoolObject>>;
  private readonly reservationClient: ResourceClient<IPAddressReservation>;
  private readonly poolClients: Record<PoolKind, ResourceClient<PoolObject>>;
  private readonly finalizing = new Map<string, Promise<void>>();
  private readonly log: Logger;
  private readonly staleAfterMs: number;

  constructor(mgr: Manager, opts: InClusterProviderOptions = {}) {
    this.staleAfterMs = opts.staleAfterMs ?? 30_000;
    this.log = mgr.logger.child({ provider: 'in-cluster' });
    this.claims = mgr.informer(IPAddressClaims);
    this.ipAddresses = mgr.informer(IPAddresses);
    this.reservations = mgr.informer(IPAddressReservations);
    this.poolInformers = {
      InClusterIPPool: mgr.informer(poolTypes.InClusterIPPool),
      GlobalInClusterIPPool: mgr.informer(poolTypes.GlobalInClusterIPPool),
    };
    this.poolOverlays = {
      InClusterIPPool: new Overlay(this.poolInformers.InClusterIPPool),
      GlobalInClusterIPPool: new Overlay(this.poolInformers.GlobalInClusterIPPool),
    };
    this.reservationClient = mgr.client.resource(IPAddressReservations);
    this.poolClients = {
      InClusterIPPool: mgr.client.resource(poolTypes.InClusterIPPool),
      GlobalInClusterIPPool: mgr.client.resource(poolTypes.GlobalInClusterIPPool),
    };

    addIndex(this.claims, Index.pool, (c) => refKey(c.spec?.poolRef, c.metadata.namespace));
    addIndex(this.claims, Index.uid, (c) => (c.metadata.uid ? [c.metadata.uid] : []));
    addIndex(this.ipAddresses, Index.pool, (a) => refKey(a.spec?.poolRef, a.metadata.namespace));
    addIndex(this.reservations, Index.pool, (r) => {
      const ref = r.spec?.poolRef;
      return ref ? [poolKey(ref.kind, ref.namespace, ref.name)] : [];
    });

    // The book follows the informers; these handlers run before the informers report synced, so no reconcile
    // ever sees a partial book.
    const observe = (r: IPAddressReservation) => {
      const info = reservationInfo(r);
      if (info) this.book.observeReservation(info);
      else
        this.log.error(
          { reservation: r.metadata.name },
          'ignoring a reservation whose name does not match its address',
        );
    };
    this.reservations.addEventHandler({
      onAdd: observe,
      onUpdate: (_, r) => observe(r),
      onDelete: (r) => {
        const info = reservationInfo(r);
        if (info) this.book.forgetReservation(info);
      },
    });
    const seeIP = (ipa: IPAddress) => {
      const e = ipAddressEntry(ipa);
      if (e) this.book.observeIPAddress(e.key, e.address);
    };
    const unseeIP = (ipa: IPAddress) => {
      const e = ipAddressEntry(ipa);
      if (e) this.book.forgetIPAddress(e.key, e.address);
    };
    this.ipAddresses.addEventHandler({
      onAdd: seeIP,
      onUpdate: (old, ipa) => {
        unseeIP(old);
        seeIP(ipa);
      },
      onDelete: unseeIP,
    });
    for (const kind of ['InClusterIPPool', 'GlobalInClusterIPPool'] as const) {
      this.poolInformers[kind].addEventHandler({
        onAdd: (p) => this.syncPool(p),
        onUpdate: (_, p) => this.syncPool(p),
        onDelete: (p) => {
          this.book.dropPool(keyOfPool(p));
          this.models.forget(keyOfPool(p));
        },
      });
    }
  }

  handles(ref: PoolRef): boolean {
    return isInClusterPoolRef(ref);
  }

  pool(claim: IPAddressClaim): PoolObject | undefined {
    const ref = claim.spec.poolRef;
    if (!isInClusterPoolRef(ref)) return undefined;
    return this.poolByKey(poolKey(ref.kind, claim.metadata.namespace, ref.name));
  }

  poolByKey(key: string): PoolObject | undefined {
    const [kind, namespace, ...name] = key.split('/');
    const overlay = this.poolOverlays[kind as PoolKind];
    return overlay?.get(namespace ? `${namespace}/${name.join('/')}` : name.join('/'));
  }

  /** Validates the pool (once per generation) and keeps the book's allocator of it current. */
  syncPool(obj: PoolObject): PoolModel {
    const model = this.models.of(obj);
    if (model.pool) this.book.syncPool(model.key, model.pool, model.version);
    else this.book.dropPool(model.key);
    return model;
  }

  poolReadiness(pool: KubeObject): PoolReadiness {
    const problem = poolProblem(pool, this.syncPool(pool as PoolObject));
    return problem === undefined ? { ready: true } : { ready: false, message: problem };
  }

  async allocate(
    claim: IPAddressClaim,
    poolObj: KubeObject,
    existing: Allocation | undefined,
    signal: AbortSignal,
  ): Promise<AllocateResult> {
    const obj = poolObj as PoolObject;
    const model = this.syncPool(obj);
    if (existing) return this.adopt(claim, model, existing, signal);
    const problem = poolProblem(obj, model);
    if (problem !== undefined) return { failed: 'PoolNotReady', message: problem };
    const uid = claim.metadata.uid!;
    const known = this.book.claimAddress(uid);
    if (known?.released) {
      return { failed: 'AllocationFailed', message: `the address of this claim is being released` };
    }
    if (known && known.poolKey === model.key) return { allocated: this.allocation(model, known.address) };

    await this.protectPool(obj, signal);
    for (;;) {
      const address = this.book.pick(model.key, uid);
      if (!address) return this.exhausted(model);
      const outcome = await this.reserve(claim, model, address, signal);
      if (outcome === 'reserved') return { allocated: this.allocation(model, address) };
    }
  }

  async release(
    claim: IPAddressClaim,
    poolObj: KubeObject | undefined,
    allocation: Allocation | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const uid = claim.metadata.uid!;
    // The given allocation only: another address of the claim may be the one its IPAddress carries. Strays are
    // the sweep's.
    const address = allocation ? tryParseAddress(allocation.address) : this.book.claimAddress(uid)?.address;
    const addresses = address ? [address] : [];
    const grace = poolObj ? this.models.of(poolObj as PoolObject).graceSeconds : 0;
    for (const address of addresses) {
      let target: ReservationInfo | undefined = this.book.reservationAt(address);
      if (target?.claimUid !== uid) {
        // Our cache may not show it yet: the API knows.
        const live = await this.reservationClient.get({ name: reservationName(address) }, { signal }).catch((err) => {
          if (isNotFound(err)) return undefined;
          throw err;
        });
        target = live && reservationInfo(live);
        if (target?.claimUid !== uid) continue;
      }
      await this.releaseReservation(target, grace, signal);
    }
  }

  /**
   * Grace periods that ended, and reservations whose claim is gone without an IPAddress (a claim force-deleted
   * between its reservation and its IPAddress): deleted or released. `pool` is undefined if it no longer exists.
   * Returns when to look again, in ms, if something is still waiting for its time.
   */
  async sweep(key: string, pool: PoolObject | undefined, signal: AbortSignal): Promise<number | undefined> {
    const now = Date.now();
    const gone = pool === undefined || pool.metadata.deletionTimestamp !== undefined;
    const grace = pool ? this.models.of(pool).graceSeconds : 0;
    let next: number | undefined;
    const later = (ms: number) => (next = Math.max(1, Math.min(next ?? ms, ms)));
    for (const r of this.reservations.byIndex(Index.pool, key)) {
      const info = reservationInfo(r);
      if (!info) continue;
      if (info.releasedAt !== undefined) {
        const due = gone ? now : Date.parse(info.releasedAt) + grace * 1000;
        if (due <= now) await this.deleteReservation(info, signal);
        else later(due - now);
        continue;
      }
      const age = now - Date.parse(r.metadata.creationTimestamp ?? '');
      if (!(age >= this.staleAfterMs)) {
        later(this.staleAfterMs - (Number.isNaN(age) ? 0 : age));
        continue;
      }
      if (this.isStale(info)) {
        this.log.info(
          { address: formatAddress(info.address), claim: `${info.claimNamespace}/${info.claimName}` },
          'releasing a reservation whose claim has no IPAddress for it',
        );
        await this.releaseReservation(info, gone ? 0 : grace, signal);
      }
    }
    return next;
  }

  /** In-cluster IPAddresses that reference the pool. */
  addressesOf(key: string): IPAddress[] {
    return this.ipAddresses.byIndex(Index.pool, key);
  }

  reservationsOf(key: string): IPAddressReservation[] {
    return this.reservations.byIndex(Index.pool, key);
  }

  /** Claims of the pool that are still waiting for an address. */
  waitingClaims(key: string): IPAddressClaim[] {
    return this.claims.byIndex(Index.pool, key).filter((c) => !c.status?.addressRef?.name);
  }

  poolClient(kind: PoolKind): ResourceClient<PoolObject> {
    return this.poolClients[kind];
  }

  // --- internals ------------------------------------------------------------------------------------------------

  private allocation(model: PoolModel, address: Address): Allocation {
    const pool = model.pool!;
    const a: Allocation = { address: formatAddress(address), prefix: pool.prefix };
    if (pool.gateway) a.gateway = formatAddress(pool.gateway);
    return a;
  }

  /** Creates the reservation of a picked address: 'reserved', or 'taken' (someone else holds it). */
  private async reserve(
    claim: IPAddressClaim,
    model: PoolModel,
    address: Address,
    signal: AbortSignal,
  ): Promise<'reserved' | 'taken'> {
    const uid = claim.metadata.uid!;
    const [kind, namespace, ...name] = model.key.split('/');
    const reservation: IPAddressReservation = {
      apiVersion: `${ipAddressReservationKind.group}/${ipAddressReservationKind.version}`,
      kind: 'IPAddressReservation',
      metadata: { name: reservationName(address) },
      spec: {
        address: formatAddress(address),
        poolRef: { apiGroup: ipamGroup, kind: kind!, name: name.join('/'), ...(namespace ? { namespace } : {}) },
        claimRef: { namespace: claim.metadata.namespace!, name: claim.metadata.name!, uid },
      },
    };
    try {
      await this.reservationClient.create(reservation, { signal });
      return 'reserved';
    } catch (err) {
      if (!isAlreadyExists(err)) {
        this.book.abandon(address, uid);
        throw err;
      }
    }
    // Someone holds it. If it is this claim (an earlier attempt whose reservation our cache has not shown yet, or
    // another replica's), it is the claim's address.
    const live = await this.reservationClient.get({ name: reservation.metadata.name! }, { signal }).catch((err) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    const info = live && reservationInfo(live);
    if (info && info.claimUid === uid && info.releasedAt === undefined && info.poolKey === model.key) {
      this.book.observeReservation(info);
      return 'reserved';
    }
    this.book.conflict(address, uid);
    if (info) this.book.observeReservation(info);
    return 'taken';
  }

  /** The claim already has an IPAddress: make sure its reservation says so, never change the address. */
  private async adopt(
    claim: IPAddressClaim,
    model: PoolModel,
    existing: Allocation,
    signal: AbortSignal,
  ): Promise<AllocateResult> {
    const uid = claim.metadata.uid!;
    const address = tryParseAddress(existing.address);
    if (!address) {
      return { failed: 'AllocationFailed', message: `its IPAddress carries "${existing.address}", not an address` };
    }
    const holder = this.book.reservationAt(address);
    if (holder && holder.claimUid !== uid) return this.duplicate(existing, holder);
    if (holder || this.book.claimAddress(uid)?.address.value === address.value) return { allocated: existing };
    this.book.hold(address, uid, model.key);
    if ((await this.reserve(claim, model, address, signal)) === 'reserved') return { allocated: existing };
    const other = this.book.reservationAt(address);
    return other ? this.duplicate(existing, other) : { failed: 'AllocationFailed', message: 'reservation conflict' };
  }

  private duplicate(existing: Allocation, holder: ReservationInfo): AllocateResult {
    return {
      failed: 'AllocationFailed',
      message:
        `duplicate address: the IPAddress of this claim carries ${existing.address}, which is reserved for ` +
        `IPAddressClaim ${holder.claimNamespace}/${holder.claimName}; delete one of the two claims`,
    };
  }

  private exhausted(model: PoolModel): AllocateResult {
    const total = model.pool!.usable.size;
    const released = this.reservationsOf(model.key).filter((r) => r.spec.releasedAt !== undefined);
    const own = this.addressesOf(model.key).length;
    let message = `no free address in ${poolTitle(model.key)}: all ${total} usable addresses are taken`;
    if (own < total) message += ` (${own} by its claims, the rest by overlapping pools or held after release)`;
    if (released.length > 0) {
      const first = released.map((r) => Date.parse(r.spec.releasedAt!)).sort((a, b) => a - b)[0]!;
      const free = metaTime(new Date(first + model.graceSeconds * 1000));
      message += `; ${released.length} released addresses become free after the grace period of ${model.graceSeconds}s, the first at ${free}`;
    }
    return { failed: 'PoolExhausted', message };
  }

  /** ProtectPool before the pool's first address: a pool deleted meanwhile waits for its addresses. */
  private async protectPool(pool: PoolObject, signal: AbortSignal): Promise<void> {
    if (hasFinalizer(pool, protectPoolFinalizer)) return;
    const key = keyOfPool(pool);
    let pending = this.finalizing.get(key);
    if (!pending) {
      const kind = pool.kind as PoolKind;
      pending = this.poolClients[kind]
        .patch(
          { namespace: pool.metadata.namespace, name: pool.metadata.name! },
          {
            metadata: {
              finalizers: [...(pool.metadata.finalizers ?? []), protectPoolFinalizer],
              resourceVersion: pool.metadata.resourceVersion,
            },
          },
          { signal },
        )
        .then((written) => void this.poolOverlays[kind].record(written))
        .finally(() => this.finalizing.delete(key));
      this.finalizing.set(key, pending);
    }
    await pending;
  }

  private isStale(info: ReservationInfo): boolean {
    const claim = this.claims.byIndex(Index.uid, info.claimUid)[0];
    const ipa = this.ipAddresses.get(`${info.claimNamespace}/${info.claimName}`);
    const ipaIsClaims = ipa?.metadata.ownerReferences?.some((r) => r.controller && r.uid === info.claimUid);
    if (!claim) return !this.book.ipAddressesAt(info.address).length;
    // The claim holds another address through its IPAddress: this one is left over from an interrupted attempt.
    return ipaIsClaims === true && tryParseAddress(ipa!.spec.address)?.value !== info.address.value;
  }

  private async releaseReservation(info: ReservationInfo, graceSeconds: number, signal: AbortSignal): Promise<void> {
    if (info.releasedAt !== undefined) return;
    if (graceSeconds <= 0) return this.deleteReservation(info, signal);
    try {
      // The uid makes the patch fail (409) if the reservation was replaced meanwhile.
      await this.reservationClient.patch(
        { name: info.name },
        { metadata: { uid: info.uid }, spec: { releasedAt: metaTime(new Date()) } },
        { signal },
      );
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  private async deleteReservation(info: ReservationInfo, signal: AbortSignal): Promise<void> {
    try {
      await this.reservationClient.delete({ name: info.name }, { preconditions: { uid: info.uid }, signal });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }
}

const providers = new WeakMap<Manager, InClusterProvider>();

/**
 * One provider (one book, one set of informer handlers) per manager, shared by the claim and pool controllers;
 * `opts` apply if this call creates it.
 */
export function inClusterProvider(mgr: Manager, opts?: InClusterProviderOptions): InClusterProvider {
  let p = providers.get(mgr);
  if (!p) providers.set(mgr, (p = new InClusterProvider(mgr, opts)));
  return p;
}
