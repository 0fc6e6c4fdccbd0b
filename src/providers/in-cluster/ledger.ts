// Writes to an address domain's IPAddressLedger (src/api/ledger.ts): one committer per ledger, so the claims taking
// addresses at the same time share one write.
//
// Each write is a JSON merge patch carrying the resourceVersion its decisions were made on: the API server applies it
// only if the ledger has not changed since (else 409 Conflict), and all of it or nothing. So:
// - an entry is added only where the ledger, as the API server holds it, has none: never two holders in flight;
// - an address the ledger does not show may still be held by an IPAddress whose entry was dropped: the ledger's
//   `fence` is the newest resourceVersion of such an IPAddress, and nothing is decided on a ledger until this
//   manager's IPAddress cache is current to it (`caughtUp`), so the book then shows every IPAddress the ledger
//   stopped showing (`heldElsewhere`);
// - on 409 the ledger is read again and every operation decided again;
// - when the outcome is unknown (timeout, 5xx, a dropped connection) the ledger is read again: the entry is there
//   (the write happened) or not (it did not, and goes in the next write); if the read fails too, the callers get the
//   error and retry the same address later;
// - a ledger that does not exist yet is created with the batch's entries (409 AlreadyExists: read it, patch it).
// Every write also drops the entries whose IPAddress this manager has seen (`prunable`), and raises the fence to it,
// so the ledger holds what is in flight, not every address in use: a write costs the API server the same at 10 or
// 10,000 claims. While a write is in flight, new operations queue; the next write carries all of them.
import { ledgerMaxEntries, type IPAddressLedger, type IPAddressLedgerEntry } from '../../api/index.ts';
import { isAlreadyExists, isApiError, isConflict, isNotFound } from '../../kube/index.ts';
import { atLeast } from '../overlay.ts';

export type LedgerOp =
  /** Add the entry unless the address has one or is held elsewhere (answered: the entry there, if any). */
  | { type: 'reserve'; address: string; entry: IPAddressLedgerEntry }
  /** Mark the claim's entry released, adding it if there is none (the claim's IPAddress still holds the address). */
  | { type: 'release'; address: string; entry: IPAddressLedgerEntry; at: string }
  /** Remove the claim's entry, if the ledger shows one. */
  | { type: 'delete'; address: string; claimUid: string }
  /**
   * The claim's IPAddress, of this resourceVersion, holds the address without an entry (adopted, moved): raise the
   * fence to it, so that no manager decides on this ledger without seeing it. Answered: another claim's entry there.
   */
  | { type: 'cover'; address: string; claimUid: string; resourceVersion: string }
  /** Nothing but the drop of the entries whose IPAddress is seen (a write only if there are some). */
  | { type: 'tidy' };

/** What the committer needs of the API server, the informers and the address book. */
export interface LedgerStore {
  /** The informer's copy (possibly behind), without a request. */
  cached(name: string): IPAddressLedger | undefined;
  get(name: string): Promise<IPAddressLedger | undefined>;
  create(ledger: IPAddressLedger): Promise<IPAddressLedger>;
  patch(name: string, patch: unknown): Promise<IPAddressLedger>;
  /** Waits until the IPAddress cache is current to the fence; false if it does not get there in time. */
  caughtUp(fence: string): Promise<boolean>;
  /** Whether something else (an IPAddress of another claim, a reservation) holds the address for another claim. */
  heldElsewhere(address: string, claim: IPAddressLedgerEntry['claimRef']): boolean;
  /** The resourceVersion of the entry's IPAddress once this manager has seen it; undefined while not. */
  prunable(address: string, entry: IPAddressLedgerEntry): string | undefined;
}

/** A write refused outright (it changed nothing); anything else — timeout, 5xx, 429, a dropped connection — may have. */
export const refused = (err: unknown): boolean =>
  isApiError(err) && err.statusCode >= 400 && err.statusCode < 500 && err.statusCode !== 408 && err.statusCode !== 429;

interface Pending {
  op: LedgerOp;
  /** With the address's entry once the operation is done (undefined: none). */
  resolve: (entry: IPAddressLedgerEntry | undefined) => void;
  reject: (err: unknown) => void;
}

/** Writes to one ledger give up after this many conflicts in a row (the callers retry later). */
const maxRounds = 8;

const ownedBy = (e: IPAddressLedgerEntry | undefined, claimUid: string) => e?.claimRef.uid === claimUid;

