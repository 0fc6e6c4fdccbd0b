import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ledgerMaxEntries, type IPAddressLedger, type IPAddressLedgerEntry } from '../../api/index.ts';
import { ApiError, isApiError } from '../../kube/index.ts';
import { LedgerCommitter, refused, type LedgerOp, type LedgerStore } from './ledger.ts';

const name = 'ns.ns';
const at = '2026-01-01T00:00:00Z';

const entry = (uid: string, pool = 'p'): IPAddressLedgerEntry => ({
  poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', namespace: 'ns', name: pool },
  claimRef: { namespace: 'ns', name: `c-${uid}`, uid },
});

const blank = (): IPAddressLedger => ({
  apiVersion: 'ipam.k0rdent.mirantis.com/v1alpha1',
  kind: 'IPAddressLedger',
  metadata: { name },
  spec: { domain: 'namespace/ns' },
});

/** An error as the client reports a non-2xx answer (src/kube/errors.ts). */
const apiError = (code: number, reason: string, message = reason) =>
  new ApiError(code, { kind: 'Status', status: 'Failure', reason, code, message }, `PATCH ipaddressledgers/${name}`);

/** RFC 7386: objects merge key by key, null removes a key, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

type Hook = () => void | Promise<void>;

/**
 * The API server as far as one ledger goes: every write gives it a new resourceVersion; a merge patch (RFC 7386)
 * carrying another resourceVersion than the ledger's is refused with 409 Conflict, a patch of a missing ledger with
 * 404, a create of an existing one with 409 AlreadyExists, more entries than the CRD allows with 422. Plus what the
 * provider answers from its caches: the informer's copy (`cache`, frozen like the informer's), the IPAddresses it
 * sees (`seen`, for `prunable`), what else holds an address (`held`), and how far its IPAddress cache is (`caughtUp`).
 */
class FakeStore implements LedgerStore {
  obj: IPAddressLedger | undefined;
  cache: IPAddressLedger | undefined;
  private rv = 1000;
  /** The writes the API server applied: the entries created, or the patch's spec. */
  writes: { verb: 'create' | 'patch'; spec: Record<string, unknown> }[] = [];
  /** Writes sent, applied or not. */
  sent = 0;
  gets = 0;
  /** Runs before a write is applied (another writer, a fault: a throw means the write was not applied). */
  before: Hook | undefined;
  /** Runs after a write is applied (a throw: applied, but the answer was lost). */
  after: Hook | undefined;
  /** `address/claim uid` → the resourceVersion of the claim's IPAddress, once this manager sees it. */
  seen = new Map<string, string>();
  /** address → the uid of the claim something else (an IPAddress, a reservation) holds it for. */
  held = new Map<string, string>();
  /** The IPAddress cache's resourceVersion. */
  ipAddressesAt = 0n;
  caughtUpAsked: string[] = [];
  caughtUp: (fence: string) => Promise<boolean> = async (fence) => {
    this.caughtUpAsked.push(fence);
    return BigInt(fence) <= this.ipAddressesAt;
  };

  /** The ledger as it is, in the API server and in the informer's cache. */
  seed(entries: Record<string, IPAddressLedgerEntry>, fence?: string): IPAddressLedger {
    const b = blank();
    this.obj = {
      ...b,
      metadata: { ...b.metadata, resourceVersion: String(++this.rv) },
      spec: { ...b.spec, ...(fence ? { fence } : {}), entries: structuredClone(entries) },
    };
    this.cache = deepFreeze(structuredClone(this.obj));
    return this.obj;
  }

  /** Another writer's change (a merge patch of the entries), the informer not showing it yet. */
  apply(entries: Record<string, unknown>): void {
    const o = this.obj!;
    this.obj = mergePatch(o, {
      metadata: { resourceVersion: String(++this.rv) },
      spec: { entries },
    }) as IPAddressLedger;
  }

  /** The informer shows the ledger as the API server holds it now. */
  sync(c?: LedgerCommitter): void {
    this.cache = this.obj && deepFreeze(structuredClone(this.obj));
    if (this.cache) c?.observed(this.cache);
  }

