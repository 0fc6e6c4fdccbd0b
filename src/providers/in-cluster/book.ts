// The in-cluster provider's in-memory view of which addresses are taken, per address domain (spec 03 §3.4), shared
// by every pool and every worker of one manager process. It only ever errs on the side of "taken". For picking it
// is an optimisation that makes most ledger writes take the address at the first try; the guarantee is the ledger's
// compare-and-swap (provider.ts, ledger.ts), for which the book answers one question: which IPAddresses carry an
// address (the IPAddress cache being current to the ledger's fence when it is asked).
//
// Within a domain, an address is taken while any of these holds:
// - a record of it exists, released or not (a "reservation" here): an entry of the domain's IPAddressLedger, or an
//   IPAddressReservation an older release wrote (the informers show it, or our own write just succeeded);
// - an IPAddress of a pool of the domain carries it (a bound claim's address is held by its IPAddress alone once the
//   ledger dropped its entry);
// - this process is writing its entry and does not know the outcome yet (`pending`);
// - a write of its entry found someone else's and the informer has not shown it yet (`conflict`).
// Pending and conflict marks that the informer never confirms are dropped after `staleMs`, at worst costing one more
// write; a claim's pending mark goes as soon as the claim tries another address or is deleted (its attempt will not
// be retried).
//
// A claim's address is only ever what a record of that claim (or its IPAddress) says: a pending mark is an attempt
// whose outcome is unknown (the write may or may not have happened), never an address to hand out.
//
// JS runs one reconcile at a time between awaits, so `pick` chooses and marks an address in one synchronous step:
// two workers of this process never try the same address.
import type { AddressDomain } from '../../api/index.ts';
import type { IntervalSet } from '../../core/index.ts';
import { Allocator, type Address, type Pool, type PoolCounts } from '../../core/index.ts';
import { addressKey, defaultDomainOfKey } from './names.ts';

/**
 * A record of an address for a claim that no IPAddress shows: an entry of the domain's IPAddressLedger (`ledger` names
 * it; `name` is `<ledger>/<address>`, `uid` its claim's), or an IPAddressReservation of an older release (its name
 * and uid).
 */
export interface ReservationInfo {
  name: string;
  uid: string;
  ledger?: string;
  address: Address;
  domain: AddressDomain;
  claimUid: string;
  claimNamespace: string;
  claimName: string;
  poolKey: string;
  releasedAt?: string;
  /**
   * Set by the book: when this process first saw the reservation, and first saw it released, by its own clock (ms).
   * The sweep measures ages from these, never from a time another host wrote (the API server's creationTimestamp,
   * another replica's releasedAt): clock skew cannot make it early, a restart only makes it later.
   */
  seenAt?: number;
  releaseSeenAt?: number;
}

interface Entry {
  readonly address: Address;
  readonly domain: AddressDomain;
  reservation?: ReservationInfo;
  /** IPAddress keys (`namespace/name`): almost always one, so an array (a Set costs ~10 times its memory). */
  ipAddresses: readonly string[];
  pending?: { claimUid: string; poolKey: string; at: number };
  conflictAt?: number;
}

interface PoolSlot {
  readonly pool: Pool;
  readonly version: string;
  readonly domain: AddressDomain;
  readonly alloc: Allocator;
}

/** What the book knows of a claim's reserved address. */
export interface ClaimAddress {
  address: Address;
  domain: AddressDomain;
  poolKey: string;
  /** The reservation was released (the claim is going away). */
  released: boolean;
}

export interface AddressBookOptions {
  now?: () => number;
  staleMs?: number;
}

const taken = (e: Entry): boolean =>
  e.reservation !== undefined || e.ipAddresses.length > 0 || e.pending !== undefined || e.conflictAt !== undefined;

const contains = (pool: Pool, a: Address): boolean => a.family === pool.family && pool.usable.has(a.value);

const claimSlot = (domain: AddressDomain, address: Address) => `${domain}|${addressKey(address)}`;

