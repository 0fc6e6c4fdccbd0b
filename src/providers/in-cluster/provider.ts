// The in-cluster provider: pools kept in the Kubernetes API (InClusterIPPool, GlobalInClusterIPPool).
//
// Uniqueness does not rest on timing. An address is handed out only once a compare-and-swap write of its address
// domain's IPAddressLedger (ledger.ts) says so: the entry is added only where the ledger, as the API server holds it,
// has none, and only once this manager's IPAddress cache is current to the ledger's fence, so that every IPAddress
// whose entry the ledger dropped is in the book (book.ts) and counts as taken. One write serves every claim of the
// domain queued while the previous one was in flight. An entry lives while the address is in flight: every write
// drops those whose IPAddress this manager has seen (the IPAddress holds the address from then on) and raises the
// fence to it. A write whose outcome is unknown (timeout, 5xx) is settled by reading the ledger; if that fails the
// claim retries the same address, never trusting its cache. Consequences:
// - An address has one holder per address domain (spec 03 §3.4): a namespace's pools share theirs, pools of
//   different namespaces do not interfere, global pools share across the cluster, and an annotation joins pools into
//   a named domain. The pool reconciler reports overlaps: within a domain (shared addresses) and with the global
//   domain (the one place the same address can be handed out twice).
// - Crash after the entry, before the IPAddress: the claim's next reconcile finds its entry (book index by claim
//   uid, or the ledger's answer naming the claim) and uses it.
// - `clusterctl move`, IPAddresses written by the reference provider: they count as taken as soon as the cache shows
//   them; the claim adopts its IPAddress and raises the fence to it (`cover`), so no manager decides on the ledger
//   without seeing it. Two IPAddresses of one address: the older one's claim holds it, the other reports the
//   duplicate.
// - Entries whose claim is gone without an IPAddress are released by the pool upkeep (`sweep`), once the API (not
//   only the caches) shows it.
// - Start-up: the informers list every ledger, IPAddress and reservation before any reconcile runs; nothing is
//   allocated from a partial view.
// - Grace period: before a released claim's IPAddress goes, a released entry (releasedAt) is written (`retain`); the
//   pool upkeep removes it when the pool's grace period has passed, which wakes the claims waiting for an address.
// - The sweep's ages (grace periods, staleness) run on this process's clock from when its informer first showed the
//   entry (or its release), never from a timestamp another host wrote: skew cannot make it early; after a restart it
//   counts from the start (later, never earlier).
// - IPAddressReservations, one object per address, written by releases before the ledger: honoured as holders,
//   released and swept as before; never written.
// Writes per allocated claim: the IPAddress create (+ the claim's finalizer and status, which the contract requires
// of any provider) + a share of one ledger write. Release: IPAddress finalizer removal + IPAddress delete + claim
// finalizer removal (+ a ledger write with a grace period, or to drop an entry still in flight).
import { Histogram } from 'prom-client';
import {
  globalDomain,
  GlobalInClusterIPPools,
  InClusterIPPools,
  IPAddressClaims,
  IPAddresses,
  IPAddressLedgers,
  IPAddressReservations,
  ipAddressLedgerKind,
  ipamGroup,
  type IPAddress,
  type IPAddressClaim,
  domainTitle,
  type AddressDomain,
  type IPAddressLedger,
  type IPAddressLedgerEntry,
  type IPAddressReservation,
} from '../../api/index.ts';
import { formatAddress, type Address, type IntervalSet } from '../../core/index.ts';
import {
  isNotFound,
  unlessNotFound,
  isUIDMismatch,
  type KubeObject,
  type ResourceClient,
  type ResourceType,
} from '../../kube/index.ts';
import { metaTime, type Informer, type Logger, type Manager } from '../../runtime/index.ts';
import { atLeast, Overlay } from '../overlay.ts';
import { PoolProtection } from '../pool-protection.ts';
import { providerRegistry } from '../registry.ts';
import { notStatusOnly } from '../../runtime/index.ts';
import { presentPool } from '../types.ts';
import type {
  AllocateResult,
  Allocation,
  ClaimHandler,
  ClaimWakeup,
  IPAMProvider,
  PoolReadiness,
  PoolRef,
} from '../types.ts';
import { AddressBook, type ReservationInfo } from './book.ts';
import { LedgerCommitter, refused, type LedgerStore } from './ledger.ts';
import {
  isInClusterPoolRef,
  ledgerName,
  poolKey,
  poolTitle,
  reservationName,
  tryParseAddress,
  type PoolKind,
} from './names.ts';
import { keyOfPool, PoolModels, poolProblem, PoolRangeIndex, type PoolModel, type PoolObject } from './pools.ts';

/** The two pool kinds, seen as what they share (PoolObject). */
export const poolTypes: Readonly<Record<PoolKind, ResourceType<PoolObject>>> = {
  InClusterIPPool: InClusterIPPools as ResourceType<PoolObject>,
  GlobalInClusterIPPool: GlobalInClusterIPPools as ResourceType<PoolObject>,
};

