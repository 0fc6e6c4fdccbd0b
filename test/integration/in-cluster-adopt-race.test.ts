// A claim adopting an IPAddress that already exists (as after `clusterctl move`) while another claim's ledger entry
// of the same address comes and goes. Adoption writes no entry: its `cover` raises the domain's IPAddressLedger fence
// to the IPAddress (so that no manager decides on the ledger without seeing it), a compare-and-swap write decided on
// the ledger as this manager last saw it; another claim's entry at the address makes the claim report the duplicate.
// A wrapper of the manager's ledger client writes the other claim's entry just before the cover's write arrives, so
// the write is refused (409) and the cover decided again on the ledger read after it.
// - The entry goes before that read (the old race of reservations: 409 on the create, 404 on the read that
//   followed): the claim must end Ready with its address, without reporting a duplicate, on that one reconcile (the
//   address is outside its pool's range, so nothing would wake it had it stopped at AllocationFailed).
// - The entry is still there when the cover is decided again: the claim reports AllocationFailed, a duplicate naming
//   the other claim; once the entry goes (its claim released it), the claim becomes Ready with the address of its
//   IPAddress, which never changes. Nothing but the entry's going can wake it (its result asks for no retry), and
//   the address is not free then (its own IPAddress carries it), so it is not woken as a claim waiting for a free
//   address would be.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IPAddress } from '../../src/api/index.ts';
import { KubeClient, Namespaces } from '../../src/kube/index.ts';
import type { ControlPlane } from '../../src/local/controlplane.ts';
import { privateControlPlane } from '../support/cluster.ts';
import {
  claimObject,
  conditionOf,
  createPool,
  entriesOfPool,
  eventsFor,
  getOrUndefined,
  IPAddressClaims,
  IPAddresses,
  IPAddressLedgers,
  ledgerOf,
  startInCluster,
  waitForAddress,
  waitForReason,
  wrapClient,
  type Harness,
} from './in-cluster-support.ts';

/** How the other claim's entry behaves in a namespace: written before the cover's write, and gone before the read? */
interface Race {
  address: string;
  goneBeforeRead: boolean;
  /** What happened, in order. */
  steps: string[];
}

const otherUid = 'a5c0ffee-0000-4000-8000-000000000001';

/** The IPAddress of claim `m`, as `clusterctl move` re-creates it before its claim (no owner reference yet). */
function movedIPAddress(ns: string, address: string): IPAddress {
  return {
    apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
    kind: 'IPAddress',
    metadata: { namespace: ns, name: 'm' },
    spec: {
      address,
      prefix: 24,
      poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'p' },
      claimRef: { name: 'm' },
    },
  };
}