export class AddressBook {
  /** domain → address key → entry; only taken addresses have one. */
  private readonly domains = new Map<AddressDomain, Map<string, Entry>>();
  /** claim uid → `domain|address` of its reservation. */
  private readonly claims = new Map<string, string>();
  /** claim uid → the attempt whose outcome is unknown. */
  private readonly attempts = new Map<string, { domain: AddressDomain; address: Address; poolKey: string }>();
  private readonly pools = new Map<string, PoolSlot>();
  /** Pool key → its domain, for every pool object seen (valid or not). */
  private readonly poolDomains = new Map<string, AddressDomain>();
  private readonly poolsByDomain = new Map<AddressDomain, Set<string>>();
  /** IPAddress key → where it counts. */
  private readonly ipas = new Map<string, { poolKey: string; address: Address; domain: AddressDomain }>();
  private readonly ipasByPool = new Map<string, Set<string>>();
  /** Pool key → its IPAddresses outside its usable set (kept while the pool has an allocator). */
  private readonly outside = new Map<string, Set<string>>();
  /** Pool key → its reservations by name (the pool reconciler's counts and sweep read these, never a list). */
  private readonly reservationsByPool = new Map<string, Map<string, ReservationInfo>>();
  private readonly now: () => number;
  private readonly staleMs: number;
  private readonly countListeners: ((poolKeys: readonly string[]) => void)[] = [];

  constructor(opts: AddressBookOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.staleMs = opts.staleMs ?? 60_000;
  }

  // --- fed by the informers -------------------------------------------------------------------------------------

  observeReservation(r: ReservationInfo): void {
    const before = this.domains.get(r.domain)?.get(addressKey(r.address))?.reservation;
    const same = before?.uid === r.uid ? before : undefined;
    r.seenAt ??= same?.seenAt ?? this.now();
    if (r.releasedAt !== undefined) r.releaseSeenAt ??= same?.releaseSeenAt ?? this.now();
    let mine = this.reservationsByPool.get(r.poolKey);
    if (!mine) this.reservationsByPool.set(r.poolKey, (mine = new Map()));
    mine.set(r.name, r);
    this.change(r.domain, r.address, (e) => {
      const old = e.reservation;
      if (old && old.claimUid !== r.claimUid) this.unmapClaim(old.claimUid, claimSlot(r.domain, r.address));
      e.reservation = r;
      this.claims.set(r.claimUid, claimSlot(r.domain, r.address));
      if (e.pending?.claimUid === r.claimUid) e.pending = undefined;
      e.conflictAt = undefined;
    });
    const attempt = this.attempts.get(r.claimUid);
    if (attempt && attempt.domain === r.domain && attempt.address.value === r.address.value) {
      this.attempts.delete(r.claimUid);
    }
  }

  forgetReservation(r: ReservationInfo): void {
    const mine = this.reservationsByPool.get(r.poolKey);
    if (mine?.get(r.name)?.uid === r.uid) {
      mine.delete(r.name);
      if (mine.size === 0) this.reservationsByPool.delete(r.poolKey);
    }
    this.change(r.domain, r.address, (e) => {
      if (e.reservation?.uid !== r.uid) return; // a newer reservation of the same address is already known
      e.reservation = undefined;
      this.unmapClaim(r.claimUid, claimSlot(r.domain, r.address));
    });
  }

  /** An in-cluster IPAddress (key `namespace/name`) of the pool `poolKey` carries `address`. */
  observeIPAddress(key: string, poolKey: string, address: Address): void {
    const before = this.ipas.get(key);
    if (before?.poolKey === poolKey && before.address.value === address.value) return;
    if (before) this.forgetIPAddress(key);
    const domain = this.domainOf(poolKey);
    this.ipas.set(key, { poolKey, address, domain });
    let keys = this.ipasByPool.get(poolKey);
    if (!keys) this.ipasByPool.set(poolKey, (keys = new Set()));
    keys.add(key);
    const pool = this.pools.get(poolKey)?.pool;
    if (pool && !contains(pool, address)) this.outside.get(poolKey)?.add(key);
    this.change(domain, address, (e) => {
      if (!e.ipAddresses.includes(key)) e.ipAddresses = [...e.ipAddresses, key];
    });
  }