/** Index names on the shared informers (prefixed: other controllers share them). */
export const Index = {
  /** IPAddressClaims by the poolKey of their poolRef (the book keeps IPAddresses and reservations per pool). */
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

const parsedReservations = new WeakMap<IPAddressReservation, ReservationInfo | undefined>();

/** The reservation as the book keeps it; parsed once per object (cached objects are immutable). */
function reservationInfo(r: IPAddressReservation): ReservationInfo | undefined {
  if (parsedReservations.has(r)) return parsedReservations.get(r);
  const info = parseReservation(r);
  parsedReservations.set(r, info);
  return info;
}

function parseReservation(r: IPAddressReservation): ReservationInfo | undefined {
  const address = tryParseAddress(r.spec.address);
  const domain = r.spec.domain ?? globalDomain;
  if (!address || r.metadata.name !== reservationName(domain, address)) return undefined;
  const { poolRef, claimRef } = r.spec;
  return {
    name: r.metadata.name,
    uid: r.metadata.uid ?? '',
    address,
    domain,
    claimUid: claimRef.uid,
    claimNamespace: claimRef.namespace,
    claimName: claimRef.name,
    poolKey: poolKey(poolRef.kind, poolRef.namespace, poolRef.name),
    releasedAt: r.spec.releasedAt,
  };
}

/** A ledger entry as the book keeps it. */
function entryInfo(domain: AddressDomain, address: Address, entry: IPAddressLedgerEntry): ReservationInfo {
  const name = ledgerName(domain);
  const { poolRef, claimRef } = entry;
  return {
    name: `${name}/${formatAddress(address)}`,
    uid: claimRef.uid,
    ledger: name,
    address,
    domain,
    claimUid: claimRef.uid,
    claimNamespace: claimRef.namespace,
    claimName: claimRef.name,
    poolKey: poolKey(poolRef.kind, poolRef.namespace, poolRef.name),
    releasedAt: entry.releasedAt,
  };
}

const parsedLedgers = new WeakMap<IPAddressLedger, Map<string, ReservationInfo>>();

/** The ledger's entries as the book keeps them, by address key; parsed once per object. */
function ledgerInfos(l: IPAddressLedger): Map<string, ReservationInfo> {
  let infos = parsedLedgers.get(l);
  if (infos) return infos;
  infos = new Map();
  const name = l.metadata.name ?? '';
  const domain = l.spec.domain;
  if (name === ledgerName(domain)) {
    for (const [text, entry] of Object.entries(l.spec.entries ?? {})) {
      const address = tryParseAddress(text);
      if (address) infos.set(text, entryInfo(domain, address, entry));
    }
  }
  parsedLedgers.set(l, infos);
  return infos;
}

/** The claim an IPAddress key (`namespace/name`, named after its claim) stands for. */
function keyHolder(key: string): { claimNamespace: string; claimName: string } {
  const [claimNamespace = '', ...name] = key.split('/');
  return { claimNamespace, claimName: name.join('/') };
}

/** How long a ledger decision waits for the IPAddress cache to reach the ledger's fence before giving up (retried). */
const fenceWaitMs = 30_000;

type IPAddressEntry = { key: string; poolKey: string; address: Address } | undefined;
const parsedIPAddresses = new WeakMap<IPAddress, IPAddressEntry>();

/** The address an in-cluster IPAddress carries, with its book key and its pool's key; parsed once per object. */
function ipAddressEntry(ipa: IPAddress): IPAddressEntry {
  if (parsedIPAddresses.has(ipa)) return parsedIPAddresses.get(ipa);
  const entry = parseIPAddress(ipa);
  parsedIPAddresses.set(ipa, entry);
  return entry;
}

function parseIPAddress(ipa: IPAddress): IPAddressEntry {
  const ref = ipa.spec?.poolRef;
  if (!isInClusterPoolRef(ref)) return undefined;
  const address = tryParseAddress(ipa.spec.address);
  const key = `${ipa.metadata.namespace}/${ipa.metadata.name}`;
  return address && { key, poolKey: poolKey(ref.kind, ipa.metadata.namespace, ref.name), address };
}

/**
 * A reservation is stale when its claim (by uid) is gone and no IPAddress of the claim's name carries its address (a
 * claim on its way back, as in a move, adopts it), or when the claim's own IPAddress carries another address (this
 * one is left over from an interrupted attempt).
 */
function staleGiven(info: ReservationInfo, claim: IPAddressClaim | undefined, ipa: IPAddress | undefined): boolean {
  const carries = ipa !== undefined && tryParseAddress(ipa.spec.address)?.value === info.address.value;
  if (!claim) return !carries;
  const ipaIsClaims = ipa?.metadata.ownerReferences?.some((r) => r.controller && r.uid === info.claimUid);
  return ipaIsClaims === true && !carries;
}

export class InClusterProvider implements IPAMProvider {
  readonly name = 'in-cluster';
  readonly poolTypes = Object.values(poolTypes) as unknown as ResourceType<KubeObject>[];
  readonly book = new AddressBook();
  readonly models = new PoolModels();
  /** Valid, live pools by span: who overlaps whom. */
  readonly ranges = new PoolRangeIndex();
  readonly claims: Informer<IPAddressClaim>;
  readonly ipAddresses: Informer<IPAddress>;
  readonly reservations: Informer<IPAddressReservation>;
  readonly ledgers: Informer<IPAddressLedger>;
  readonly poolInformers: Record<PoolKind, Informer<PoolObject>>;
  readonly poolOverlays: Record<PoolKind, Overlay<PoolObject>>;
  readonly protection: Record<PoolKind, PoolProtection<PoolObject>>;
  private readonly poolClients: Record<PoolKind, ResourceClient<PoolObject>>;
  private readonly reservationClient: ResourceClient<IPAddressReservation>;
  private readonly ledgerClient: ResourceClient<IPAddressLedger>;
  /** One committer per domain's ledger, by ledger name: the claims taking addresses at once share its writes. */
  private readonly committers = new Map<string, LedgerCommitter>();
  /** How many operations each ledger write carried: how well the claims share the writes. */
  private readonly ledgerWrites: Histogram;
  /** The entries the ledger event being dispatched added, changed or removed (for the watches that map it). */
  private ledgerChange: { ledger: string; infos: ReservationInfo[] } = { ledger: '', infos: [] };
  private readonly claimClient: ResourceClient<IPAddressClaim>;
  private readonly ipAddressClient: ResourceClient<IPAddress>;
  private readonly log: Logger;
  private readonly staleAfterMs: number;
  /** Per pool: when a released reservation may become deletable, and when one may have become stale (sweep). */
  private readonly releaseDue = new Map<string, number>();
  private readonly staleDue = new Map<string, number>();
  private readonly lastScan = new Map<string, number>();
  /** Per pool: the copy the book was last synced from. */
  private readonly synced = new Map<string, { uid?: string; resourceVersion?: string }>();

  constructor(mgr: Manager, opts: InClusterProviderOptions = {}) {
    this.staleAfterMs = opts.staleAfterMs ?? 30_000;
    this.log = mgr.logger.child({ provider: 'in-cluster' });
    this.claims = mgr.informer(IPAddressClaims);
    this.ipAddresses = mgr.informer(IPAddresses);
    this.reservations = mgr.informer(IPAddressReservations);
    this.ledgers = mgr.informer(IPAddressLedgers);
    this.poolInformers = {
      InClusterIPPool: mgr.informer(poolTypes.InClusterIPPool),
      GlobalInClusterIPPool: mgr.informer(poolTypes.GlobalInClusterIPPool),
    };
    this.poolOverlays = {
      InClusterIPPool: new Overlay(this.poolInformers.InClusterIPPool),
      GlobalInClusterIPPool: new Overlay(this.poolInformers.GlobalInClusterIPPool),
    };
    this.reservationClient = mgr.client.resource(IPAddressReservations);
    this.ledgerClient = mgr.client.resource(IPAddressLedgers);
    this.ledgerWrites = new Histogram({
      name: 'cluster_ipam_ledger_write_operations',
      help: 'Operations (addresses taken, released or removed, fences raised) carried by each IPAddressLedger write',
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers: [mgr.registry],
    });
    this.claimClient = mgr.client.resource(IPAddressClaims);
    this.ipAddressClient = mgr.client.resource(IPAddresses);
    this.poolClients = {
      InClusterIPPool: mgr.client.resource(poolTypes.InClusterIPPool),
      GlobalInClusterIPPool: mgr.client.resource(poolTypes.GlobalInClusterIPPool),
    };
    this.protection = {
      InClusterIPPool: new PoolProtection(this.poolClients.InClusterIPPool, this.poolOverlays.InClusterIPPool),
      GlobalInClusterIPPool: new PoolProtection(
        this.poolClients.GlobalInClusterIPPool,
        this.poolOverlays.GlobalInClusterIPPool,
      ),
    };

    addIndex(this.claims, Index.pool, (c) => refKey(c.spec?.poolRef, c.metadata.namespace));
    addIndex(this.claims, Index.uid, (c) => (c.metadata.uid ? [c.metadata.uid] : []));

    // The book follows the informers; these handlers run before the informers report synced, so no reconcile
    // ever sees a partial book.
    const observe = (r: IPAddressReservation) => {
      const info = reservationInfo(r);
      if (info) this.observeInfo(info);
      else
        this.log.error(
          { reservation: r.metadata.name },
          'ignoring a reservation whose name does not match its address',
        );
    };
    this.ledgers.addEventHandler({
      onAdd: (l) => this.seeLedger(undefined, l),
      onUpdate: (old, l) => this.seeLedger(old, l),
      onDelete: (l) => this.seeLedger(l, undefined),
    });
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
      if (e) this.book.observeIPAddress(e.key, e.poolKey, e.address);
      else this.book.forgetIPAddress(`${ipa.metadata.namespace}/${ipa.metadata.name}`);
    };
    this.ipAddresses.addEventHandler({
      onAdd: seeIP,
      onUpdate: (_, ipa) => seeIP(ipa),
      onDelete: (ipa) => {
        this.book.forgetIPAddress(`${ipa.metadata.namespace}/${ipa.metadata.name}`);
        // Its claim's reservation may be left without an IPAddress now.
        const e = ipAddressEntry(ipa);
        if (e) this.staleDue.set(e.poolKey, 0);
      },
    });
    this.claims.addEventHandler({
      onDelete: (c) => {
        if (!c.metadata.uid) return;
        this.book.forgetAttempt(c.metadata.uid);
        const held = this.book.claimAddress(c.metadata.uid);
        if (held) this.staleDue.set(held.poolKey, 0);
      },
    });
    const seePool = (p: PoolObject) => {
      const model = this.syncPool(p);
      this.ranges.set(model.key, p.metadata.deletionTimestamp ? undefined : model);
    };
    for (const kind of ['InClusterIPPool', 'GlobalInClusterIPPool'] as const) {
      this.poolInformers[kind].addEventHandler({
        onAdd: seePool,
        onUpdate: (_, p) => seePool(p),
        onDelete: (p) => {
          this.ranges.set(keyOfPool(p), undefined);
          this.book.removePool(keyOfPool(p));
          this.models.forget(keyOfPool(p));
          // A copy read before the deletion must not bring it back into the book.
          this.synced.set(keyOfPool(p), { uid: p.metadata.uid, resourceVersion: p.metadata.resourceVersion });
        },
      });
    }
  }

  /** The book follows a reservation or ledger entry; the sweep looks at it once it may be stale or its grace ended. */
  private observeInfo(info: ReservationInfo): void {
    this.book.observeReservation(info);
    if (info.releaseSeenAt !== undefined) this.due(this.releaseDue, info.poolKey, info.releaseSeenAt);
    else this.due(this.staleDue, info.poolKey, (info.seenAt ?? Date.now()) + this.staleAfterMs);
  }

  /** A ledger event: the book follows its entries (those that came, changed and went). */
  private seeLedger(old: IPAddressLedger | undefined, now: IPAddressLedger | undefined): void {
    const name = (now ?? old)!.metadata.name ?? '';
    if (now && now.metadata.name !== ledgerName(now.spec.domain)) {
      this.log.error({ ledger: now.metadata.name }, 'ignoring a ledger whose name does not match its domain');
    }
    const before = old ? ledgerInfos(old) : new Map<string, ReservationInfo>();
    const after = now ? ledgerInfos(now) : new Map<string, ReservationInfo>();
    const changed: ReservationInfo[] = [];
    for (const [text, info] of before) {
      if (after.get(text)?.claimUid === info.claimUid) continue;
      this.book.forgetReservation(info);
      changed.push(info);
    }
    for (const [text, info] of after) {
      const prev = before.get(text);
      if (prev?.claimUid === info.claimUid && prev.releasedAt === info.releasedAt) continue;
      this.observeInfo(info);
      changed.push(info);
    }
    this.ledgerChange = { ledger: name, infos: changed };
    if (now) this.committers.get(name)?.observed(now);
  }

  /** The ledger entries the ledger event being dispatched added, changed or removed. */
  ledgerChanges(l: IPAddressLedger): readonly ReservationInfo[] {
    return this.ledgerChange.ledger === l.metadata.name ? this.ledgerChange.infos : [];
  }

  wakeups(): ClaimWakeup[] {
    const named = (keys: Iterable<string>) =>
      [...keys].map((k) => {
        const [namespace, name] = k.split('/');
        return { namespace: namespace ?? '', name: name ?? '' };
      });
    const claimsOf = (list: readonly IPAddressClaim[]) =>
      list.map((c) => ({ namespace: c.metadata.namespace ?? '', name: c.metadata.name ?? '' }));
    // A pool that changes (grows, unpauses, becomes valid, goes away) concerns its claims still waiting or being
    // deleted; the others are done.
    const poolChanged = (p: KubeObject) =>
      claimsOf(
        this.claims
          .byIndex(Index.pool, keyOfPool(p))
          .filter((c) => !c.status?.addressRef?.name || c.metadata.deletionTimestamp !== undefined),
      );
    return [
      ...(['InClusterIPPool', 'GlobalInClusterIPPool'] as const).map((kind) => ({
        type: poolTypes[kind] as unknown as ResourceType<KubeObject>,
        predicate: notStatusOnly,
        map: poolChanged,
      })),
      // A reservation, ledger entry or IPAddress gone frees its address (unless another holder keeps it): the
      // claims waiting in any pool of its domain holding it try again at once.
      {
        type: IPAddressReservations as unknown as ResourceType<KubeObject>,
        predicate: (e: { type: string }) => e.type === 'delete',
        map: (obj: KubeObject) => {
          const r = obj as IPAddressReservation;
          return claimsOf(this.waitingFor(r.spec?.domain ?? globalDomain, tryParseAddress(r.spec?.address)));
        },
      },
      {
        type: IPAddressLedgers as unknown as ResourceType<KubeObject>,
        map: (obj: KubeObject) =>
          claimsOf(this.ledgerChanges(obj as IPAddressLedger).flatMap((i) => this.waitingFor(i.domain, i.address))),
      },
      // An entry that came or went at an address another claim's IPAddress carries: that claim reports the duplicate
      // (or stops reporting it). An entry of the IPAddress's own claim concerns no one else.
      {
        type: IPAddressLedgers as unknown as ResourceType<KubeObject>,
        map: (obj: KubeObject) =>
          named(
            this.ledgerChanges(obj as IPAddressLedger).flatMap((i) =>
              this.book.ipAddressesAt(i.domain, i.address).filter((k) => k !== `${i.claimNamespace}/${i.claimName}`),
            ),
          ),
      },
      {
        type: IPAddresses as unknown as ResourceType<KubeObject>,
        predicate: (e: { type: string }) => e.type === 'delete',
        map: (obj: KubeObject) => {
          const e = ipAddressEntry(obj as IPAddress);
          return e ? claimsOf(this.waitingFor(this.book.domainOf(e.poolKey), e.address)) : [];
        },
      },
      // An IPAddress that arrives with (or leaves) an address another IPAddress of the domain carries: both claims
      // report the duplicate (or stop reporting it).
      {
        type: IPAddresses as unknown as ResourceType<KubeObject>,
        map: (obj: KubeObject) => named(this.sameAddress(obj as IPAddress)),
      },
    ];
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

  /** Validates the pool (once per generation and domain) and keeps the book's view of it current. */
  syncPool(obj: PoolObject): PoolModel {
    const model = this.models.of(obj);
    // Never back to an older copy than one already synced (a cached pool behind the one a claim just read): the
    // allocator must not hand out what a newer spec excludes between a claim's sync and its pick.
    const last = this.synced.get(model.key);
    const { uid, resourceVersion } = obj.metadata;
    if (last && last.uid === uid && !atLeast(resourceVersion, last.resourceVersion)) return model;
    this.synced.set(model.key, { uid, resourceVersion });
    this.book.setPoolDomain(model.key, model.domain);
    if (model.pool) this.book.syncPool(model.key, model.pool, model.version, model.domain);
    else this.book.dropPool(model.key);
    return model;
  }

  handler(claim: IPAddressClaim, pool: KubeObject | undefined): ClaimHandler {
    const obj = pool as PoolObject | undefined;
    return {
      readiness: () => this.poolReadiness(presentPool(obj, claim)),
      // Nothing to record on the claim: an in-cluster address is found by the claim's uid.
      annotations: async () => undefined,
      ensureAddress: (existing, signal) => this.allocate(claim, presentPool(obj, claim), existing, signal),
      retain: (allocation) => this.retain(claim, obj, allocation),
      duplicates: (allocation) => this.duplicates(claim, presentPool(obj, claim), allocation),
      release: (allocation, signal) => this.release(claim, obj, allocation, signal),
    };
  }

  private poolReadiness(pool: PoolObject): PoolReadiness {
    const problem = poolProblem(pool, this.syncPool(pool));
    return problem === undefined ? { ready: true } : { ready: false, message: problem };
  }

  private async allocate(
    claim: IPAddressClaim,
    obj: PoolObject,
    existing: Allocation | undefined,
    signal: AbortSignal,
  ): Promise<AllocateResult> {
    const model = this.syncPool(obj);
    if (existing) return this.adopt(claim, model, existing, signal);
    const problem = poolProblem(obj, model);
    if (problem !== undefined) return { failed: 'PoolNotReady', message: problem };
    const uid = claim.metadata.uid!;
    const known = this.book.claimAddress(uid);
    if (known?.released) {
      return { failed: 'AllocationFailed', message: `the address of this claim is being released` };
    }
    if (known && known.poolKey === model.key && known.domain === model.domain) {
      return { allocated: this.allocation(model, known.address) };
    }

    // Before the pool's first address: a pool deleted meanwhile waits for its addresses.
    await this.protection[obj.kind as PoolKind].protect(obj, signal);
    // An earlier attempt whose outcome is unknown may have made its reservation: try that address first (a 409 then
    // tells whose it is), so the claim neither leaks it nor loses it.
    const attempt = this.book.attemptOf(uid);
    if (attempt?.poolKey === model.key && attempt.domain === model.domain) {
      if ((await this.reserve(claim, model, attempt.address, signal)) === 'reserved') {
        return { allocated: this.allocation(model, attempt.address) };
      }
    }
    for (;;) {
      const address = this.book.pick(model.key, uid);
      if (!address) return this.exhausted(model);
      const outcome = await this.reserve(claim, model, address, signal);
      if (outcome === 'reserved') return { allocated: this.allocation(model, address) };
    }
  }

  private duplicates(claim: IPAddressClaim, pool: PoolObject, allocation: Allocation): string | undefined {
    const address = tryParseAddress(allocation.address);
    if (!address) return undefined;
    const { domain } = this.models.of(pool);
    const self = `${claim.metadata.namespace}/${claim.metadata.name}`;
    const others = this.book.ipAddressesAt(domain, address).filter((k) => k !== self);
    if (others.length === 0) return undefined;
    return (
      `${allocation.address} is also carried by IPAddress ${others.join(', ')} in ${domainTitle(domain)}: ` +
      'two machines may have the same address; delete one of the claims'
    );
  }

  /**
   * The pools (keys) whose counts an IPAddress concerns: its own pool, and every pool of its address domain whose
   * usable addresses include its address (pools sharing addresses count each other's holders).
   */
  poolsCountingIPAddress(ipa: IPAddress): string[] {
    const e = ipAddressEntry(ipa);
    return e ? this.poolsCounting(e.poolKey, this.book.domainOf(e.poolKey), e.address) : [];
  }

  /** The same for a reservation. */
  poolsCountingReservation(r: IPAddressReservation): string[] {
    const info = reservationInfo(r);
    return info ? this.poolsCounting(info.poolKey, info.domain, info.address) : [];
  }

  private poolsCounting(own: string, domain: AddressDomain, address: Address): string[] {
    return [...new Set([own, ...this.book.poolsContaining(domain, address)])];
  }

  /** IPAddresses (`namespace/name`) carrying the same address as `ipa` in its pool's domain, `ipa` included. */
  sameAddress(ipa: IPAddress): string[] {
    const e = ipAddressEntry(ipa);
    return e ? this.book.ipAddressesAt(this.book.domainOf(e.poolKey), e.address) : [];
  }

  private async release(
    claim: IPAddressClaim,
    pool: PoolObject | undefined,
    allocation: Allocation | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const uid = claim.metadata.uid!;
    const ref = claim.spec.poolRef;
    const model = pool ? this.models.of(pool) : undefined;
    const domain = model?.domain ?? this.book.domainOf(poolKey(ref.kind, claim.metadata.namespace, ref.name));
    // The given allocation only: another address of the claim may be the one its IPAddress carries. Strays are
    // the sweep's.
    const known = this.book.claimAddress(uid);
    const address = allocation ? tryParseAddress(allocation.address) : known?.address;
    const addresses = address ? [address] : [];
    const grace = model?.graceSeconds ?? 0;
    // Without a record of the claim its IPAddress held the address, and is gone. A record the caches do not show yet
    // (another replica's write) is the sweep's once the API shows its claim gone.
    for (const address of addresses) {
      const target = this.book.reservationAt(domain, address);
      if (target?.claimUid === uid) await this.releaseReservation(target, grace, signal);
    }
  }

  /**
   * Before the claim's IPAddress goes: a pool with a grace period keeps the address past it, released, in the ledger
   * (the IPAddress was its only holder). A reservation of an older release holds it already.
   */
  private async retain(claim: IPAddressClaim, pool: PoolObject | undefined, allocation: Allocation | undefined) {
    const model = pool && this.models.of(pool);
    const address = tryParseAddress(allocation?.address);
    if (!model || !address || model.graceSeconds <= 0) return;
    const held = this.book.reservationAt(model.domain, address);
    if (held && !held.ledger) return;
    const entry = await this.committer(model.domain).submit({
      type: 'release',
      address: formatAddress(address),
      entry: this.entryFor(claim, model),
      at: metaTime(new Date()),
    });
    if (entry) this.book.observeReservation(entryInfo(model.domain, address, entry));
  }

  /**
   * Grace periods that ended, and reservations whose claim is gone without an IPAddress (a claim force-deleted
   * between its reservation and its IPAddress): deleted or released. `pool` is undefined if it no longer exists.
   * Returns when to look again, in ms, if something is still waiting for its time.
   *
   * The pool's reservations are read only when something may be due: a released reservation's grace period may
   * have ended, or a reservation may have gone stale (one became old enough, or an IPAddress or claim of the pool
   * went away); stale checks at most every staleAfterMs/2. So the pool upkeep, which runs on every allocation,
   * costs O(1) per claim, not O(claims).
   */
  async sweep(key: string, pool: PoolObject | undefined, signal: AbortSignal): Promise<number | undefined> {
    const now = Date.now();
    const gone = pool === undefined || pool.metadata.deletionTimestamp !== undefined;
    const interval = this.staleAfterMs / 2;
    const last = this.lastScan.get(key) ?? -Infinity;
    const releaseDue = this.releaseDue.get(key) ?? Infinity;
    const staleDue = Math.max(this.staleDue.get(key) ?? Infinity, last + interval);
    const scanStale = gone || staleDue <= now;
    if (!scanStale && releaseDue > now) {
      const next = Math.min(releaseDue, staleDue);
      return next === Infinity ? undefined : Math.max(1, next - now);
    }
    const grace = pool ? this.models.of(pool).graceSeconds : 0;
    this.releaseDue.delete(key);
    if (scanStale) {
      this.staleDue.delete(key);
      this.lastScan.set(key, now);
    }
    try {
      await this.sweepRecords(key, gone, grace, scanStale, now, interval, signal);
    } catch (err) {
      // What this pass did not finish is looked at again by the retry: no event may bring it back.
      this.due(this.releaseDue, key, now);
      if (scanStale) this.due(this.staleDue, key, now);
      throw err;
    }
    const next = Math.min(
      this.releaseDue.get(key) ?? Infinity,
      Math.max(this.staleDue.get(key) ?? Infinity, now + interval),
    );
    return next === Infinity ? undefined : Math.max(1, next - now);
  }

  /** One pass of the sweep over the pool's records (reservations and ledger entries). */
  private async sweepRecords(
    key: string,
    gone: boolean,
    grace: number,
    scanStale: boolean,
    now: number,
    interval: number,
    signal: AbortSignal,
  ): Promise<void> {
    const tidy = new Set<AddressDomain>();
    for (const info of [...this.book.reservationsOf(key)]) {
      if (info.releasedAt !== undefined) {
        const due = gone ? now : (info.releaseSeenAt ?? now) + grace * 1000;
        if (due <= now) await this.deleteReservation(info, signal);
        else this.due(this.releaseDue, key, due);
        continue;
      }
      if (!scanStale) continue;
      const ripe = (info.seenAt ?? now) + this.staleAfterMs;
      if (ripe > now) this.due(this.staleDue, key, ripe);
      else if (info.ledger && this.seenInIPAddress(info.domain, formatAddress(info.address), this.ledgerEntry(info))) {
        // No allocation wrote the ledger since: the entry goes now, so that the ledger is empty at rest.
        tidy.add(info.domain);
      } else if (this.isStale(info) && (await this.isStaleLive(info, signal))) {
        this.log.info(
          { address: formatAddress(info.address), claim: `${info.claimNamespace}/${info.claimName}` },
          'releasing a reservation whose claim has no IPAddress for it',
        );
        await this.releaseReservation(info, gone ? 0 : grace, signal);
      } else if (!this.carriedByItsIPAddress(info)) {
        // In flight, or not stale yet as the caches or the API show it (a replica's stray whose claim's IPAddress
        // is still on its way): looked at again, since no event may come for it.
        this.due(this.staleDue, key, now + interval);
      }
    }
    for (const domain of tidy) await this.committer(domain).submit({ type: 'tidy' });
  }

  /** The claims waiting in the pools of the domain that hold the address, if nothing holds it now. */
  private waitingFor(domain: AddressDomain, address: Address | undefined): IPAddressClaim[] {
    if (!address || this.book.isTaken(domain, address)) return [];
    return this.book.poolsContaining(domain, address).flatMap((k) => this.waitingClaims(k));
  }

  /** Claims of the pool that are still waiting for an address. */
  waitingClaims(key: string): IPAddressClaim[] {
    return this.claims.byIndex(Index.pool, key).filter((c) => !c.status?.addressRef?.name);
  }

  /**
   * How many addresses of `set` are held in `domain` by pools other than `ownPools` (pool names as the claim's
   * poolRef gives them, `InClusterIPPool/<ns>/<name>`): what a ClusterIPAMClaim's capacity check must subtract.
   */
  takenByOthers(domain: AddressDomain, set: IntervalSet, ownPools: readonly string[]): bigint {
    return this.book.takenIn(domain, set, ownPools);
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

  /** The ledger entry of an address for the claim. */
  private entryFor(claim: IPAddressClaim, model: PoolModel): IPAddressLedgerEntry {
    const [kind, namespace, ...name] = model.key.split('/');
    return {
      poolRef: { apiGroup: ipamGroup, kind: kind!, name: name.join('/'), ...(namespace ? { namespace } : {}) },
      claimRef: { namespace: claim.metadata.namespace!, name: claim.metadata.name!, uid: claim.metadata.uid! },
    };
  }

  /**
   * Takes an address for the claim in its domain's ledger: 'reserved' once the API server confirms the claim holds
   * it, 'taken' when someone else does. Throws when the outcome is unknown; the address then stays marked as this
   * claim's unconfirmed attempt, which the next reconcile retries first.
   */
  private async reserve(
    claim: IPAddressClaim,
    model: PoolModel,
    address: Address,
    signal: AbortSignal,
  ): Promise<'reserved' | 'taken'> {
    signal.throwIfAborted();
    const uid = claim.metadata.uid!;
    const { domain } = model;
    this.book.hold(domain, address, uid, model.key);
    let entry: IPAddressLedgerEntry | undefined;
    try {
      entry = await this.committer(domain).submit({
        type: 'reserve',
        address: formatAddress(address),
        entry: this.entryFor(claim, model),
      });
    } catch (err) {
      // Refused: nothing was written. Unknown outcome for a claim gone meanwhile (its delete event may have come
      // before this attempt was held): nobody will retry it, and an entry written would be the sweep's.
      if (refused(err) || !this.claims.byIndex(Index.uid, uid).length) this.book.abandon(domain, address, uid);
      throw err;
    }
    const info = entry && entryInfo(domain, address, entry);
    if (info && info.claimUid === uid && info.releasedAt === undefined && info.poolKey === model.key) {
      this.book.observeReservation(info);
      return 'reserved';
    }
    this.book.conflict(domain, address, uid);
    if (info) this.book.observeReservation(info);
    return 'taken';
  }

  /**
   * The claim already has an IPAddress (its own, or one it adopts after a move): make sure no manager can hand its
   * address out — an entry of the claim, or the ledger's fence raised to the IPAddress — never change the address.
   */
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
    const { domain } = model;
    let holder = this.book.reservationAt(domain, address);
    if (holder && holder.claimUid !== uid && this.isEarlierIncarnation(holder, claim)) {
      // Held for an earlier claim of this name that is gone (deleted without release): the address is this one's.
      await this.deleteReservation(holder, signal);
      holder = undefined;
    }
    if (holder && holder.claimUid !== uid) return this.duplicate(model, existing, holder);
    if (holder) return { allocated: existing };
    const self = `${claim.metadata.namespace}/${claim.metadata.name}`;
    const ipa = this.ipAddresses.get(self);
    // Another claim's IPAddress carrying the address, written before this one's, holds it (both managers of a
    // hand-over agree on which): this claim reports the duplicate, as one whose record came second.
    const elder = this.elderCarrier(domain, address, self, ipa);
    if (elder) return this.duplicate(model, existing, elder);
    const rv = ipa?.metadata.resourceVersion;
    if (!ipa || ipa.metadata.deletionTimestamp || !rv || !/^[0-9]+$/.test(rv)) {
      // Going (or not seen yet): the ledger holds the address for the claim until its own IPAddress is seen.
      if ((await this.reserve(claim, model, address, signal)) === 'reserved') return { allocated: existing };
      const other = this.book.reservationAt(domain, address);
      if (other && other.claimUid !== uid) return this.duplicate(model, existing, other);
      const carrier = this.book.ipAddressesAt(domain, address).find((k) => k !== self);
      if (carrier) return this.duplicate(model, existing, keyHolder(carrier));
      throw new Error(`${existing.address} is held in ${domainTitle(domain)} by a holder gone meanwhile; retrying`);
    }
    const committer = this.committer(domain);
    const fence = committer.latest()?.spec.fence;
    if (fence && atLeast(fence, rv)) return { allocated: existing };
    signal.throwIfAborted();
    const entry = await committer.submit({
      type: 'cover',
      address: formatAddress(address),
      claimUid: uid,
      resourceVersion: rv,
    });
    const other = entry && entryInfo(domain, address, entry);
    if (other && other.claimUid !== uid) return this.duplicate(model, existing, other);
    return { allocated: existing };
  }

  /** The committer of the domain's ledger. */
  private committer(domain: AddressDomain): LedgerCommitter {
    const name = ledgerName(domain);
    let c = this.committers.get(name);
    if (!c) {
      const blank = (): IPAddressLedger => ({
        apiVersion: ipAddressLedgerKind.apiVersion,
        kind: 'IPAddressLedger',
        metadata: { name },
        spec: { domain },
      });
      const store: LedgerStore = {
        cached: (n) => this.ledgers.get(n),
        get: (n) => unlessNotFound(this.ledgerClient.get({ name: n })),
        create: (l) => this.ledgerClient.create(l),
        patch: (n, patch) => this.ledgerClient.patch({ name: n }, patch),
        caughtUp: (fence) => this.ipAddresses.waitForResourceVersion(fence, fenceWaitMs),
        heldElsewhere: (text, claim) => this.heldElsewhere(domain, text, claim),
        prunable: (text, entry) => this.seenInIPAddress(domain, text, entry),
      };
      this.committers.set(name, (c = new LedgerCommitter(name, blank, store, (ops) => this.ledgerWrites.observe(ops))));
    }
    return c;
  }

  /**
   * Whether the address is held for another claim by what the ledger does not show: an IPAddress this manager sees
   * (its cache is current to the ledger's fence when this is asked), or a reservation of an older release. The
   * IPAddress of the claim's own name is the claim's (adopted, maybe with a moved one's stale owner references: a
   * foreign one is never allocated for).
   */
  private heldElsewhere(domain: AddressDomain, text: string, claim: IPAddressLedgerEntry['claimRef']): boolean {
    const address = tryParseAddress(text);
    if (!address) return true;
    const r = this.book.reservationAt(domain, address);
    if (r && !r.ledger && r.claimUid !== claim.uid) return true;
    return this.book.ipAddressesAt(domain, address).some((key) => key !== `${claim.namespace}/${claim.name}`);
  }

  /**
   * The resourceVersion of the claim's IPAddress once this manager sees it carrying the entry's address from the
   * entry's pool, not being deleted: the entry may then go, the IPAddress holds the address.
   */
  private seenInIPAddress(domain: AddressDomain, text: string, entry: IPAddressLedgerEntry): string | undefined {
    const { claimRef, poolRef } = entry;
    const ipa = this.ipAddresses.get(`${claimRef.namespace}/${claimRef.name}`);
    if (!ipa || ipa.metadata.deletionTimestamp) return undefined;
    if (!ipa.metadata.ownerReferences?.some((o) => o.controller && o.uid === claimRef.uid)) return undefined;
    const e = ipAddressEntry(ipa);
    const address = tryParseAddress(text);
    if (!e || !address || e.address.value !== address.value || e.address.family !== address.family) return undefined;
    if (e.poolKey !== poolKey(poolRef.kind, poolRef.namespace, poolRef.name)) return undefined;
    if (this.book.domainOf(e.poolKey) !== domain) return undefined;
    return ipa.metadata.resourceVersion;
  }

  /** The oldest IPAddress (other than `self`) carrying the address in the domain, if it is older than `ipa`. */
  private elderCarrier(
    domain: AddressDomain,
    address: Address,
    self: string,
    ipa: IPAddress | undefined,
  ): { claimNamespace: string; claimName: string } | undefined {
    const age = (o: IPAddress | undefined, key: string) => `${o?.metadata.creationTimestamp ?? '~'}|${key}`;
    const mine = age(ipa, self);
    const others = this.book
      .ipAddressesAt(domain, address)
      .filter((k) => k !== self)
      .map((k) => ({ k, age: age(this.ipAddresses.get(k), k) }))
      .filter((o) => o.age < mine)
      .sort((a, b) => (a.age < b.age ? -1 : 1));
    return others[0] && keyHolder(others[0].k);
  }

  /** A reservation of the claim's namespace and name whose claim (by uid) no longer exists. */
  private isEarlierIncarnation(holder: ReservationInfo, claim: IPAddressClaim): boolean {
    return (
      holder.claimNamespace === claim.metadata.namespace &&
      holder.claimName === claim.metadata.name &&
      this.claims.byIndex(Index.uid, holder.claimUid).length === 0
    );
  }

  private duplicate(
    model: PoolModel,
    existing: Allocation,
    holder: { claimNamespace: string; claimName: string },
  ): AllocateResult {
    return {
      failed: 'AllocationFailed',
      message:
        `duplicate address: the IPAddress of this claim carries ${existing.address}, which is reserved for ` +
        `IPAddressClaim ${holder.claimNamespace}/${holder.claimName} in ${domainTitle(model.domain)}; ` +
        'delete one of the two claims',
    };
  }

  private exhausted(model: PoolModel): AllocateResult {
    const total = model.pool!.usable.size;
    const released = [...this.book.reservationsOf(model.key)].filter((r) => r.releasedAt !== undefined);
    const own = this.book.holds(model.key).ipAddresses;
    let message = `no free address in ${poolTitle(model.key)}: all ${total} usable addresses are taken`;
    if (own < total) message += ` (${own} by its claims, the rest by overlapping pools or held after release)`;
    if (released.length > 0) {
      const first = released.reduce((t, r) => Math.min(t, r.releaseSeenAt ?? Date.now()), Infinity);
      const free = metaTime(new Date(first + model.graceSeconds * 1000));
      message += `; ${released.length} released addresses become free after the grace period of ${model.graceSeconds}s, the first at ${free}`;
    }
    return { failed: 'PoolExhausted', message };
  }

  private due(map: Map<string, number>, key: string, at: number): void {
    map.set(key, Math.min(map.get(key) ?? Infinity, at));
  }

  /** Whether the claim's IPAddress, as the cache shows it, carries the record's address. */
  private carriedByItsIPAddress(info: ReservationInfo): boolean {
    const ipa = this.ipAddresses.get(`${info.claimNamespace}/${info.claimName}`);
    return tryParseAddress(ipa?.spec.address)?.value === info.address.value;
  }

  /** Stale as the caches show it: cheap, so every reservation is looked at this way first. */
  private isStale(info: ReservationInfo): boolean {
    const claim = this.claims.byIndex(Index.uid, info.claimUid)[0];
    return staleGiven(info, claim, this.ipAddresses.get(`${info.claimNamespace}/${info.claimName}`));
  }

  /**
   * Stale as the API shows it. A cache that lags (under load a watch can be tens of seconds behind another) may not
   * show a claim or its IPAddress yet: releasing on its word would free a live claim's address for a second claim.
   */
  private async isStaleLive(info: ReservationInfo, signal: AbortSignal): Promise<boolean> {
    const key = { namespace: info.claimNamespace, name: info.claimName };
    const [claim, ipa] = await Promise.all([
      unlessNotFound(this.claimClient.get(key, { signal })),
      unlessNotFound(this.ipAddressClient.get(key, { signal })),
    ]);
    return staleGiven(info, claim?.metadata.uid === info.claimUid ? claim : undefined, ipa);
  }

  /** The ledger entry a book record of a ledger stands for. */
  private ledgerEntry(info: ReservationInfo): IPAddressLedgerEntry {
    const [kind, namespace, ...name] = info.poolKey.split('/');
    return {
      poolRef: { apiGroup: ipamGroup, kind: kind!, name: name.join('/'), ...(namespace ? { namespace } : {}) },
      claimRef: { namespace: info.claimNamespace, name: info.claimName, uid: info.claimUid },
      ...(info.releasedAt ? { releasedAt: info.releasedAt } : {}),
    };
  }

  private async releaseReservation(info: ReservationInfo, graceSeconds: number, signal: AbortSignal): Promise<void> {
    if (info.releasedAt !== undefined) return;
    if (graceSeconds <= 0) return this.deleteReservation(info, signal);
    if (info.ledger) {
      const address = formatAddress(info.address);
      const entry = this.ledgerEntry(info);
      signal.throwIfAborted();
      await this.committer(info.domain).submit({ type: 'release', address, entry, at: metaTime(new Date()) });
      return;
    }
    try {
      // The uid makes the patch fail (422, uid immutable) if the reservation was replaced meanwhile: that one is
      // someone else's and stays.
      await this.reservationClient.patch(
        { name: info.name },
        { metadata: { uid: info.uid }, spec: { releasedAt: metaTime(new Date()) } },
        { signal },
      );
    } catch (err) {
      if (!isNotFound(err) && !isUIDMismatch(err)) throw err;
    }
  }

  private async deleteReservation(info: ReservationInfo, signal: AbortSignal): Promise<void> {
    if (info.ledger) {
      signal.throwIfAborted();
      const address = formatAddress(info.address);
      await this.committer(info.domain).submit({ type: 'delete', address, claimUid: info.claimUid });
      return;
    }
    try {
      await this.reservationClient.delete({ name: info.name }, { preconditions: { uid: info.uid }, signal });
    } catch (err) {
      if (!isNotFound(err) && !isUIDMismatch(err)) throw err;
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
  if (!p) {
    providers.set(mgr, (p = new InClusterProvider(mgr, opts)));
    providerRegistry(mgr).register(p);
  }
  return p;
}