describe('in-cluster provider: adopting while another claim takes and lets go of the address', () => {
  let cp: ControlPlane;
  let h: Harness;
  let direct: KubeClient;
  /** By ledger name (`ns.<namespace>`). */
  const races = new Map<string, Race>();

  before(async () => {
    // Alone with its manager: another manager on the control plane would adopt without the race.
    cp = await privateControlPlane();
    direct = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
    const ledgers = direct.resource(IPAddressLedgers);
    /** Ledgers whose next read must not show the other claim's entry. */
    const goBeforeRead = new Set<string>();
    const holder = wrapClient(IPAddressLedgers, (real, wrapped) => {
      // The cover's write: the fence raised, no entry added (a reserve adds one).
      const race = async (name: string, spec: { fence?: string; entries?: Record<string, unknown> } | undefined) => {
        const r = races.get(name);
        if (!r || r.steps.length > 0 || !spec?.fence) return;
        if (Object.values(spec.entries ?? {}).some((e) => e !== null)) return;
        const other = ledgerOf(name.slice('ns.'.length), 'p', { [r.address]: ['other', otherUid] });
        if (await getOrUndefined(ledgers.get({ name }))) await ledgers.patch({ name }, { spec: other.spec });
        else await ledgers.create(other);
        r.steps.push('written by another claim');
        if (r.goneBeforeRead) goBeforeRead.add(name);
      };
      wrapped.create = async (obj, opts) => {
        await race(obj.metadata.name!, obj.spec);
        return real.create(obj, opts);
      };
      wrapped.patch = async (key, patch, opts) => {
        await race(key.name, (patch as { spec?: { fence?: string; entries?: Record<string, unknown> } }).spec);
        return real.patch(key, patch, opts);
      };
      wrapped.get = async (key, opts) => {
        if (goBeforeRead.delete(key.name)) {
          await ledgers.patch({ name: key.name }, { spec: { entries: { [races.get(key.name)!.address]: null } } });
          races.get(key.name)!.steps.push('gone before the read');
        }
        return real.get(key, opts);
      };
    });
    h = await startInCluster({ before: [holder], kubeconfig: cp.kubeconfigPath });
  });

  after(async () => {
    await h?.stop();
    direct?.close();
    await cp?.stop();
  });

  /** The namespace with pool p, the moved IPAddress of claim m carrying `address`, then claim m. */
  async function moveIn(ns: string, address: string, range: string): Promise<IPAddress> {
    await direct.resource(Namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await createPool(direct, ns, 'p', { addresses: [range], prefix: 24 });
    const ipa = await direct.resource(IPAddresses).create(movedIPAddress(ns, address));
    await direct.resource(IPAddressClaims).create(claimObject(ns, 'm', 'p'));
    return ipa;
  }

  const duplicatesReported = async (ns: string) =>
    (await eventsFor(direct, ns, 'm')).filter((e) => e.reason === 'DuplicateAddress').map((e) => e.message);

  it('keeps its address without reporting a duplicate when the entry is gone before the read', async () => {
    const ns = 'adopt-race';
    // Moved in with an address the pool (changed since) no longer has.
    const moved = '10.207.0.99';
    const race: Race = { address: moved, goneBeforeRead: true, steps: [] };
    races.set(`ns.${ns}`, race);
    const created = await moveIn(ns, moved, '10.207.0.1-10.207.0.10');

    const ipa = await waitForAddress(direct, ns, 'm', 60_000);
    assert.deepEqual(race.steps, ['written by another claim', 'gone before the read']);
    assert.equal(ipa.metadata.uid, created.metadata.uid, 'the IPAddress was replaced');
    assert.equal(ipa.spec.address, moved);
    assert.deepEqual(await duplicatesReported(ns), [], 'a duplicate was reported');
    // Adoption wrote no entry; the cover raised the fence to the IPAddress it saw.
    const ledger = await direct.resource(IPAddressLedgers).get({ name: `ns.${ns}` });
    assert.deepEqual(Object.keys(ledger.spec.entries ?? {}), []);
    assert.ok(BigInt(ledger.spec.fence ?? '0') >= BigInt(created.metadata.resourceVersion!), ledger.spec.fence);
  });

  it('reports the duplicate while the entry holds the address, and keeps its address once it goes', async () => {
    const ns = 'adopt-dup';
    // Within the pool's range: the entry's going wakes the claims of the pool waiting for it.
    const moved = '10.207.1.5';
    const race: Race = { address: moved, goneBeforeRead: false, steps: [] };
    races.set(`ns.${ns}`, race);
    const created = await moveIn(ns, moved, '10.207.1.1-10.207.1.10');

    const failed = await waitForReason(direct, ns, 'm', 'AllocationFailed');
    assert.deepEqual(race.steps, ['written by another claim']);
    assert.match(conditionOf(failed, 'Ready')?.message ?? '', new RegExp(`${moved}.*IPAddressClaim ${ns}/other`));
    assert.equal(failed.status?.addressRef?.name, undefined);
    assert.ok(
      (await duplicatesReported(ns)).some((message) => message?.includes(`IPAddressClaim ${ns}/other`)),
      'the duplicate was reported as an Event',
    );

    // The other claim lets the address go (it was deleted, its release removed its entry).
    await direct.resource(IPAddressLedgers).patch({ name: `ns.${ns}` }, { spec: { entries: { [moved]: null } } });
    const ipa = await waitForAddress(direct, ns, 'm', 60_000);
    assert.equal(ipa.metadata.uid, created.metadata.uid, 'the IPAddress was replaced');
    assert.equal(ipa.spec.address, moved);
    assert.deepEqual(await entriesOfPool(direct, ns, 'p'), [], 'adoption wrote an entry');
  });
});