  forgetIPAddress(key: string): void {
    const ipa = this.ipas.get(key);
    if (!ipa) return;
    this.ipas.delete(key);
    const keys = this.ipasByPool.get(ipa.poolKey);
    keys?.delete(key);
    if (keys?.size === 0) this.ipasByPool.delete(ipa.poolKey);
    this.outside.get(ipa.poolKey)?.delete(key);
    this.change(ipa.domain, ipa.address, (e) => (e.ipAddresses = e.ipAddresses.filter((k) => k !== key)));
  }

  /** The pool's domain (its IPAddresses count there); called for every pool object seen, valid or not. */
  setPoolDomain(poolKey: string, domain: AddressDomain): void {
    const before = this.domainOf(poolKey);
    this.poolDomains.set(poolKey, domain);
    if (before === domain) return;
    const slot = this.pools.get(poolKey);
    this.dropPool(poolKey);
    for (const key of [...(this.ipasByPool.get(poolKey) ?? [])]) {
      const ipa = this.ipas.get(key)!;
      this.forgetIPAddress(key);
      this.observeIPAddress(key, poolKey, ipa.address);
    }
    if (slot) this.syncPool(poolKey, slot.pool, slot.version, domain);
  }

  /** Keeps the pool's allocator current; `version` changes whenever the usable set may have. */
  syncPool(key: string, pool: Pool, version: string, domain: AddressDomain): void {
    if (this.domainOf(key) !== domain) this.setPoolDomain(key, domain);
    const slot = this.pools.get(key);
    if (slot?.version === version) return;
    const inUse: Address[] = [];
    for (const e of this.entriesOf(domain)) if (contains(pool, e.address)) inUse.push(e.address);
    this.pools.set(key, { pool, version, domain, alloc: new Allocator(pool.usable, inUse) });
    const outside = new Set<string>();
    for (const k of this.ipasByPool.get(key) ?? []) if (!contains(pool, this.ipas.get(k)!.address)) outside.add(k);
    this.outside.set(key, outside);
    let keys = this.poolsByDomain.get(domain);
    if (!keys) this.poolsByDomain.set(domain, (keys = new Set()));
    keys.add(key);
  }

  /** The pool cannot allocate (invalid spec): no allocator, but its IPAddresses still count in its domain. */
  dropPool(key: string): void {
    const slot = this.pools.get(key);
    if (!slot) return;
    this.pools.delete(key);
    this.outside.delete(key);
    this.poolsByDomain.get(slot.domain)?.delete(key);
  }

  /** The pool object is gone: its IPAddresses (if any remain) count in the default domain of its key. */
  removePool(key: string): void {
    this.dropPool(key);
    const fallback = defaultDomainOfKey(key);
    if (this.domainOf(key) !== fallback) this.setPoolDomain(key, fallback);
    this.poolDomains.delete(key);
  }

  /**
   * Calls `listener` with the pools whose counts changed, whatever changed them: an object seen, or a mark of this
   * process (an attempt held or given up, a 409 noted, a stale mark swept) that no object event would report.
   */
  onCountsChange(listener: (poolKeys: readonly string[]) => void): void {
    this.countListeners.push(listener);
  }

  domainOf(poolKey: string): AddressDomain {
    return this.poolDomains.get(poolKey) ?? defaultDomainOfKey(poolKey);
  }

  // --- allocation -----------------------------------------------------------------------------------------------

  /** Chooses the pool's lowest free address and marks it pending for the claim; undefined when none is free. */
  pick(poolKey: string, claimUid: string): Address | undefined {
    const slot = this.pools.get(poolKey);
    if (!slot) throw new Error(`pool ${poolKey} is not in the address book`);
    let address = slot.alloc.allocate();
    if (address === undefined && this.sweep(slot)) address = slot.alloc.allocate();
    if (address === undefined) return undefined;
    // allocate() took it in this pool; change() propagates to the domain's other pools.
    slot.alloc.release(address);
    this.hold(slot.domain, address, claimUid, poolKey);
    return address;
  }

