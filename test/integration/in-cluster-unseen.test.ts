// What a manager cannot see, against the real API server.
// - A claim that goes away while the ledger write carrying its entry is under way, and the write's outcome is never
//   known (a dropped connection, and the ledger could not be read after it): no object tells anyone, yet the address
//   it was trying must become free again (the next claim gets it)...
// - ...and the pool's count must say so, although no object changed: the attempt under way counted as used, and
//   counts as free once given up. Both used to stay taken for good in the manager that made the attempt (busy run 7:
//   a churned pool kept `used: 3` with no claim, IPAddress or reservation left).
// - A cache that lags behind the API (under load, one watch can be tens of seconds behind another): a ledger entry
//   whose claim the cache does not show yet, its IPAddress not written yet, is in flight, not stale: the sweep must
//   not delete it (that would hand its address to a second claim, as a stress run with five managers once saw with
//   reservations), while it does delete the entry of a claim that never was. The claim's entry is held in flight by
//   holding back the create of its IPAddress (an entry is dropped as soon as its IPAddress is seen).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { IPAddress, IPAddressClaim, IPAddressLedger, IPAddressLedgerEntry } from '../../src/api/index.ts';
import { Namespaces } from '../../src/kube/index.ts';
import type { Manager } from '../../src/runtime/index.ts';
import { privateControlPlane } from '../support/cluster.ts';
import type { ControlPlane } from '../../src/local/controlplane.ts';
import { waitFor } from '../support/wait.ts';
import {
  claimObject,
  createPool,
  InClusterIPPools,
  IPAddressClaims,
  startInCluster,
  waitForAddress,
  wrapClient,
  entriesOfPool,
  entriesSettle,
  entryAt,
  IPAddresses,
  IPAddressLedgers,
  ledgerOf,
  type Harness,
} from './in-cluster-support.ts';

/** A gate a wrapped write waits at: `reached` resolves when the write gets there, `open()` lets it go on. */
function gate() {
  let open!: () => void;
  const g = {
    reached: false,
    reach: () => void (g.reached = true),
    opened: new Promise<void>((r) => (open = r)),
    open: () => open(),
  };
  return g;
}
type Gate = ReturnType<typeof gate>;

