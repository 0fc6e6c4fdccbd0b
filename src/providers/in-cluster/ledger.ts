// Writes to the IPAddressLedgers (src/api/ledger.ts): one committer per ledger object, so the claims reserving
// addresses of one block at the same time share one write.
//
// Each write is a JSON merge patch carrying the resourceVersion its decisions were made on: the API server applies
// it only if the ledger has not changed since (else 409 Conflict), and applies all of it or nothing. So:
// - an entry is added only where the ledger, as the API server holds it, has none: never two holders;
// - on 409 the ledger is read again and every operation decided again (an address someone else took meanwhile is
//   reported taken, the others go in the next write);
// - when the outcome is unknown (timeout, 5xx, a dropped connection) the ledger is read again: the entry is there
//   (the write happened) or not (it did not, and goes in the next write); if the read fails too, the callers get the
//   error and retry the same address later;
// - a ledger that does not exist yet is created with the batch's entries (409 AlreadyExists: read it, patch it).
// While a write is in flight, new operations queue; the next write carries all of them. The 32 claim workers pick the
// lowest free addresses, mostly of one block, so under load one write serves many claims.
//
// Decisions that write nothing and could hide a leak (a release or delete that finds no entry of its claim) are made
// only on a copy just read from the API server; reporting an address taken from a cached copy only costs a re-pick.
import type { IPAddressLedger, IPAddressLedgerEntry } from '../../api/index.ts';
import { isAlreadyExists, isApiError, isConflict, isNotFound } from '../../kube/index.ts';
import { atLeast } from '../overlay.ts';

export type LedgerOp =
  /** Add the entry unless the address has one (the entry is then the answer: whose it is). */
  | { type: 'reserve'; address: string; entry: IPAddressLedgerEntry }
  /** Mark the claim's entry released. */
  | { type: 'release'; address: string; claimUid: string; at: string }
  /** Remove the claim's entry. */
  | { type: 'delete'; address: string; claimUid: string };

/** What the committer needs of the API server and the informer. */
export interface LedgerStore {
  /** The informer's copy (possibly behind), without a request. */
  cached(name: string): IPAddressLedger | undefined;
  get(name: string): Promise<IPAddressLedger | undefined>;
  create(ledger: IPAddressLedger): Promise<IPAddressLedger>;
  patch(name: string, patch: unknown): Promise<IPAddressLedger>;
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

type Entries = Record<string, IPAddressLedgerEntry>;

/** Writes to one ledger give up after this many conflicts in a row (the callers retry later). */
const maxRounds = 8;

const ownedBy = (e: IPAddressLedgerEntry | undefined, claimUid: string) => e?.claimRef.uid === claimUid;

export class LedgerCommitter {
  private queue: Pending[] = [];
  private running = false;
  /** The newest copy this committer wrote or read, while the informer has not shown it yet. */
  private current: IPAddressLedger | undefined;

  constructor(
    readonly name: string,
    /** The ledger's spec without entries, for its creation. */
    private readonly blank: () => IPAddressLedger,
    private readonly store: LedgerStore,
    /** Called with every write made: how many operations it carried. */
    private readonly onWrite: (ops: number) => void = () => {},
  ) {}

  /** Nothing queued, nothing in flight, no copy held: the committer can be dropped. */
  get idle(): boolean {
    return !this.running && this.queue.length === 0 && this.current === undefined;
  }

  /** The address's entry once the operation is done (undefined: none): the claim's, or whose it is. */
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

  /** The newer of the copy held and the informer's. */
  private base(): IPAddressLedger | undefined {
    const cached = this.store.cached(this.name);
    const held = this.current;
    if (!held) return cached;
    if (!cached || !atLeast(cached.metadata.resourceVersion, held.metadata.resourceVersion)) return held;
    this.current = undefined;
    return cached;
  }

  /** Decides and writes the batch until every operation is answered; throws what the callers must see. */
  private async commit(batch: Pending[]): Promise<void> {
    let open = batch;
    let ledger = this.base();
    let fresh = false;
    for (let round = 1; ; round++) {
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
        ledger = this.hold(await this.write(ledger, decided.delta));
        this.onWrite(open.length);
        for (const [p, entry] of decided.writes) p.resolve(entry);
        return;
      } catch (err) {
        if (!(isConflict(err) || isAlreadyExists(err) || isNotFound(err)) && refused(err)) throw err;
        // Changed meanwhile (409), gone (404), or the outcome is unknown: what the API server holds decides.
        try {
          ledger = this.hold(await this.store.get(this.name));
        } catch (readErr) {
          // Not a refusal, whatever the write's answer was: the callers keep their addresses to retry.
          throw new Error(`IPAddressLedger ${this.name}: the write's outcome is unknown and reading it failed`, {
            cause: readErr,
          });
        }
        fresh = true;
      }
    }
  }

  private hold(ledger: IPAddressLedger | undefined): IPAddressLedger | undefined {
    this.current = ledger;
    return ledger;
  }

  private write(ledger: IPAddressLedger | undefined, delta: Record<string, unknown>): Promise<IPAddressLedger> {
    if (!ledger) {
      const blank = this.blank();
      return this.store.create({ ...blank, spec: { ...blank.spec, entries: delta as Entries } });
    }
    return this.store.patch(this.name, {
      metadata: { resourceVersion: ledger.metadata.resourceVersion },
      spec: { entries: delta },
    });
  }

  /**
   * Applies the operations in order to the ledger's entries: those that need no write are answered, the others make
   * the delta. `refresh` when an answer that writes nothing would rest on a copy not just read.
   */
  private decide(
    batch: Pending[],
    ledger: IPAddressLedger | undefined,
    fresh: boolean,
  ): {
    answered: [Pending, IPAddressLedgerEntry | undefined][];
    writes: [Pending, IPAddressLedgerEntry | undefined][];
    delta: Record<string, unknown>;
    refresh: boolean;
  } {
    const entries: Record<string, IPAddressLedgerEntry | undefined> = { ...ledger?.spec.entries };
    const answered: [Pending, IPAddressLedgerEntry | undefined][] = [];
    const writes: [Pending, IPAddressLedgerEntry | undefined][] = [];
    const delta: Record<string, unknown> = {};
    for (const p of batch) {
      const { op } = p;
      const cur = entries[op.address];
      let next: IPAddressLedgerEntry | undefined | null = null;
      if (op.type === 'reserve') {
        if (!cur) next = op.entry;
      } else if (!ownedBy(cur, op.claimUid)) {
        if (!fresh) return { answered: [], writes: [], delta: {}, refresh: true };
      } else if (op.type === 'delete') {
        next = undefined;
      } else if (cur!.releasedAt === undefined) {
        next = { ...cur!, releasedAt: op.at };
      }
      if (next === null) {
        answered.push([p, cur]);
        continue;
      }
      entries[op.address] = next;
      delta[op.address] = next === undefined ? null : op.type === 'release' ? { releasedAt: op.at } : next;
      writes.push([p, next]);
    }
    return { answered, writes, delta, refresh: false };
  }
}