/** The JSON merge patch that turns `from` into `to`: every key `to` lacks set to null, at every level. */
function replacement(from: unknown, to: unknown): unknown {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  if (!isObject(from) || !isObject(to)) return to;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(from)) if (!(key in to)) patch[key] = null;
  for (const [key, value] of Object.entries(to)) patch[key] = replacement(from[key], value);
  return patch;
}

const newer = (a: string | undefined, b: string | undefined): string | undefined =>
  b === undefined || (a !== undefined && atLeast(a, b)) ? a : b;

export class LedgerCommitter {
  private queue: Pending[] = [];
  private running = false;
  /** The newest copy this committer wrote or read, while the informer has not shown it yet. */
  private current: IPAddressLedger | undefined;

  constructor(
    readonly name: string,
    /** The ledger without entries, for its creation. */
    private readonly blank: () => IPAddressLedger,
    private readonly store: LedgerStore,
    /** Called with every write made: how many operations it carried. */
    private readonly onWrite: (ops: number) => void = () => {},
  ) {}

  /** The address's entry once the operation is done (undefined: none). */
  submit(op: LedgerOp): Promise<IPAddressLedgerEntry | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  /** The informer showed this copy: a copy held that is not newer is dropped (the informer's serves). */
  observed(ledger: IPAddressLedger): void {
    if (this.current && atLeast(ledger.metadata.resourceVersion, this.current.metadata.resourceVersion)) {
      this.current = undefined;
    }
  }

  /** The newer of the copy held and the informer's. */
  latest(): IPAddressLedger | undefined {
    const cached = this.store.cached(this.name);
    const held = this.current;
    if (!held) return cached;
    if (!cached || !atLeast(cached.metadata.resourceVersion, held.metadata.resourceVersion)) return held;
    this.current = undefined;
    return cached;
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.commit(batch);
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }

  /** Decides and writes the batch until every operation is answered; throws what the callers must see. */
  private async commit(batch: Pending[]): Promise<void> {
    let open = batch;
    let ledger = this.latest();
    let fresh = false;
    for (let round = 1; ; round++) {
      const fence = ledger?.spec.fence;
      if (fence && open.some((p) => p.op.type === 'reserve') && !(await this.store.caughtUp(fence))) {
        throw new Error(
          `the IPAddress cache is not current to IPAddressLedger ${this.name}'s fence ${fence}; retrying`,
        );
      }
      const decided = this.decide(open, ledger, fresh);
      if (decided.refresh) {
        ledger = this.hold(await this.store.get(this.name));
        fresh = true;
        continue;
      }
      for (const [p, entry] of decided.answered) p.resolve(entry);
      open = decided.writes.map(([p]) => p);
      if (open.length === 0) return;
      if (round > maxRounds) throw new Error(`IPAddressLedger ${this.name} keeps changing; retrying`);
      try {
        ledger = this.hold(await this.write(ledger, decided.delta, decided.fence));
        this.onWrite(open.length);
        for (const [p, entry] of decided.writes) p.resolve(entry);
        return;
      } catch (err) {
        if (!(isConflict(err) || isAlreadyExists(err) || isNotFound(err)) && refused(err)) throw err;
        // Changed meanwhile (409), gone (404), or the outcome is unknown: what the API server holds decides.
        try {
          ledger = this.hold(await this.store.get(this.name));
          fresh = true;
        } catch (readErr) {
          // Not a refusal, whatever the write's answer was: the callers keep their addresses to retry.
          throw new Error(`IPAddressLedger ${this.name}: the write's outcome is unknown and reading it failed`, {
            cause: readErr,
          });
        }
      }
    }
  }

  /**
   * A copy just read or written, unless the informer's is as new: a reply can be overtaken by the watch, and an
   * answer from the older copy could name a holder the book already saw go, which no later event would make it
   * forget.
   */
  private hold(ledger: IPAddressLedger | undefined): IPAddressLedger | undefined {
    const cached = this.store.cached(this.name);
    if (ledger && cached && atLeast(cached.metadata.resourceVersion, ledger.metadata.resourceVersion)) {
      this.current = undefined;
      return cached;
    }
    this.current = ledger;
    return ledger;
  }