  /**
   * Marks a specific address pending for the claim (an attempt is about to create its reservation). A claim has one
   * attempt at a time: one it no longer retries stops holding its address (at worst a later create there gets 409).
   */
  hold(domain: AddressDomain, address: Address, claimUid: string, poolKey: string): void {
    const previous = this.attempts.get(claimUid);
    if (previous && (previous.domain !== domain || previous.address.value !== address.value)) {
      this.forgetAttempt(claimUid);
    }
    this.change(domain, address, (e) => (e.pending = { claimUid, poolKey, at: this.now() }));
    this.attempts.set(claimUid, { domain, address, poolKey });
  }

  /** The claim is gone: its attempt, whatever its outcome, no longer holds the address (a reservation made does). */
  forgetAttempt(claimUid: string): void {
    const attempt = this.attempts.get(claimUid);
    if (attempt) this.abandon(attempt.domain, attempt.address, claimUid);
  }

  /** The claim's last attempt whose outcome is unknown (its create failed without an answer): try it first. */
  attemptOf(claimUid: string): { domain: AddressDomain; address: Address; poolKey: string } | undefined {
    return this.attempts.get(claimUid);
  }

  /** The create of the address's reservation failed with AlreadyExists: someone (maybe this claim) has it. */
  conflict(domain: AddressDomain, address: Address, claimUid: string): void {
    this.change(domain, address, (e) => {
      if (e.pending?.claimUid === claimUid) e.pending = undefined;
      if (!e.reservation) e.conflictAt = this.now();
    });
    this.dropAttempt(claimUid, domain, address);
  }

  /** The create was refused (not a 409): no reservation was made, the address is free as far as we know. */
  abandon(domain: AddressDomain, address: Address, claimUid: string): void {
    this.change(domain, address, (e) => {
      if (e.pending?.claimUid === claimUid) e.pending = undefined;
    });
    this.dropAttempt(claimUid, domain, address);
  }

  // --- queries --------------------------------------------------------------------------------------------------

  /** The claim's reservation, if this process knows one. Pending attempts are not addresses. */
  claimAddress(claimUid: string): ClaimAddress | undefined {
    const slot = this.claims.get(claimUid);
    if (slot === undefined) return undefined;
    const [domain, ...rest] = slot.split('|');
    const e = this.domains.get(domain!)?.get(rest.join('|'));
    const r = e?.reservation;
    if (!e || r?.claimUid !== claimUid) return undefined;
    return { address: e.address, domain: e.domain, poolKey: r.poolKey, released: r.releasedAt !== undefined };
  }

  reservationAt(domain: AddressDomain, address: Address): ReservationInfo | undefined {
    return this.domains.get(domain)?.get(addressKey(address))?.reservation;
  }

  /** Keys (`namespace/name`) of the in-cluster IPAddresses of the domain that carry the address. */
  ipAddressesAt(domain: AddressDomain, address: Address): string[] {
    return [...(this.domains.get(domain)?.get(addressKey(address))?.ipAddresses ?? [])];
  }

  isTaken(domain: AddressDomain, address: Address): boolean {
    const e = this.domains.get(domain)?.get(addressKey(address));
    return e !== undefined && taken(e);
  }

  /** Pools of the domain whose usable set holds the address. */
  poolsContaining(domain: AddressDomain, address: Address): string[] {
    return [...(this.poolsByDomain.get(domain) ?? [])].filter((key) => {
      const pool = this.pools.get(key)!.pool;
      return pool.family === address.family && pool.usable.has(address.value);
    });
  }

  /**
   * Total, used (by any holder of the domain) and free usable addresses of the pool, and its own IPAddresses
   * outside the usable set; undefined if the pool has no allocator (invalid, or not seen yet). O(1).
   */
  counts(poolKey: string): PoolCounts | undefined {
    const c = this.pools.get(poolKey)?.alloc.counts();
    return c && { ...c, outOfRange: BigInt(this.outside.get(poolKey)?.size ?? 0) };
  }

  /** How many IPAddresses and reservations reference the pool. O(1). */
  holds(poolKey: string): { ipAddresses: number; reservations: number } {
    return {
      ipAddresses: this.ipasByPool.get(poolKey)?.size ?? 0,
      reservations: this.reservationsByPool.get(poolKey)?.size ?? 0,
    };
  }