describe('in-cluster provider: what the manager cannot see', () => {
  const ns = 'unseen';
  /** Claims (by name) the manager's caches do not show by uid, nor their IPAddresses: a cache that lags. */
  const unseen = new Set<string>();
  /**
   * Claim name → gate before a ledger write carrying its entry fails without an answer (and without writing
   * anything); the read of that ledger that follows fails too, so the outcome stays unknown.
   */
  const lostWrites = new Map<string, Gate>();
  /** Claim name → gate after the manager's finalizer patch of it was committed, before its answer is read. */
  const heldFinalizerPatches = new Map<string, Gate>();
  /** Claim name → gate before the manager's create of its IPAddress is sent. */
  const heldIPAddressCreates = new Map<string, Gate>();
  let cp: ControlPlane | undefined;
  let h: Harness;
  let mgr: Manager;
  after(async () => {
    await h?.stop();
    await cp?.stop();
  });

  before(async () => {
    // Alone with its manager: another manager would serve these claims without the injected faults.
    cp = await privateControlPlane();
    const unreadable = new Set<string>();
    const ledgers = wrapClient(IPAddressLedgers, (real, wrapped) => {
      /** The gate of a claim whose entry the write carries, if any. */
      const gated = (entries: Record<string, IPAddressLedgerEntry | null> | undefined) =>
        Object.values(entries ?? {})
          .map((e) => e?.claimRef?.name && lostWrites.get(e.claimRef.name))
          .find((g) => g !== undefined);
      const lose = async (name: string, g: Gate): Promise<never> => {
        unreadable.add(name);
        g.reach();
        await g.opened;
        throw new Error('injected: connection reset before the answer (outcome unknown, nothing written)');
      };
      wrapped.create = async (obj: IPAddressLedger, opts) => {
        const g = gated(obj.spec.entries);
        return g ? lose(obj.metadata.name!, g) : real.create(obj, opts);
      };
      wrapped.patch = async (key, patch, opts) => {
        const g = gated((patch as { spec?: { entries?: Record<string, IPAddressLedgerEntry | null> } }).spec?.entries);
        return g ? lose(key.name, g) : real.patch(key, patch, opts);
      };
      wrapped.get = async (key, opts) => {
        if (unreadable.delete(key.name)) throw new Error('injected: the read after a lost write failed');
        return real.get(key, opts);
      };
    });
    const claims = wrapClient(IPAddressClaims, (real, wrapped) => {
      wrapped.patch = async (key, patch, opts) => {
        const written: IPAddressClaim = await real.patch(key, patch, opts);
        const g = heldFinalizerPatches.get(key.name);
        if (g && (patch as { metadata?: { finalizers?: unknown } }).metadata?.finalizers) {
          heldFinalizerPatches.delete(key.name);
          g.reach();
          await g.opened;
        }
        return written;
      };
    });
    const ipAddresses = wrapClient(IPAddresses, (real, wrapped) => {
      wrapped.create = async (obj: IPAddress, opts) => {
        const g = heldIPAddressCreates.get(obj.metadata.name!);
        if (g) {
          heldIPAddressCreates.delete(obj.metadata.name!);
          g.reach();
          await g.opened;
        }
        return real.create(obj, opts);
      };
    });
    const capture = { name: 'capture', setup: (m: Manager) => void (mgr = m) };
    const lagging = {
      name: 'lagging',
      setup(m: Manager) {
        const claimCache = m.informer(IPAddressClaims);
        const byIndex = claimCache.byIndex.bind(claimCache);
        claimCache.byIndex = (index, value) => byIndex(index, value).filter((c) => !unseen.has(c.metadata.name!));
        const ipaCache = m.informer(IPAddresses);
        const get = ipaCache.get.bind(ipaCache);
        ipaCache.get = ((key: Parameters<typeof get>[0]) => {
          const name = typeof key === 'string' ? key.split('/').pop()! : key.name;
          return unseen.has(name) ? undefined : get(key);
        }) as typeof get;
      },
    };
    h = await startInCluster({
      before: [ledgers, claims, ipAddresses, capture, lagging],
      // Entries look stale to the sweep 1 s after it first saw them.
      provider: { staleAfterMs: 1000 },
      kubeconfig: cp.kubeconfigPath,
    });
    await h.client.resource(Namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await createPool(h.client, ns, 'p1', { addresses: ['10.230.0.10-10.230.0.20'], prefix: 24 });
    await createPool(h.client, ns, 'p2', { addresses: ['10.230.1.10-10.230.1.20'], prefix: 24 });
    await createPool(h.client, ns, 'p3', { addresses: ['10.230.2.10-10.230.2.20'], prefix: 24 });
  });

  /** Deletes the claim for good (its finalizer removed, as a manager's release would) and waits until the manager sees it gone. */
  async function vanish(name: string): Promise<void> {
    const claims = h.client.resource(IPAddressClaims);
    await claims.delete({ namespace: ns, name });
    await claims.patch({ namespace: ns, name }, { metadata: { finalizers: null } });
    await waitFor(() => mgr.informer(IPAddressClaims).get(`${ns}/${name}`) === undefined, {
      what: `the manager to see claim ${name} gone`,
    });
  }

  const used = async (pool: string, note: <S>(s: S) => S) =>
    note((await h.client.resource(InClusterIPPools).get({ namespace: ns, name: pool })).status?.ipAddresses?.used);

  it('frees the address even when the claim was gone before the attempt was made', async () => {
    const patched = gate();
    const created = gate();
    heldFinalizerPatches.set('early', patched);
    lostWrites.set('early', created);
    created.open(); // the write fails as soon as it is sent
    await h.client.resource(IPAddressClaims).create(claimObject(ns, 'early', 'p1'));
    await waitFor(() => patched.reached, { what: 'the finalizer patch of claim early' });
    // The claim's delete event comes before the reconcile that is allocating for it holds an address.
    await vanish('early');
    patched.open();
    await waitFor(() => created.reached, { what: 'the ledger write of claim early' });

    // The attempt's address is free: the next claim gets the pool's first address.
    await h.client.resource(IPAddressClaims).create(claimObject(ns, 'next', 'p1'));
    const ipa = await waitForAddress(h.client, ns, 'next');
    assert.equal(ipa.spec.address, '10.230.0.10', 'the address tried for the gone claim stayed taken');
    await waitFor(async (note) => (await used('p1', note)) === 1, { what: 'the pool to count 1 used (claim next)' });
  });

  it('counts the address free again once the attempt is given up, although no object changed', async () => {
    const created = gate();
    lostWrites.set('late', created);
    await h.client.resource(IPAddressClaims).create(claimObject(ns, 'late', 'p2'));
    await waitFor(() => created.reached, { what: 'the ledger write of claim late' });
    // Any change of the pool makes it count now: the attempt under way is counted as used.
    await h.client
      .resource(InClusterIPPools)
      .patch({ namespace: ns, name: 'p2' }, { metadata: { labels: { woken: 'yes' } } });
    await waitFor(async (note) => (await used('p2', note)) === 1, { what: 'the pool to count the attempt as used' });
    // The claim goes (its delete event drops the attempt), then the write fails without an answer.
    await vanish('late');
    created.open();
    await waitFor(async (note) => (await used('p2', note)) === 0, {
      what: 'the pool to count 0 used once the attempt of the gone claim is given up',
    });
  });

  it('does not delete the entry of a claim its cache does not show yet, nor hand its address out', async () => {
    const held = gate();
    heldIPAddressCreates.set('live', held);
    const claims = h.client.resource(IPAddressClaims);
    const { uid } = (await claims.create(claimObject(ns, 'live', 'p3'))).metadata;
    await waitFor(() => held.reached, { what: 'the IPAddress create of claim live' });
    // Its address taken, its IPAddress not written yet: the claim's entry holds the address.
    const mine = (await entriesOfPool(h.client, ns, 'p3')).find((e) => e.claimRef.uid === uid);
    assert.ok(mine, "the live claim's entry");
    unseen.add('live');
    // An entry of a claim that never was, written by hand into the same ledger after the claim's: the sweep looks at
    // the pool's entries in the order it saw them, so once it has deleted this one it has looked at the claim's too,
    // well after that one looked stale to the cache.
    const decoy = '10.230.2.20';
    const never = ledgerOf(ns, 'p3', { [decoy]: ['never-was', randomUUID()] });
    assert.equal(never.metadata.name, mine.ledger);
    await h.client.resource(IPAddressLedgers).patch({ name: mine.ledger }, { spec: { entries: never.spec.entries } });
    await waitFor(async () => (await entryAt(h.client, mine.domain, decoy)) === undefined, {
      what: 'the sweep to delete the entry of a claim that never was',
    });
    const kept = await entryAt(h.client, mine.domain, mine.address);
    assert.equal(kept?.claimRef.uid, uid, "the sweep deleted the live claim's entry on the cache's word");

    // What a user would see had it gone: the next claim of the pool would get the live claim's address.
    await claims.create(claimObject(ns, 'second', 'p3'));
    const second = await waitForAddress(h.client, ns, 'second');
    assert.notEqual(second.spec.address, mine.address, "the live claim's address was handed out again");
    // The live claim's IPAddress written (the cache still does not show it), the claim is Ready with its address.
    held.open();
    const live = await waitForAddress(h.client, ns, 'live');
    assert.equal(live.spec.address, mine.address);
    unseen.delete('live');
    await entriesSettle(h.client, ns, 'p3', [live, second]);
  });
});