  private write(
    ledger: IPAddressLedger | undefined,
    delta: Record<string, unknown>,
    fence: string | undefined,
  ): Promise<IPAddressLedger> {
    if (!ledger) {
      const blank = this.blank();
      const entries = Object.fromEntries(Object.entries(delta).filter(([, e]) => e !== null)) as Record<
        string,
        IPAddressLedgerEntry
      >;
      return this.store.create({ ...blank, spec: { ...blank.spec, ...(fence ? { fence } : {}), entries } });
    }
    return this.store.patch(this.name, {
      metadata: { resourceVersion: ledger.metadata.resourceVersion },
      spec: { entries: delta, ...(fence !== ledger.spec.fence ? { fence } : {}) },
    });
  }

  /**
   * Applies the operations in order to the ledger's entries: those that need no write are answered, the others make
   * the delta, with the drop of every entry whose IPAddress is seen (and the fence raised to it) when there is a
   * write anyway or a tidy asks for one.
   */
  private decide(
    batch: Pending[],
    ledger: IPAddressLedger | undefined,
    fresh: boolean,
  ): {
    answered: [Pending, IPAddressLedgerEntry | undefined][];
    writes: [Pending, IPAddressLedgerEntry | undefined][];
    delta: Record<string, unknown>;
    fence: string | undefined;
    refresh?: boolean;
  } {
    const held = ledger?.spec.entries ?? {};
    const entries: Record<string, IPAddressLedgerEntry | undefined> = { ...held };
    const answered: [Pending, IPAddressLedgerEntry | undefined][] = [];
    const writes: [Pending, IPAddressLedgerEntry | undefined][] = [];
    const delta: Record<string, unknown> = {};
    let fence = ledger?.spec.fence;
    // What the write may drop: their IPAddresses hold those addresses (released entries stay for their period).
    const prunable = new Map<string, string>();
    for (const [address, entry] of Object.entries(held)) {
      const rv = entry.releasedAt === undefined ? this.store.prunable(address, entry) : undefined;
      if (rv !== undefined) prunable.set(address, rv);
    }
    let size = Object.keys(entries).length - prunable.size;
    const tidies: Pending[] = [];
    for (const p of batch) {
      const { op } = p;
      if (op.type === 'tidy') {
        tidies.push(p);
        continue;
      }
      const cur = entries[op.address];
      let next: IPAddressLedgerEntry | undefined | null = null;
      if (op.type === 'reserve') {
        if (!cur && !this.store.heldElsewhere(op.address, op.entry.claimRef)) {
          if (size >= ledgerMaxEntries) {
            // Full of releases in their grace period: the claim waits and says why, nothing else is refused.
            p.reject(new Error(`IPAddressLedger ${this.name} holds ${size} addresses in flight or released; retrying`));
            continue;
          }
          next = op.entry;
          size++;
        }
      } else if (op.type === 'cover') {
        if (!cur && newer(op.resourceVersion, fence) !== fence) {
          fence = op.resourceVersion;
          writes.push([p, undefined]);
          continue;
        }
      } else if (op.type === 'delete') {
        if (ownedBy(cur, op.claimUid)) {
          next = undefined;
          size--;
        } else if (!fresh) {
          // Nothing to remove, on a copy this manager holds: the entry may be one its caches have not shown (another
          // replica's); answering "none" would leave it for ever. The API server's copy decides.
          return { answered: [], writes: [], delta: {}, fence: undefined, refresh: true };
        }
      } else if (!cur) {
        if (size >= ledgerMaxEntries) {
          p.reject(new Error(`IPAddressLedger ${this.name} holds ${size} addresses in flight or released; retrying`));
          continue;
        }
        next = { ...op.entry, releasedAt: op.at };
        size++;
      } else if (ownedBy(cur, op.entry.claimRef.uid) && cur.releasedAt === undefined) {
        next = { ...cur, releasedAt: op.at };
      }
      if (next === null) {
        answered.push([p, cur]);
        continue;
      }
      entries[op.address] = next;
      // A merge patch merges objects key by key: against what the API server holds, so that an entry replacing
      // another keeps nothing of it.
      delta[op.address] = next === undefined ? null : replacement(held[op.address], next);
      writes.push([p, next]);
    }
    let pruned = 0;
    for (const [address, rv] of prunable) {
      if (address in delta) continue;
      delta[address] = null;
      fence = newer(rv, fence);
      pruned++;
    }
    if (writes.length > 0 || pruned > 0) for (const p of tidies) writes.push([p, undefined]);
    else for (const p of tidies) answered.push([p, undefined]);
    return { answered, writes, delta, fence };
  }
}
