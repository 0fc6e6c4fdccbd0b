// The in-cluster provider's in-memory view of which addresses are taken, shared by every pool and every worker of
// one manager process. It only ever errs on the side of "taken": it is an optimisation that makes most creates of
// a reservation succeed at the first try, never the guarantee (that is the API server refusing a second
// reservation of one name, see provider.ts).
//
// An address is taken while any of these holds:
// - a reservation object for it exists (the reservation informer shows it), released or not;
// - an IPAddress of an in-cluster pool carries it (covers IPAddresses that predate their reservation, e.g. written
//   by the reference provider, until the claim reconciler adopts them);
// - this process is creating its reservation and the informer has not shown it yet (`pending`);
// - a create of its reservation failed with AlreadyExists and the informer has not shown it yet (`conflict`).
// Pending and conflict marks that the informer never confirms (a reservation created and deleted between two
// relists) are dropped after `staleMs`, at worst costing one more 409.
//
// JS runs one reconcile at a time between awaits, so `pick` chooses and marks an address in one synchronous step:
// two workers of this process never try the same address.
import { Allocator, type Address, type Pool } from '../../core/index.ts';
import { addressKey } from './names.ts';

export interface ReservationInfo {
  name: string;
  uid: string;
  address: Address;
  claimUid: string;
  claimNamespace: string;
  claimName: string;
  poolKey: string;
  releasedAt?: string;
}

interface Entry {
  readonly address: Address;
  reservation?: ReservationInfo;
  readonly ipAddresses: Set<string>;
  pending?: { claimUid: string; poolKey: string; at: number };
  conflictAt?: number;
}

interface PoolSlot {
  readonly pool: Pool;
  readonly version: string;
  readonly alloc: Allocator;
}

/** What the book knows of a claim's address. */
export interface ClaimAddress {
  address: Address;
  poolKey: string;
  /** Created by this process, not yet seen by the informer. */
  pending: boolean;
  /** The reservation exists and was released (the claim is going away). */
  released: boolean;
}

export interface AddressBookOptions {
  now?: () => number;
  staleMs?: number;
}

const taken = (e: Entry): boolean =>
  e.reservation !== undefined || e.ipAddresses.size > 0 || e.pending !== undefined || e.conflictAt !== undefined;

export class AddressBook {
  private readonly entries = new Map<string, Entry>();
  /** claim uid → key of its reservation (seen or pending). */
  private readonly claims = new Map<string, string>();
  private readonly pools = new Map<string, PoolSlot>();
  private readonly now: () => number;
  private readonly staleMs: number;

  constructor(opts: AddressBookOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.staleMs = opts.staleMs ?? 60_000;
  }

  // --- fed by the informers -------------------------------------------------------------------------------------

  observeReservation(r: ReservationInfo): void {
    this.change(r.address, (e) => {
      const old = e.reservation;
      if (old && old.claimUid !== r.claimUid) this.unmapClaim(old.claimUid, addressKey(r.address));
      e.reservation = r;
      this.claims.set(r.claimUid, addressKey(r.address));
      if (e.pending?.claimUid === r.claimUid) e.pending = undefined;
      e.conflictAt = undefined;
    });
  }

  forgetReservation(r: ReservationInfo): void {
    this.change(r.address, (e) => {
      if (e.reservation?.uid !== r.uid) return; // a newer reservation of the same address is already known
      e.reservation = undefined;
      this.unmapClaim(r.claimUid, addressKey(r.address));
    });
  }

  observeIPAddress(key: string, address: Address): void {
    this.change(address, (e) => e.ipAddresses.add(key));
  }

  forgetIPAddress(key: string, address: Address): void {
    this.change(address, (e) => e.ipAddresses.delete(key));
  }

  /** Keeps the pool's allocator current; `version` changes whenever the usable set may have. */
  syncPool(key: string, pool: Pool, version: string): void {
    if (this.pools.get(key)?.version === version) return;
    const inUse: Address[] = [];
    for (const e of this.entries.values()) {
      if (e.address.family === pool.family && pool.usable.has(e.address.value) && taken(e)) inUse.push(e.address);
    }
    this.pools.set(key, { pool, version, alloc: new Allocator(pool.usable, inUse) });
  }

  dropPool(key: string): void {
    this.pools.delete(key);
  }

  hasPool(key: string, version: string): boolean {
    return this.pools.get(key)?.version === version;
  }

  // --- allocation -----------------------------------------------------------------------------------------------

  /** Chooses the pool's lowest free address and marks it pending for the claim; undefined when none is free. */
  pick(poolKey: string, claimUid: string): Address | undefined {
    const slot = this.pools.get(poolKey);
    if (!slot) throw new Error(`pool ${poolKey} is not in the address book`);
    let address = slot.alloc.allocate();
    if (address === undefined && this.sweep(slot.pool)) address = slot.alloc.allocate();
    if (address === undefined) return undefined;
    const k = addressKey(address);
    let e = this.entries.get(k);
    if (!e) this.entries.set(k, (e = { address, ipAddresses: new Set() }));
    e.pending = { claimUid, poolKey, at: this.now() };
    this.claims.set(claimUid, k);
    this.propagate(e, true, poolKey);
    return address;
  }

