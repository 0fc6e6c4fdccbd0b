// `clusterctl move` between two real control planes (spec 02 §2.3): the source's pool and claims are paused; the
// target receives the pool (paused), then the IPAddresses (some without owner references, some with the source's
// now stale ones, which the target's garbage collector starts deleting), then the claims; then everything is
// unpaused. Every moved claim keeps exactly its address in an IPAddress it owns, no other claim of the target gets
// one of those addresses (a claim created in the target meanwhile gets the hole the source left), and the target's
// ledger keeps no stray entry (what is left is in flight for a claim whose IPAddress carries the address).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IPAddress, IPAddressClaim } from '../../src/api/index.ts';
import { inClusterPoolController } from '../../src/controllers/inclusterpool.ts';
import { ipAddressClaimController } from '../../src/controllers/ipaddressclaim.ts';
import { KubeClient, Namespaces } from '../../src/kube/index.ts';
import type { ControlPlane } from '../../src/local/controlplane.ts';
import { privateControlPlane, testNamespace } from '../support/cluster.ts';
import { startTestManager, type TestManager } from '../support/manager.ts';
import { waitFor } from '../support/wait.ts';
import {
  claimObject,
  createClaim,
  createPool,
  InClusterIPPools,
  IPAddressClaims,
  IPAddresses,
  entriesSettle,
  startInCluster,
  waitForAddress,
  type Harness,
} from './in-cluster-support.ts';

const paused = 'cluster.x-k8s.io/paused';

describe('in-cluster provider: clusterctl move', () => {
  let source: Harness;
  let target: ControlPlane;
  let targetClient: KubeClient;
  let targetManager: TestManager;
  before(async () => {
    source = await startInCluster();
    target = await privateControlPlane();
    targetClient = KubeClient.load({ kubeconfig: target.kubeconfigPath });
    targetManager = await startTestManager([ipAddressClaimController(), inClusterPoolController()], {
      kubeconfig: target.kubeconfigPath,
    });
  });
  after(async () => {
    await targetManager?.stop();
    targetClient?.close();
    await target?.stop();
    await source?.stop();
  });

  it('keeps every address, adopts the IPAddresses, and hands none of them out again', async () => {
    const ns = await testNamespace('move');
    const spec = { addresses: ['10.222.0.1-10.222.0.10'], prefix: 24, gateway: '10.222.0.254' };
    await createPool(source.client, ns, 'nodes', spec);
    const names = ['cp-0', 'cp-1', 'cp-2', 'md-0', 'md-1'];
    for (const m of names) await createClaim(source.client, ns, m, 'nodes');
    const before = new Map<string, IPAddress>();
    for (const m of names) before.set(m, await waitForAddress(source.client, ns, m));
    // Holes, so that "lowest free" in the target would differ from the moved addresses.
    await source.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'cp-1' });
    await waitFor(
      async () =>
        !(await source.client.resource(IPAddresses).listAll({ namespace: ns })).items.some(
          (a) => a.metadata.name === 'cp-1',
        ),
      { what: 'cp-1 released' },
    );
    const hole = before.get('cp-1')!.spec.address;
    before.delete('cp-1');
    const moved = [...before.keys()];

    // clusterctl move: pause the source ...
    const pause = { metadata: { annotations: { [paused]: 'true' } } };
    await source.client.resource(InClusterIPPools).patch({ namespace: ns, name: 'nodes' }, pause);
    for (const m of moved) await source.client.resource(IPAddressClaims).patch({ namespace: ns, name: m }, pause);

    // ... re-create the pool (paused), the IPAddresses, then the claims, by name, in the target.
    await targetClient.resource(Namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await createPool(targetClient, ns, 'nodes', spec, { [paused]: 'true' });
    for (const [i, m] of moved.entries()) {
      const src = before.get(m)!;
      const ipa: IPAddress = {
        apiVersion: src.apiVersion,
        kind: 'IPAddress',
        metadata: {
          name: m,
          namespace: ns,
          labels: src.metadata.labels,
          finalizers: src.metadata.finalizers,
          // Half keep the source's owner references (uids that do not exist here), half have none.
          ...(i % 2 === 0 ? { ownerReferences: src.metadata.ownerReferences } : {}),
        },
        spec: src.spec,
      };
      await targetClient.resource(IPAddresses).create(ipa);
    }
    // A claim of the target's own, created while the move is under way: it must not get a moved address.
    await createClaim(targetClient, ns, 'fresh', 'nodes');
    for (const m of moved) {
      const c: IPAddressClaim = claimObject(ns, m, 'nodes', 'InClusterIPPool', { annotations: { [paused]: 'true' } });
      await targetClient.resource(IPAddressClaims).create(c);
    }

    // Unpause the target.
    const unpause = { metadata: { annotations: { [paused]: null } } };
    await targetClient.resource(InClusterIPPools).patch({ namespace: ns, name: 'nodes' }, unpause);
    for (const m of moved) await targetClient.resource(IPAddressClaims).patch({ namespace: ns, name: m }, unpause);

    for (const m of moved) {
      const got = await waitForAddress(targetClient, ns, m, 60_000);
      assert.equal(got.spec.address, before.get(m)!.spec.address, `${m} kept its address`);
      const claim = await targetClient.resource(IPAddressClaims).get({ namespace: ns, name: m });
      assert.ok(
        got.metadata.ownerReferences?.some((r) => r.controller && r.uid === claim.metadata.uid),
        `${m}'s IPAddress is owned by the moved claim`,
      );
    }
    const fresh = await waitForAddress(targetClient, ns, 'fresh', 60_000);
    const movedAddresses = [...before.values()].map((a) => a.spec.address);
    assert.ok(!movedAddresses.includes(fresh.spec.address), `fresh got ${fresh.spec.address}, a moved address`);
    assert.equal(fresh.spec.address, hole, 'fresh gets the hole the source left');

    // The target settles to one IPAddress per claim (those the garbage collector deleted re-created), each owned by
    // its claim, each moved address carried by its own claim's IPAddress alone.
    const claimUids = new Map(
      (await targetClient.resource(IPAddressClaims).listAll({ namespace: ns })).items.map((c) => [
        c.metadata.name,
        c.metadata.uid,
      ]),
    );
    const want = [...moved.map((m) => `${m}=${before.get(m)!.spec.address}`), `fresh=${hole}`].sort();
    const ipAddresses = await waitFor(
      async (note) => {
        const items = (await targetClient.resource(IPAddresses).listAll({ namespace: ns })).items;
        const seen = items
          .map(
            (a) =>
              `${a.metadata.name}=${a.spec.address}` +
              (a.metadata.deletionTimestamp ? ' (deleting)' : '') +
              (a.metadata.ownerReferences?.some((r) => r.controller && r.uid === claimUids.get(a.metadata.name!))
                ? ''
                : ' (not owned by its claim)'),
          )
          .sort();
        note(seen);
        return JSON.stringify(seen) === JSON.stringify(want) ? items : undefined;
      },
      { what: `the target's IPAddresses to be ${want.join(', ')}, each owned by its claim` },
    );
    // No stray ledger entry: none for an address its claim's IPAddress does not carry (a moved claim adopted while
    // the garbage collector deleted its IPAddress takes an entry; it is in flight until its new IPAddress is seen).
    await entriesSettle(targetClient, ns, 'nodes', ipAddresses, 60_000);
  });
});
