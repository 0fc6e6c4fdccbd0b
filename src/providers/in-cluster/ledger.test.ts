import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IPAddressLedger, IPAddressLedgerEntry } from '../../api/index.ts';
import { ApiError } from '../../kube/index.ts';
import { LedgerCommitter, refused, type LedgerStore } from './ledger.ts';

const entry = (uid: string): IPAddressLedgerEntry => ({
  poolRef: { kind: 'InClusterIPPool', namespace: 'ns', name: 'p' },
  claimRef: { namespace: 'ns', name: `c-${uid}`, uid },
});

const blank = (): IPAddressLedger => ({
  apiVersion: 'ipam.k0rdent.mirantis.com/v1alpha1',
  kind: 'IPAddressLedger',
  metadata: { name: 'l' },
  spec: { domain: 'namespace/ns', block: '10.0.0.0/24' },
});

const apiError = (code: number, reason: string) => new ApiError(code, { reason, code, message: reason }, 'X');

/**
 * The API server's behaviour for one ledger: a merge patch carrying a stale resourceVersion is refused with 409, a
 * second create with AlreadyExists. `before` runs before each write is applied (another writer, a fault).
 */
class FakeStore implements LedgerStore {
  obj: IPAddressLedger | undefined;
  rv = 0;
  writes: Record<string, unknown>[] = [];
  gets = 0;
  cache: IPAddressLedger | undefined;
  before: (() => void) | undefined;
  after: (() => void) | undefined;

  cached(): IPAddressLedger | undefined {
    return this.cache;
  }
  async get(): Promise<IPAddressLedger | undefined> {
    this.gets++;
    return this.obj && structuredClone(this.obj);
  }
  async create(ledger: IPAddressLedger): Promise<IPAddressLedger> {
    await Promise.resolve();
    this.before?.();
    if (this.obj) throw apiError(409, 'AlreadyExists');
    this.obj = { ...structuredClone(ledger), metadata: { name: 'l', resourceVersion: String(++this.rv) } };
    this.writes.push(ledger.spec.entries ?? {});
    this.after?.();
    return structuredClone(this.obj);
  }
  async patch(_: string, patch: { metadata: { resourceVersion: string }; spec: { entries: object } }) {
    await Promise.resolve();
    this.before?.();
    if (!this.obj) throw apiError(404, 'NotFound');
    if (patch.metadata.resourceVersion !== this.obj.metadata.resourceVersion) throw apiError(409, 'Conflict');
    this.apply(patch.spec.entries as Record<string, unknown>);
    this.writes.push(patch.spec.entries as Record<string, unknown>);
    this.after?.();
    return structuredClone(this.obj);
  }
  /** Another writer's change. */
  apply(delta: Record<string, unknown>): void {
    const entries = { ...this.obj!.spec.entries } as Record<string, IPAddressLedgerEntry>;
    for (const [k, v] of Object.entries(delta)) {
      if (v === null) delete entries[k];
      else entries[k] = { ...entries[k], ...(v as IPAddressLedgerEntry) };
    }
    this.obj = { ...this.obj!, metadata: { ...this.obj!.metadata, resourceVersion: String(++this.rv) } };
    this.obj.spec = { ...this.obj.spec, entries };
  }
}

const reserve = (c: LedgerCommitter, address: string, uid: string) =>
  c.submit({ type: 'reserve', address, entry: entry(uid) });