  entries(): Record<string, IPAddressLedgerEntry> {
    return this.obj?.spec.entries ?? {};
  }

  cached(n: string): IPAddressLedger | undefined {
    assert.equal(n, name);
    return this.cache;
  }
  async get(n: string): Promise<IPAddressLedger | undefined> {
    assert.equal(n, name);
    this.gets++;
    await Promise.resolve();
    return this.obj && structuredClone(this.obj);
  }
  async create(ledger: IPAddressLedger): Promise<IPAddressLedger> {
    assert.equal(ledger.metadata.name, name);
    this.sent++;
    await this.before?.();
    if (this.obj) throw apiError(409, 'AlreadyExists', `ipaddressledgers "${name}" already exists`);
    this.check(ledger);
    this.obj = { ...structuredClone(ledger), metadata: { ...ledger.metadata, resourceVersion: String(++this.rv) } };
    this.writes.push({ verb: 'create', spec: structuredClone(ledger.spec) });
    await this.after?.();
    return structuredClone(this.obj);
  }
  async patch(n: string, patch: unknown): Promise<IPAddressLedger> {
    assert.equal(n, name);
    this.sent++;
    await this.before?.();
    if (!this.obj) throw apiError(404, 'NotFound', `ipaddressledgers "${name}" not found`);
    const p = patch as { metadata?: { resourceVersion?: string }; spec: Record<string, unknown> };
    const rv = p.metadata?.resourceVersion;
    if (rv !== undefined && rv !== this.obj.metadata.resourceVersion) {
      throw apiError(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version');
    }
    const next = mergePatch(this.obj, patch) as IPAddressLedger;
    this.check(next);
    this.obj = { ...next, metadata: { ...next.metadata, resourceVersion: String(++this.rv) } };
    this.writes.push({ verb: 'patch', spec: structuredClone(p.spec) });
    await this.after?.();
    return structuredClone(this.obj);
  }
  heldElsewhere(address: string, claim: IPAddressLedgerEntry['claimRef']): boolean {
    const holder = this.held.get(address);
    return holder !== undefined && holder !== claim.uid;
  }
  prunable(address: string, e: IPAddressLedgerEntry): string | undefined {
    return this.seen.get(`${address}/${e.claimRef.uid}`);
  }

  private check(ledger: IPAddressLedger): void {
    const n = Object.keys(ledger.spec.entries ?? {}).length;
    if (n > ledgerMaxEntries) {
      throw apiError(422, 'Invalid', `spec.entries: Too many: ${n}: must have at most ${ledgerMaxEntries} items`);
    }
    if (ledger.spec.fence !== undefined && !/^[0-9]*$/.test(ledger.spec.fence)) {
      throw apiError(422, 'Invalid', 'spec.fence: Invalid value');
    }
  }
}

const committer = (store: FakeStore, carried?: number[]) =>
  new LedgerCommitter(name, blank, store, (n) => carried?.push(n));

const reserve = (c: LedgerCommitter, address: string, uid: string, pool?: string) =>
  c.submit({ type: 'reserve', address, entry: entry(uid, pool) });

const uidOf = (e: IPAddressLedgerEntry | undefined) => e?.claimRef.uid;

/** Whether the promise is settled once everything that can run now has run. */
async function state(p: Promise<unknown>): Promise<'resolved' | 'rejected' | 'pending'> {
  const settled = p.then(
    () => 'resolved' as const,
    () => 'rejected' as const,
  );
  const pending = new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')));
  return Promise.race([settled, pending]);
}

/** A write held back until `open()`: ops submitted meanwhile find it in flight. */
function gate(store: FakeStore): { entered: Promise<void>; open: () => void } {
  let open!: () => void;
  let entered!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const enteredP = new Promise<void>((resolve) => (entered = resolve));
  store.before = async () => {
    store.before = undefined;
    entered();
    await opened;
  };
  return { entered: enteredP, open };
}

describe('LedgerCommitter', () => {
  it('creates a ledger that does not exist, with the entries of the first write', async () => {
    const store = new FakeStore();
    const c = committer(store);
    const e = await reserve(c, '10.0.0.1', 'a');
    assert.equal(uidOf(e), 'a');
    assert.deepEqual(
      store.writes.map((w) => w.verb),
      ['create'],
    );
    assert.equal(store.obj!.spec.domain, 'namespace/ns');
    assert.deepEqual(store.entries(), { '10.0.0.1': entry('a') });
    assert.equal(store.obj!.spec.fence, undefined);
  });

  it('carries every operation submitted while a write is in flight in one next write', async () => {
    const store = new FakeStore();
    store.seed({});
    const carried: number[] = [];
    const c = committer(store, carried);
    const g = gate(store);
    const first = reserve(c, '10.0.0.1', 'a');
    await g.entered;
    const queued = Array.from({ length: 5 }, (_, i) => reserve(c, `10.0.0.${i + 2}`, `q${i}`));
    assert.equal(await state(queued[0]!), 'pending', 'queued behind the write in flight');
    g.open();
    assert.equal(uidOf(await first), 'a');
    assert.deepEqual((await Promise.all(queued)).map(uidOf), ['q0', 'q1', 'q2', 'q3', 'q4']);
    assert.deepEqual(carried, [1, 5], 'one write for the first, one for the five that queued meanwhile');
    assert.equal(store.sent, 2);
    assert.deepEqual(Object.keys(store.writes[1]!.spec.entries as object).sort(), [
      '10.0.0.2',
      '10.0.0.3',
      '10.0.0.4',
      '10.0.0.5',
      '10.0.0.6',
    ]);
    assert.equal(Object.keys(store.entries()).length, 6);
    assert.equal(store.gets, 0, 'its own writes told it the ledger: no read, no conflict');
  });

  it('reserves a free address: the entry is written and answered', async () => {
    const store = new FakeStore();
    store.seed({ '10.0.0.1': entry('a') });
    const c = committer(store);
    const e = await reserve(c, '10.0.0.2', 'b', 'q');
    assert.deepEqual(e, entry('b', 'q'));
    assert.deepEqual(store.entries()['10.0.0.2'], entry('b', 'q'));
    assert.deepEqual(store.entries()['10.0.0.1'], entry('a'), 'the other entry stays');
    assert.deepEqual(store.writes, [{ verb: 'patch', spec: { entries: { '10.0.0.2': entry('b', 'q') } } }]);
  });

  it("answers an address with another claim's entry with that entry, and writes nothing", async () => {
    const store = new FakeStore();
    store.seed({ '10.0.0.1': entry('a') });
    const c = committer(store);
    assert.equal(uidOf(await reserve(c, '10.0.0.1', 'b')), 'a', 'b is told a holds it');
    assert.equal(uidOf(await reserve(c, '10.0.0.1', 'a')), 'a', "a's own entry: it holds the address already");
    assert.equal(store.sent, 0);
    assert.equal(store.gets, 0);
  });

  it('answers an address something else holds (an IPAddress, a reservation) with no entry, and writes nothing', async () => {
    const store = new FakeStore();
    store.seed({});
    store.held.set('10.0.0.1', 'other');
    store.held.set('10.0.0.2', 'b'); // b's own IPAddress: not someone else's
    const c = committer(store);
    assert.equal(await reserve(c, '10.0.0.1', 'a'), undefined);
    assert.equal(store.sent, 0);
    assert.equal(uidOf(await reserve(c, '10.0.0.2', 'b')), 'b');
    assert.deepEqual(Object.keys(store.entries()), ['10.0.0.2']);
  });

  it('on 409 reads the ledger again and decides again: an address taken meanwhile is answered taken, the others written', async () => {
    const store = new FakeStore();
    store.seed({ '10.0.0.1': entry('a') });
    const c = committer(store);
    // Another replica takes .2 just before our write.
    store.before = () => {
      store.before = undefined;
      store.apply({ '10.0.0.2': entry('other') });
    };
    const [r2, r3] = await Promise.all([reserve(c, '10.0.0.2', 'b'), reserve(c, '10.0.0.3', 'c')]);
    assert.equal(uidOf(r2), 'other');
    assert.equal(uidOf(r3), 'c');
    assert.equal(store.gets, 1, 'one read after the conflict');
    assert.equal(store.sent, 2);
    assert.deepEqual(Object.fromEntries(Object.entries(store.entries()).map(([k, v]) => [k, v.claimRef.uid])), {
      '10.0.0.1': 'a',
      '10.0.0.2': 'other',
      '10.0.0.3': 'c',
    });
  });

  it('an unknown outcome (5xx, timeout, dropped connection) after the write was applied: the read finds the entry, the claim has it', async () => {
    for (const err of [apiError(504, 'Timeout'), apiError(500, 'InternalError'), new Error('socket hang up')]) {
      const store = new FakeStore();
      store.seed({});
      const c = committer(store);
      store.after = () => {
        store.after = undefined;
        throw err;
      };
      const e = await reserve(c, '10.0.0.1', 'a');
      assert.equal(uidOf(e), 'a', err.message);
      assert.equal(store.sent, 1, `${err.message}: written once, not again`);
      assert.equal(store.gets, 1, err.message);
      assert.equal(uidOf(store.entries()['10.0.0.1']), 'a');
    }
  });

  it('an unknown outcome where the write was not applied: the read does not find it, the next write carries it', async () => {
    const store = new FakeStore();
    store.seed({});
    const carried: number[] = [];
    const c = committer(store, carried);
    store.before = () => {
      store.before = undefined;
      throw apiError(503, 'ServiceUnavailable');
    };
    assert.equal(uidOf(await reserve(c, '10.0.0.1', 'a')), 'a');
    assert.equal(store.sent, 2);
    assert.deepEqual(carried, [1]);
    assert.equal(uidOf(store.entries()['10.0.0.1']), 'a');
  });

  it('when the read after an unknown outcome fails too, every caller gets an error (and its retry succeeds)', async () => {
    const store = new FakeStore();
    store.seed({});
    const c = committer(store);
    store.ipAddressesAt = 10n;
    const readErr = apiError(503, 'ServiceUnavailable');
    const get = store.get.bind(store);
    store.get = async () => {
      throw readErr;
    };
    const g = gate(store);
    const inFlight = c.submit({ type: 'cover', address: '10.0.0.9', claimUid: 'z', resourceVersion: '1' });
    await g.entered;
    // Both in the next write, which is applied but whose answer is lost.
    const batch = [reserve(c, '10.0.0.1', 'a'), reserve(c, '10.0.0.2', 'b')];
    store.after = () => {
      if (store.sent < 2) return;
      store.after = undefined;
      throw apiError(504, 'Timeout');
    };
    g.open();
    await inFlight;
    for (const r of await Promise.allSettled(batch)) {
      assert.equal(r.status, 'rejected');
      const err = (r as PromiseRejectedResult).reason as Error;
      assert.match(err.message, /outcome is unknown and reading it failed/);
      assert.equal(err.cause, readErr);
      assert.equal(refused(err), false, 'not a refusal: the callers keep their addresses to retry');
    }
    // The claims retry the same addresses: the write had happened, so they are theirs, without another write.
    store.get = get;
    assert.deepEqual(
      await Promise.all([reserve(c, '10.0.0.1', 'a'), reserve(c, '10.0.0.2', 'b')]).then((r) => r.map(uidOf)),
      ['a', 'b'],
    );
    assert.equal(store.writes.length, 2, 'the cover and the one write of both entries');
  });

  it('a write refused outright (422) fails its batch without a read or a retry', async () => {
    const store = new FakeStore();
    store.seed({});
    const c = committer(store);
    store.before = () => {
      store.before = undefined;
      throw apiError(422, 'Invalid', 'spec.entries: Invalid value');
    };
    await assert.rejects(reserve(c, '10.0.0.1', 'a'), (err) => isApiError(err) && refused(err));
    assert.equal(store.gets, 0);
    assert.equal(store.sent, 1);
    assert.deepEqual(store.entries(), {});
  });

  it('a ledger created meanwhile by another replica (AlreadyExists): read, then patched; its entries answered', async () => {
    const store = new FakeStore();
    const c = committer(store);
    store.before = () => {
      store.before = undefined;
      store.seed({ '10.0.0.1': entry('other') });
      store.cache = undefined; // the informer has not shown it yet
    };
    const [r1, r2] = await Promise.all([reserve(c, '10.0.0.1', 'a'), reserve(c, '10.0.0.2', 'b')]);
    assert.equal(uidOf(r1), 'other');
    assert.equal(uidOf(r2), 'b');
    assert.equal(store.gets, 1);
    assert.deepEqual(store.writes, [{ verb: 'patch', spec: { entries: { '10.0.0.2': entry('b') } } }]);
  });

  it('a ledger deleted meanwhile (404 to the patch) is created again', async () => {
    const store = new FakeStore();
    store.seed({ '10.0.0.1': entry('a') });
    const c = committer(store);
    store.obj = undefined; // deleted; the informer has not shown it
    assert.equal(uidOf(await reserve(c, '10.0.0.2', 'b')), 'b');
    assert.deepEqual(store.writes, [
      { verb: 'create', spec: { domain: 'namespace/ns', entries: { '10.0.0.2': entry('b') } } },
    ]);
  });

  it('every write drops the entries whose IPAddress is seen and raises the fence to the newest of them', async () => {
    const store = new FakeStore();
    store.seed(
      {
        '10.0.0.1': entry('a'),
        '10.0.0.2': entry('b'),
        '10.0.0.3': entry('c'),
        '10.0.0.4': { ...entry('d'), releasedAt: at },
      },
      '600',
    );
    store.ipAddressesAt = 600n;
    store.seen.set('10.0.0.1/a', '500');
    store.seen.set('10.0.0.2/b', '700');
    store.seen.set('10.0.0.4/d', '900'); // released: kept for its grace period, whatever its IPAddress
    store.seen.set('10.0.0.3/someone-else', '950'); // an IPAddress of another claim does not drop c's entry
    const carried: number[] = [];
    const c = committer(store, carried);
    assert.equal(uidOf(await reserve(c, '10.0.0.5', 'e')), 'e');
    assert.deepEqual(carried, [1], 'one write');
    assert.deepEqual(store.writes[0]!.spec, {
      entries: { '10.0.0.5': entry('e'), '10.0.0.1': null, '10.0.0.2': null },
      fence: '700',
    });
    assert.deepEqual(Object.keys(store.entries()).sort(), ['10.0.0.3', '10.0.0.4', '10.0.0.5']);
    assert.equal(store.obj!.spec.fence, '700');
  });

  it('never drops an entry the same write adds, even if its IPAddress is seen already', async () => {
    const store = new FakeStore();
    store.seed({});
    store.seen.set('10.0.0.1/a', '500');
    const c = committer(store);
    assert.equal(uidOf(await reserve(c, '10.0.0.1', 'a')), 'a');
    assert.deepEqual(store.writes[0]!.spec, { entries: { '10.0.0.1': entry('a') } });
    assert.equal(uidOf(store.entries()['10.0.0.1']), 'a');
  });

  it('never lowers the fence when it drops entries', async () => {
    const store = new FakeStore();
    store.seed({ '10.0.0.1': entry('a') }, '900');
    store.ipAddressesAt = 900n;
    store.seen.set('10.0.0.1/a', '500');
    const c = committer(store);
    await reserve(c, '10.0.0.2', 'b');
    assert.deepEqual(store.writes[0]!.spec, { entries: { '10.0.0.2': entry('b'), '10.0.0.1': null } });
    assert.equal(store.obj!.spec.fence, '900');
  });

  it('a tidy writes only when an entry can be dropped', async () => {
    const store = new FakeStore();
    store.seed({ '10.0.0.1': entry('a'), '10.0.0.2': { ...entry('b'), releasedAt: at } }, '100');
    store.seen.set('10.0.0.2/b', '300');
    const carried: number[] = [];
    const c = committer(store, carried);
    assert.equal(await c.submit({ type: 'tidy' }), undefined);
    assert.equal(store.sent, 0, 'nothing to drop: no write');
    store.seen.set('10.0.0.1/a', '200');
    assert.equal(await c.submit({ type: 'tidy' }), undefined);
    assert.deepEqual(carried, [1]);
    assert.deepEqual(store.writes, [{ verb: 'patch', spec: { entries: { '10.0.0.1': null }, fence: '200' } }]);
    assert.deepEqual(Object.keys(store.entries()), ['10.0.0.2']);
    assert.equal(store.caughtUpAsked.length, 0, 'a tidy reserves nothing: it does not wait for the IPAddress cache');
  });

  it('a cover raises the fence only when it is higher, and is answered with another claim’s entry at the address', async () => {
    const store = new FakeStore();
    store.seed({ '10.0.0.9': entry('other') }, '100');
    const c = committer(store);
    const cover = (address: string, resourceVersion: string): LedgerOp => ({
      type: 'cover',
      address,
      claimUid: 'a',
      resourceVersion,
    });
    assert.equal(await c.submit(cover('10.0.0.1', '200')), undefined);
    assert.deepEqual(store.writes, [{ verb: 'patch', spec: { entries: {}, fence: '200' } }]);
    assert.deepEqual(Object.keys(store.entries()), ['10.0.0.9'], 'no entry written');
    assert.equal(await c.submit(cover('10.0.0.1', '150')), undefined);
    assert.equal(await c.submit(cover('10.0.0.1', '200')), undefined);
    assert.equal(store.sent, 1, 'the fence is there already: no write');
    assert.equal(uidOf(await c.submit(cover('10.0.0.9', '300'))), 'other', 'a duplicate: told who');
    assert.equal(store.sent, 1);
    assert.equal(store.obj!.spec.fence, '200');
    assert.equal(store.caughtUpAsked.length, 0, 'a cover does not wait for the IPAddress cache');
  });

  it('a cover on a ledger that does not exist creates it with the fence', async () => {
    const store = new FakeStore();
    const c = committer(store);
    await c.submit({ type: 'cover', address: '10.0.0.1', claimUid: 'a', resourceVersion: '42' });
    assert.deepEqual(store.writes, [{ verb: 'create', spec: { domain: 'namespace/ns', fence: '42', entries: {} } }]);
  });

  it("a release adds a released entry when there is none, marks the claim's own, and leaves another claim's", async () => {
    const store = new FakeStore();
    store.seed({ '10.0.0.2': entry('b'), '10.0.0.3': entry('c') });
    const c = committer(store);
    const release = (address: string, uid: string): Promise<IPAddressLedgerEntry | undefined> =>
      c.submit({ type: 'release', address, entry: entry(uid), at });
    assert.deepEqual(await release('10.0.0.1', 'a'), { ...entry('a'), releasedAt: at });
    assert.deepEqual(await release('10.0.0.2', 'b'), { ...entry('b'), releasedAt: at });
    assert.equal(store.sent, 2);
    assert.deepEqual(await release('10.0.0.2', 'b'), { ...entry('b'), releasedAt: at }, 'released already');
    assert.deepEqual(await release('10.0.0.3', 'x'), entry('c'), "c's entry: not x's to release");
    assert.equal(store.sent, 2, 'no write for those');
    assert.deepEqual(store.entries(), {
      '10.0.0.1': { ...entry('a'), releasedAt: at },
      '10.0.0.2': { ...entry('b'), releasedAt: at },
      '10.0.0.3': entry('c'),
    });
  });

  it("a delete removes the claim's own entry only", async () => {
    const store = new FakeStore();
    store.seed({ '10.0.0.1': entry('a'), '10.0.0.2': { ...entry('b'), releasedAt: at } });
    const c = committer(store);
    assert.equal(uidOf(await c.submit({ type: 'delete', address: '10.0.0.2', claimUid: 'a' })), 'b');
    assert.equal(await c.submit({ type: 'delete', address: '10.0.0.3', claimUid: 'a' }), undefined);
    assert.equal(store.sent, 0, 'nothing of a: no write');
    assert.equal(await c.submit({ type: 'delete', address: '10.0.0.1', claimUid: 'a' }), undefined);
    assert.equal(await c.submit({ type: 'delete', address: '10.0.0.2', claimUid: 'b' }), undefined, 'released too');
    assert.deepEqual(store.entries(), {});
    assert.deepEqual(
      store.writes.map((w) => w.spec),
      [{ entries: { '10.0.0.1': null } }, { entries: { '10.0.0.2': null } }],
    );
  });

  it('reserves nothing while the IPAddress cache is behind the fence: the reserve fails, nothing is written', async () => {
    const store = new FakeStore();
    store.seed({ '10.0.0.1': entry('a') }, '500');
    store.ipAddressesAt = 499n;
    const c = committer(store);
    await assert.rejects(reserve(c, '10.0.0.2', 'b'), /not current to IPAddressLedger ns\.ns's fence 500/);
    assert.deepEqual(store.caughtUpAsked, ['500']);
    assert.equal(store.sent, 0);
    // Operations that reserve nothing go on.
    assert.equal(await c.submit({ type: 'delete', address: '10.0.0.1', claimUid: 'a' }), undefined);
    assert.equal(store.sent, 1);
    assert.deepEqual(store.caughtUpAsked, ['500']);
    // Caught up: the claim's retry gets its address.
    store.ipAddressesAt = 500n;
    assert.equal(uidOf(await reserve(c, '10.0.0.2', 'b')), 'b');
  });

  it('waits for the IPAddress cache to reach the fence before deciding', async () => {
    const store = new FakeStore();
    store.seed({}, '500');
    let catchUp!: (ok: boolean) => void;
    store.caughtUp = () => new Promise((resolve) => (catchUp = resolve));
    const c = committer(store);
    const r = reserve(c, '10.0.0.1', 'a');
    assert.equal(await state(r), 'pending');
    // Meanwhile the cache shows an IPAddress of another claim at the address (its entry dropped before the fence).
    store.held.set('10.0.0.1', 'other');
    catchUp(true);
    assert.equal(await r, undefined, 'taken: decided on what the cache showed once current');
    assert.equal(store.sent, 0);
  });

  it(`refuses a reserve on a ledger holding ${ledgerMaxEntries} entries, and writes nothing`, async () => {
    const store = new FakeStore();
    const full: Record<string, IPAddressLedgerEntry> = {};
    for (let i = 0; i < ledgerMaxEntries; i++) {
      full[`10.1.${i >> 8}.${i & 255}`] = { ...entry(`r${i}`), releasedAt: at };
    }
    store.seed(full);
    const c = committer(store);
    await assert.rejects(reserve(c, '10.0.0.1', 'a'), new RegExp(`holds ${ledgerMaxEntries} addresses`));
    assert.equal(store.sent, 0);
    // A delete before it in the same write makes room: nothing else in the batch is refused.
    store.ipAddressesAt = 10n;
    const g = gate(store);
    const inFlight = c.submit({ type: 'cover', address: '10.0.0.9', claimUid: 'z', resourceVersion: '1' });
    await g.entered;
    const [deleted, reserved] = [
      c.submit({ type: 'delete', address: '10.1.0.0', claimUid: 'r0' }),
      reserve(c, '10.0.0.1', 'a'),
    ];
    g.open();
    await inFlight;
    assert.equal(await deleted, undefined);
    assert.equal(uidOf(await reserved), 'a');
    assert.equal(Object.keys(store.entries()).length, ledgerMaxEntries);
  });

  it('gives up after conflicts in a row, the callers retrying later', async () => {
    const store = new FakeStore();
    store.seed({});
    const c = committer(store);
    let n = 0;
    store.before = () => store.apply({ [`10.9.0.${n++}`]: entry(`w${n}`) }); // another writer, every time
    await assert.rejects(reserve(c, '10.0.0.1', 'a'), /keeps changing/);
    assert.equal(store.sent, 8);
    assert.equal(store.entries()['10.0.0.1'], undefined);
  });

  it('decides on its own write until the informer shows it, and then on the informer’s copy', async () => {
    const store = new FakeStore();
    store.seed({});
    const c = committer(store);
    await reserve(c, '10.0.0.1', 'a');
    assert.equal(uidOf(c.latest()?.spec.entries?.['10.0.0.1']), 'a');
    assert.equal(uidOf(await reserve(c, '10.0.0.1', 'b')), 'a', 'answered from its own write, not the older cache');
    assert.equal(store.gets, 0);
    store.sync(c);
    assert.equal(c.latest(), store.cache, 'the informer caught up: its copy serves');
  });

  it('decides on the informer copy when it is newer than a read answered after a conflict', async () => {
    // The answer must never name a holder the informer has already shown gone: the book would keep it for ever.
    const store = new FakeStore();
    store.seed({ '10.0.0.1': entry('a') });
    const c = committer(store);
    store.apply({ '10.0.0.2': entry('stray') }); // another replica's entry: our next write gets 409
    const get = store.get.bind(store);
    store.get = async (n) => {
      // Read while the stray was there; the informer shows its removal before the answer is used.
      const read = await get(n);
      store.get = get;
      store.apply({ '10.0.0.2': null });
      store.sync(c);
      return read;
    };
    const r = await reserve(c, '10.0.0.2', 'b');
    assert.equal(uidOf(r), 'b');
    assert.equal(uidOf(store.entries()['10.0.0.2']), 'b');
  });

  it('two replicas racing for the same addresses: each address gets one holder, and each is told who', async () => {
    const store = new FakeStore();
    const [a, b] = [committer(store), committer(store)];
    const addresses = Array.from({ length: 12 }, (_, i) => `10.0.0.${i}`);
    const answers = await Promise.all(
      addresses.flatMap((address, i) => [
        reserve(a, address, `a${i}`).then((r) => [address, `a${i}`, uidOf(r)] as const),
        reserve(b, address, `b${i}`).then((r) => [address, `b${i}`, uidOf(r)] as const),
      ]),
    );
    const holders = store.entries();
    for (const [address, claim, told] of answers) {
      assert.equal(told, holders[address]!.claimRef.uid, `${claim} is told the holder of ${address}`);
    }
    const won = answers.filter(([, claim, told]) => claim === told).map(([address]) => address);
    assert.deepEqual(won.sort(), [...addresses].sort(), 'each address won exactly once');
  });

  it("an entry written where the same write deletes another claim's is the new claim's alone, nothing of the old merged in", async () => {
    const store = new FakeStore();
    store.seed({ '10.0.0.1': { ...entry('a'), releasedAt: at } });
    store.ipAddressesAt = 10n;
    const c = committer(store);
    const g = gate(store);
    const inFlight = c.submit({ type: 'cover', address: '10.0.0.9', claimUid: 'z', resourceVersion: '2' });
    await g.entered;
    const global: IPAddressLedgerEntry = {
      poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'GlobalInClusterIPPool', name: 'g' },
      claimRef: { namespace: 'ns', name: 'c-b', uid: 'b' },
    };
    const ops = [
      c.submit({ type: 'delete', address: '10.0.0.1', claimUid: 'a' }),
      c.submit({ type: 'reserve', address: '10.0.0.1', entry: global }),
    ];
    g.open();
    await inFlight;
    assert.deepEqual(await Promise.all(ops), [undefined, global]);
    assert.deepEqual(store.entries()['10.0.0.1'], global, 'what the API server holds');
  });
});