  /** Marks a specific address pending for the claim (adopting an IPAddress that has no reservation yet). */
  hold(address: Address, claimUid: string, poolKey: string): void {
    this.change(address, (e) => {
      e.pending = { claimUid, poolKey, at: this.now() };
      this.claims.set(claimUid, addressKey(address));
    });
  }

  /** The create of the address's reservation failed with AlreadyExists: someone has it. */
  conflict(address: Address, claimUid: string): void {
    this.change(address, (e) => {
      if (e.pending?.claimUid === claimUid) e.pending = undefined;
      if (!e.reservation) e.conflictAt = this.now();
      this.unmapClaim(claimUid, addressKey(address));
    });
  }

  /** The create failed for another reason: the address is free again as far as this process knows. */
  abandon(address: Address, claimUid: string): void {
    this.change(address, (e) => {
      if (e.pending?.claimUid !== claimUid) return;
      e.pending = undefined;
      this.unmapClaim(claimUid, addressKey(address));
    });
  }

  // --- queries --------------------------------------------------------------------------------------------------

  /** The claim's reservation (seen or pending), if this process knows one. */
  claimAddress(claimUid: string): ClaimAddress | undefined {
    const k = this.claims.get(claimUid);
    const e = k === undefined ? undefined : this.entries.get(k);
    if (!e) return undefined;
    if (e.reservation?.claimUid === claimUid) {
      const r = e.reservation;
      return { address: e.address, poolKey: r.poolKey, pending: false, released: r.releasedAt !== undefined };
    }
    if (e.pending?.claimUid === claimUid) {
      return { address: e.address, poolKey: e.pending.poolKey, pending: true, released: false };
    }
    return undefined;
  }

  reservationAt(address: Address): ReservationInfo | undefined {
    return this.entries.get(addressKey(address))?.reservation;
  }

  /** Keys (`namespace/name`) of the in-cluster IPAddresses that carry the address. */
  ipAddressesAt(address: Address): string[] {
    return [...(this.entries.get(addressKey(address))?.ipAddresses ?? [])];
  }

  isTaken(address: Address): boolean {
    const e = this.entries.get(addressKey(address));
    return e !== undefined && taken(e);
  }

  /** Pools whose usable set holds the address. */
  poolsContaining(address: Address): string[] {
    const keys: string[] = [];
    for (const [key, slot] of this.pools) {
      if (slot.pool.family === address.family && slot.pool.usable.has(address.value)) keys.push(key);
    }
    return keys;
  }

  /** Usable addresses of the pool that nobody holds. */
  freeCount(poolKey: string): bigint | undefined {
    return this.pools.get(poolKey)?.alloc.counts().free;
  }

  // --- internals ------------------------------------------------------------------------------------------------

  private change(address: Address, edit: (e: Entry) => void): void {
    const k = addressKey(address);
    let e = this.entries.get(k);
    if (!e) e = { address, ipAddresses: new Set() };
    const before = this.entries.has(k) && taken(e);
    edit(e);
    const after = taken(e);
    if (after) this.entries.set(k, e);
    else this.entries.delete(k);
    if (before !== after) this.propagate(e, after);
  }

  private propagate(e: Entry, isTaken: boolean, except?: string): void {
    for (const [key, slot] of this.pools) {
      const { family, usable } = slot.pool;
      if (key === except || e.address.family !== family || !usable.has(e.address.value)) continue;
      if (!isTaken) slot.alloc.release(e.address);
      else if (!slot.alloc.isInUse(e.address)) slot.alloc.allocateAddress(e.address);
    }
  }

  private unmapClaim(claimUid: string, k: string): void {
    if (this.claims.get(claimUid) === k) this.claims.delete(claimUid);
  }

  /** Drops unconfirmed marks older than staleMs inside the pool; true if any address became free. */
  private sweep(pool: Pool): boolean {
    const cutoff = this.now() - this.staleMs;
    const stale = [...this.entries.values()].filter(
      (e) =>
        e.address.family === pool.family &&
        pool.usable.has(e.address.value) &&
        ((e.pending && e.pending.at <= cutoff) || (e.conflictAt !== undefined && e.conflictAt <= cutoff)),
    );
    for (const s of stale) {
      this.change(s.address, (e) => {
        if (e.pending && e.pending.at <= cutoff) {
          this.unmapClaim(e.pending.claimUid, addressKey(e.address));
          e.pending = undefined;
        }
        if (e.conflictAt !== undefined && e.conflictAt <= cutoff) e.conflictAt = undefined;
      });
    }
    return stale.some((s) => !this.isTaken(s.address));
  }
}