  /** Addresses held from the pool: its IPAddresses' and its unreleased reservations' (what a shrink would strand). */
  heldBy(poolKey: string): Address[] {
    const held = new Map<string, Address>();
    for (const k of this.ipasByPool.get(poolKey) ?? []) {
      const a = this.ipas.get(k)!.address;
      held.set(addressKey(a), a);
    }
    for (const r of this.reservationsOf(poolKey))
      if (r.releasedAt === undefined) held.set(addressKey(r.address), r.address);
    return [...held.values()];
  }

  /** The pool's reservations, as last seen. */
  reservationsOf(poolKey: string): Iterable<ReservationInfo> {
    return this.reservationsByPool.get(poolKey)?.values() ?? [];
  }

  /** Addresses of `set` taken in `domain` by holders other than the pools `except`. */
  takenIn(domain: AddressDomain, set: IntervalSet, except: readonly string[]): bigint {
    let n = 0n;
    for (const e of this.entriesOf(domain)) {
      if (e.address.family !== set.family || !set.has(e.address.value)) continue;
      const holders = [
        e.reservation?.poolKey,
        e.pending?.poolKey,
        ...e.ipAddresses.map((k) => this.ipas.get(k)?.poolKey),
      ].filter((k): k is string => k !== undefined);
      if (holders.length === 0 || holders.some((k) => !except.includes(k))) n++;
    }
    return n;
  }

  // --- internals ------------------------------------------------------------------------------------------------

  private entriesOf(domain: AddressDomain): Iterable<Entry> {
    return this.domains.get(domain)?.values() ?? [];
  }

  private change(domain: AddressDomain, address: Address, edit: (e: Entry) => void): void {
    const k = addressKey(address);
    let entries = this.domains.get(domain);
    let e = entries?.get(k);
    const before = e !== undefined && taken(e);
    if (!e) e = { address, domain, ipAddresses: [] };
    edit(e);
    const after = taken(e);
    if (after) {
      if (!entries) this.domains.set(domain, (entries = new Map()));
      entries.set(k, e);
    } else if (entries) {
      entries.delete(k);
      if (entries.size === 0) this.domains.delete(domain);
    }
    if (before !== after) this.propagate(e, after);
  }

  private propagate(e: Entry, isTaken: boolean): void {
    const changed: string[] = [];
    for (const key of this.poolsByDomain.get(e.domain) ?? []) {
      const { pool, alloc } = this.pools.get(key)!;
      if (e.address.family !== pool.family || !pool.usable.has(e.address.value)) continue;
      if (!isTaken) alloc.release(e.address);
      else if (!alloc.isInUse(e.address)) alloc.allocateAddress(e.address);
      changed.push(key);
    }
    if (changed.length > 0) for (const listener of this.countListeners) listener(changed);
  }

  private unmapClaim(claimUid: string, slot: string): void {
    if (this.claims.get(claimUid) === slot) this.claims.delete(claimUid);
  }

  private dropAttempt(claimUid: string, domain: AddressDomain, address: Address): void {
    const a = this.attempts.get(claimUid);
    if (a && a.domain === domain && a.address.value === address.value) this.attempts.delete(claimUid);
  }

  /** Drops unconfirmed marks older than staleMs inside the pool; true if any address became free. */
  private sweep(slot: PoolSlot): boolean {
    const cutoff = this.now() - this.staleMs;
    const { pool, domain } = slot;
    const stale = [...this.entriesOf(domain)].filter(
      (e) =>
        e.address.family === pool.family &&
        pool.usable.has(e.address.value) &&
        ((e.pending && e.pending.at <= cutoff) || (e.conflictAt !== undefined && e.conflictAt <= cutoff)),
    );
    for (const s of stale) {
      this.change(domain, s.address, (e) => {
        if (e.pending && e.pending.at <= cutoff) {
          this.dropAttempt(e.pending.claimUid, domain, e.address);
          e.pending = undefined;
        }
        if (e.conflictAt !== undefined && e.conflictAt <= cutoff) e.conflictAt = undefined;
      });
    }
    return stale.some((s) => !this.isTaken(domain, s.address));
  }
}
