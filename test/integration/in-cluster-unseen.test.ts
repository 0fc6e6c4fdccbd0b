// What a manager cannot see, against the real API server.
// - A claim that goes away while its reservation is being created, and the create's outcome is never known (a
//   dropped connection): no object tells anyone, yet the address it was trying must become free again, and the
//   pool's count must say so. Both used to stay taken for good in the manager that made the attempt (busy run 7: a
//   churned pool kept `used: 3` with no claim, IPAddress or reservation left).
// - A cache that lags behind the API (under load, one watch can be tens of seconds behind another): a reservation
//   whose claim and IPAddress the cache does not show yet is not stale, and must not be released (a stress run with
//   five managers saw an address reserved for one claim while another claim's IPAddress carried it).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { IPAddressClaim, IPAddressReservation } from '../../src/api/index.ts';
import { Namespaces } from '../../src/kube/index.ts';
import type { Manager } from '../../src/runtime/index.ts';
import { parseAddress } from '../../src/core/index.ts';
import { reservationName } from '../../src/providers/in-cluster/names.ts';
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
  getOrUndefined,
  IPAddresses,
  IPAddressReservations,
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
  /** Claim name → gate before its reservation create fails without an answer (and without creating anything). */
  const lostCreates = new Map<string, Gate>();
  /** Claim name → gate after the manager's finalizer patch of it was committed, before its answer is read. */
  const heldFinalizerPatches = new Map<string, Gate>();
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
    const reservations = wrapClient(IPAddressReservations, (real, wrapped) => {
      wrapped.create = async (obj: IPAddressReservation, opts) => {
        const g = lostCreates.get(obj.spec.claimRef.name);
        if (!g) return real.create(obj, opts);
        g.reach();
        await g.opened;
        throw new Error('injected: connection reset before the answer (outcome unknown, nothing created)');
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
      before: [reservations, claims, capture, lagging],
      // Reservations look stale to the sweep 1 s after it first saw them.
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
    lostCreates.set('early', created);
    created.open(); // the create fails as soon as it is sent
    await h.client.resource(IPAddressClaims).create(claimObject(ns, 'early', 'p1'));
    await waitFor(() => patched.reached, { what: 'the finalizer patch of claim early' });
    // The claim's delete event comes before the reconcile that is allocating for it holds an address.
    await vanish('early');
    patched.open();
    await waitFor(() => created.reached, { what: 'the reservation create of claim early' });

    // The attempt's address is free: the next claim gets the pool's first address.
    await h.client.resource(IPAddressClaims).create(claimObject(ns, 'next', 'p1'));
    const ipa = await waitForAddress(h.client, ns, 'next');
    assert.equal(ipa.spec.address, '10.230.0.10', 'the address tried for the gone claim stayed taken');
    await waitFor(async (note) => (await used('p1', note)) === 1, { what: 'the pool to count 1 used (claim next)' });
  });

  it('counts the address free again once the attempt is given up, although no object changed', async () => {
    const created = gate();
    lostCreates.set('late', created);
    await h.client.resource(IPAddressClaims).create(claimObject(ns, 'late', 'p2'));
    await waitFor(() => created.reached, { what: 'the reservation create of claim late' });
    // Any change of the pool makes it count now: the attempt under way is counted as used.
    await h.client
      .resource(InClusterIPPools)
      .patch({ namespace: ns, name: 'p2' }, { metadata: { labels: { woken: 'yes' } } });
    await waitFor(async (note) => (await used('p2', note)) === 1, { what: 'the pool to count the attempt as used' });
    // The claim goes (its delete event drops the attempt), then the create fails without an answer.
    await vanish('late');
    created.open();
    await waitFor(async (note) => (await used('p2', note)) === 0, {
      what: 'the pool to count 0 used once the attempt of the gone claim is given up',
    });
  });

  it('does not release a reservation whose claim and IPAddress its cache does not show yet', async () => {
    await h.client.resource(IPAddressClaims).create(claimObject(ns, 'live', 'p3'));
    const ipa = await waitForAddress(h.client, ns, 'live');
    const reservationOf = (address: string) => reservationName('namespace/' + ns, parseAddress(address));
    const mine = await h.client.resource(IPAddressReservations).get({ name: reservationOf(ipa.spec.address) });
    unseen.add('live');
    // A reservation whose claim never existed, made after the claim's: once the sweep has released it, it has
    // looked at the claim's too, well after that one looked stale to the cache.
    const decoy = '10.230.2.20';
    await h.client.resource(IPAddressReservations).create({
      apiVersion: 'ipam.k0rdent.mirantis.com/v1alpha1',
      kind: 'IPAddressReservation',
      metadata: { name: reservationOf(decoy) },
      spec: {
        address: decoy,
        domain: 'namespace/' + ns,
        poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'p3', namespace: ns },
        claimRef: { namespace: ns, name: 'never-was', uid: randomUUID() },
      },
    } as IPAddressReservation);
    await waitFor(
      async () => {
        const r = await getOrUndefined(h.client.resource(IPAddressReservations).get({ name: reservationOf(decoy) }));
        return r === undefined || r.spec.releasedAt !== undefined;
      },
      { what: 'the sweep to release the reservation of a claim that never was' },
    );
    const after = await h.client.resource(IPAddressReservations).get({ name: mine.metadata.name! });
    assert.equal(after.metadata.uid, mine.metadata.uid);
    assert.equal(after.spec.releasedAt, undefined, "the live claim's reservation was released on the cache's word");
  });
});