describe('ledger committer', () => {
  it('creates the ledger, then carries every reservation queued during a write in the next one', async () => {
    const store = new FakeStore();
    const carried: number[] = [];
    const c = new LedgerCommitter('l', blank, store, (n) => carried.push(n));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => reserve(c, `10.0.0.${i + 1}`, `u${i}`)));
    assert.deepEqual(
      results.map((r) => r?.claimRef.uid),
      Array.from({ length: 20 }, (_, i) => `u${i}`),
    );
    assert.deepEqual(carried, [1, 19], 'one create, then one patch for the 19 that queued meanwhile');
    assert.equal(Object.keys(store.obj!.spec.entries!).length, 20);
  });

  it('answers an address someone holds with its holder, and never writes a second entry', async () => {
    const store = new FakeStore();
    const c = new LedgerCommitter('l', blank, store);
    await reserve(c, '10.0.0.1', 'a');
    const [again, other] = await Promise.all([reserve(c, '10.0.0.1', 'a'), reserve(c, '10.0.0.1', 'b')]);
    assert.equal(again?.claimRef.uid, 'a');
    assert.equal(other?.claimRef.uid, 'a', 'b is told a holds it');
    assert.equal(store.writes.length, 1);
  });

  it('on 409 reads the ledger again: a taken address is reported, the others are written', async () => {
    const store = new FakeStore();
    const c = new LedgerCommitter('l', blank, store);
    await reserve(c, '10.0.0.1', 'a');
    // Another replica takes .2 just before our next write.
    store.before = () => {
      store.before = undefined;
      store.apply({ '10.0.0.2': entry('other') });
    };
    const [r2, r3] = await Promise.all([reserve(c, '10.0.0.2', 'b'), reserve(c, '10.0.0.3', 'c')]);
    assert.equal(r2?.claimRef.uid, 'other');
    assert.equal(r3?.claimRef.uid, 'c');
    assert.equal(store.obj!.spec.entries!['10.0.0.2']!.claimRef.uid, 'other');
    assert.equal(store.obj!.spec.entries!['10.0.0.3']!.claimRef.uid, 'c');
  });

  it('an unknown outcome is settled by reading: written is reserved, not written is written again', async () => {
    for (const applied of [true, false]) {
      const store = new FakeStore();
      const c = new LedgerCommitter('l', blank, store);
      await reserve(c, '10.0.0.1', 'a');
      let failed = false;
      if (applied)
        store.after = () => {
          if (failed) return;
          failed = true;
          throw apiError(504, 'Timeout');
        };
      else
        store.before = () => {
          if (failed) return;
          failed = true;
          throw apiError(503, 'ServiceUnavailable');
        };
      const r = await reserve(c, '10.0.0.2', 'b');
      assert.equal(r?.claimRef.uid, 'b');
      assert.equal(store.writes.length, 2, `applied=${applied}: one entry, written once`);
    }
  });

  it('when the read after an unknown outcome fails too, the callers get the error (they retry the address)', async () => {
    const store = new FakeStore();
    const c = new LedgerCommitter('l', blank, store);
    await reserve(c, '10.0.0.1', 'a');
    store.before = () => {
      store.get = async () => {
        throw apiError(503, 'ServiceUnavailable');
      };
      throw apiError(504, 'Timeout');
    };
    await assert.rejects(
      reserve(c, '10.0.0.2', 'b'),
      (err: Error) => !refused(err) && /outcome is unknown/.test(err.message),
    );
  });

  it('a refused write (422) fails its batch without a retry', async () => {
    const store = new FakeStore();
    const c = new LedgerCommitter('l', blank, store);
    await reserve(c, '10.0.0.1', 'a');
    store.before = () => {
      throw apiError(422, 'Invalid');
    };
    await assert.rejects(reserve(c, '10.0.0.2', 'b'), /Invalid/);
    assert.equal(store.gets, 0);
  });

  it('releases and deletes only the entry of the claim given, confirmed on a fresh read', async () => {
    const store = new FakeStore();
    const c = new LedgerCommitter('l', blank, store);
    await Promise.all([reserve(c, '10.0.0.1', 'a'), reserve(c, '10.0.0.2', 'b')]);
    const at = '2026-01-01T00:00:00Z';
    const released = await c.submit({ type: 'release', address: '10.0.0.1', claimUid: 'a', at });
    assert.equal(released?.releasedAt, at);
    const notMine = await c.submit({ type: 'delete', address: '10.0.0.2', claimUid: 'a' });
    assert.equal(notMine?.claimRef.uid, 'b');
    const deleted = await c.submit({ type: 'delete', address: '10.0.0.1', claimUid: 'a' });
    assert.equal(deleted, undefined);
    assert.deepEqual(Object.keys(store.obj!.spec.entries!), ['10.0.0.2']);
  });

  it('a release the cached copy does not show yet reads the API server before concluding there is nothing', async () => {
    const store = new FakeStore();
    const c = new LedgerCommitter('l', blank, store);
    await reserve(c, '10.0.0.1', 'a');
    store.cache = structuredClone(store.obj); // the informer caught up: the committer drops its own copy
    c.observed(store.cache!);
    store.apply({ '10.0.0.5': entry('e') }); // written by another replica, not cached yet
    const gets = store.gets;
    const r = await c.submit({ type: 'release', address: '10.0.0.5', claimUid: 'e', at: '2026-01-01T00:00:00Z' });
    assert.equal(r?.releasedAt, '2026-01-01T00:00:00Z');
    assert.ok(store.gets > gets);
  });

  it('two replicas racing for the same addresses: each address gets one holder, and each is told who', async () => {
    const store = new FakeStore();
    const [a, b] = [new LedgerCommitter('l', blank, store), new LedgerCommitter('l', blank, store)];
    const addresses = Array.from({ length: 12 }, (_, i) => `10.0.0.${i}`);
    const answers = await Promise.all(
      addresses.flatMap((address, i) => [
        reserve(a, address, `a${i}`).then((r) => [address, `a${i}`, r?.claimRef.uid] as const),
        reserve(b, address, `b${i}`).then((r) => [address, `b${i}`, r?.claimRef.uid] as const),
      ]),
    );
    const holders = store.obj!.spec.entries!;
    for (const [address, claim, told] of answers) {
      assert.equal(told, holders[address]!.claimRef.uid, `${claim} is told the holder of ${address}`);
    }
    const won = answers.filter(([, claim, told]) => claim === told).map(([address]) => address);
    assert.deepEqual(won.sort(), [...addresses].sort(), 'each address won exactly once');
  });
});
