// What is left behind by a crash, a restart, the reference provider, an older release or a second replica: the
// in-use state is rebuilt from the API on start-up, interrupted allocations are finished with the address already
// taken (a ledger entry, or a reservation an older release wrote), bare IPAddresses are adopted (and duplicates
// reported), ledger entries and reservations of vanished claims are released, and two managers reconciling the same
// claims at once never hand out one address twice.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { IPAddress, IPAddressReservation } from '../../src/api/index.ts';
import { KubeClient } from '../../src/kube/index.ts';
import { testKubeconfig, testNamespace, ownControlPlane } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  claimObject,
  createClaim,
  createPool,
  eventsFor,
  IPAddressClaims,
  IPAddresses,
  IPAddressLedgers,
  IPAddressReservations,
  entriesOfPool,
  entriesSettle,
  ledgerOf,
  readyOf,
  startInCluster,
  suffix,
  waitForAddress,
  waitForReason,
  waitGone,
  type Harness,
} from './in-cluster-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

describe('in-cluster provider: recovery', () => {
  const running: Harness[] = [];
  const start = async (workers = 4) => {
    const h = await startInCluster({ workers, provider: { staleAfterMs: 1000 } });
    running.push(h);
    return h;
  };
  const stop = async (h: Harness) => {
    running.splice(running.indexOf(h), 1);
    await h.stop();
  };
  after(async () => {
    for (const h of running) await h.stop();
  });

  it('a restarted manager keeps every allocation and continues from the API, not from memory', async () => {
    const ns = await testNamespace('ic-restart');
    let h = await start();
    await createPool(h.client, ns, 'p', { addresses: ['10.220.0.1-10.220.0.20'], prefix: 24 });
    for (const m of ['a', 'b', 'c']) await createClaim(h.client, ns, m, 'p');
    const before = await Promise.all(['a', 'b', 'c'].map((m) => waitForAddress(h.client, ns, m)));
    await stop(h);

    h = await start();
    for (const m of ['d', 'e']) await createClaim(h.client, ns, m, 'p');
    const fresh = await Promise.all(['d', 'e'].map((m) => waitForAddress(h.client, ns, m)));
    assert.deepEqual(fresh.map((a) => a.spec.address).sort(), ['10.220.0.4', '10.220.0.5']);
    for (const old of before) {
      const now = await h.client.resource(IPAddresses).get({ namespace: ns, name: old.metadata.name! });
      assert.equal(now.metadata.uid, old.metadata.uid);
      assert.equal(now.spec.address, old.spec.address);
    }
    await stop(h);
  });

  it('finishes allocations interrupted after their record, adopts bare IPAddresses, reports duplicates', async () => {
    const ns = await testNamespace('ic-crash');
    const pool = `p-${suffix()}`;
    const client = KubeClient.load({ kubeconfig: await testKubeconfig() });
    const poolObj = await createPool(client, ns, pool, { addresses: ['10.220.1.1-10.220.1.20'], prefix: 24 });
    // The claims are paused while the scene is set: no manager (other test files run theirs) touches them.
    const paused = { annotations: { 'cluster.x-k8s.io/paused': 'true' } };
    const [x, y, z, , v] = await Promise.all(
      ['x', 'y', 'z', 'w', 'v'].map((m) => createClaim(client, ns, m, pool, 'InClusterIPPool', paused)),
    );
    // Interrupted: the ledger entry of .7 was written for claim x, its IPAddress never was.
    await client.resource(IPAddressLedgers).create(ledgerOf(ns, pool, { '10.220.1.7': ['x', x!.metadata.uid!] }));
    // Interrupted under an older release, which wrote a reservation (of .2) for claim v before its IPAddress.
    await client.resource(IPAddressReservations).create(reservation('10.220.1.2', ns, pool, 'v', v!.metadata.uid!));
    // Written by the reference provider: an IPAddress for claim y, without a reservation ...
    await client
      .resource(IPAddresses)
      .create(bareIPAddress(ns, 'y', pool, poolObj.metadata.uid!, y!.metadata.uid!, '10.220.1.1'));
    // ... and one for z carrying the same address: a duplicate the reference provider could produce.
    await client
      .resource(IPAddresses)
      .create(bareIPAddress(ns, 'z', pool, poolObj.metadata.uid!, z!.metadata.uid!, '10.220.1.1'));

    const h = await start();
    const unpause = (m: string) =>
      client.resource(IPAddressClaims).patch(
        { namespace: ns, name: m },
        {
          metadata: { annotations: { 'cluster.x-k8s.io/paused': null } },
        },
      );
    for (const m of ['x', 'y', 'v', 'w']) await unpause(m);
    assert.equal((await waitForAddress(client, ns, 'x')).spec.address, '10.220.1.7');
    assert.equal((await waitForAddress(client, ns, 'v')).spec.address, '10.220.1.2');
    const yAddress = await waitForAddress(client, ns, 'y');
    assert.equal(yAddress.spec.address, '10.220.1.1');
    // w gets the lowest address nobody holds: not .1 (y's and z's IPAddresses), not .2 (v's reservation), not .7
    // (x's entry).
    assert.equal((await waitForAddress(client, ns, 'w')).spec.address, '10.220.1.3');
    // y's IPAddress holds .1 without any record: the ledger's fence covers it, so that no manager decides on the
    // ledger before its cache shows that IPAddress.
    await waitFor(
      async () => {
        const ledger = await client.resource(IPAddressLedgers).get({ name: `ns.${ns}` });
        const seen = await client.resource(IPAddresses).get({ namespace: ns, name: 'y' });
        return BigInt(ledger.spec.fence ?? '0') >= BigInt(seen.metadata.resourceVersion!);
      },
      { what: "the ledger's fence to cover y's IPAddress" },
    );
    // v's reservation goes when v lets its address go.
    await client.resource(IPAddressClaims).delete({ namespace: ns, name: 'v' });
    await waitGone(
      () => client.resource(IPAddressReservations).get({ name: `ipv4-10-220-1-2.ns.${ns}` }),
      "v's reservation",
    );

    await unpause('z');
    const dup = await waitForReason(client, ns, 'z', 'AllocationFailed');
    assert.match(
      readyOf(dup)!.message,
      new RegExp(`duplicate address: .* 10\\.220\\.1\\.1, which is reserved for IPAddressClaim ${ns}/y`),
    );
    await waitFor(async () => (await eventsFor(client, ns, 'z')).some((e) => e.reason === 'DuplicateAddress'), {
      what: 'a DuplicateAddress event',
    });
    // Reported on both claims; neither IPAddress is dropped.
    for (const [m, other] of [
      ['y', 'z'],
      ['z', 'y'],
    ] as const) {
      await waitFor(
        async () => {
          const c = await client.resource(IPAddressClaims).get({ namespace: ns, name: m });
          const d = c.status?.conditions?.find((x) => x.type === 'DuplicateAddress');
          return d?.status === 'True' && d.message?.includes(`IPAddress ${ns}/${other}`);
        },
        { what: `a DuplicateAddress condition on ${m}` },
      );
    }
    assert.equal((await client.resource(IPAddresses).get({ namespace: ns, name: 'z' })).spec.address, '10.220.1.1');
    // Deleting z ends the duplicate: y says so.
    await client.resource(IPAddressClaims).delete({ namespace: ns, name: 'z' });
    await waitFor(
      async () => {
        const c = await client.resource(IPAddressClaims).get({ namespace: ns, name: 'y' });
        return c.status?.conditions?.find((x) => x.type === 'DuplicateAddress')?.status === 'False';
      },
      { what: 'y no longer a duplicate' },
    );
    assert.equal((await client.resource(IPAddresses).get({ namespace: ns, name: 'y' })).spec.address, '10.220.1.1');
    client.close();
    await stop(h);
  });

  it('releases a ledger entry or a reservation whose claim vanished without an IPAddress', async () => {
    const ns = await testNamespace('ic-stale');
    const h = await start();
    const pool = `p-${suffix()}`;
    await createPool(h.client, ns, pool, { addresses: ['10.220.2.1-10.220.2.2'], prefix: 24 });
    // Claims that no longer exist (force-deleted between their record and their IPAddress).
    await h.client.resource(IPAddressLedgers).create(ledgerOf(ns, pool, { '10.220.2.1': ['vanished', 'no-such-uid'] }));
    await h.client
      .resource(IPAddressReservations)
      .create(reservation('10.220.2.2', ns, pool, 'vanished-earlier', 'no-such-uid-either'));
    await createClaim(h.client, ns, 'next', pool);
    await createClaim(h.client, ns, 'after', pool);
    const got = await Promise.all(['next', 'after'].map((m) => waitForAddress(h.client, ns, m, 60_000)));
    assert.deepEqual(got.map((a) => a.spec.address).sort(), ['10.220.2.1', '10.220.2.2']);
    await stop(h);
  });

  it('two managers serving the same claims at once (a leader hand-over) never hand out one address twice', async () => {
    const ns = await testNamespace('ic-replicas');
    const [a, b] = [await start(8), await start(8)];
    const pool = 'shared';
    await createPool(a.client, ns, pool, { addresses: ['10.220.3.0/24'], prefix: 24 });
    const claims = Array.from({ length: 200 }, (_, i) => claimObject(ns, `m-${i}`, pool));
    await Promise.all(claims.map((c, i) => (i % 2 ? a : b).client.resource(IPAddressClaims).create(c)));
    const all = await waitFor(
      async () => {
        const { items } = await a.client.resource(IPAddresses).listAll({ namespace: ns });
        return items.length === claims.length ? items : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500, what: '200 IPAddresses' },
    );
    const addresses = all.map((i: IPAddress) => i.spec.address);
    assert.equal(new Set(addresses).size, addresses.length, 'duplicate addresses');
    await entriesSettle(a.client, ns, pool, all);
    await Promise.all(
      claims.map((c) => a.client.resource(IPAddressClaims).delete({ namespace: ns, name: c.metadata.name! })),
    );
    await waitGone(
      () => a.client.resource(IPAddressClaims).get({ namespace: ns, name: 'm-199' }),
      'the claims',
      60_000,
    );
    // Released by the claims' deletions, or at worst by the orphan sweep (entries 30 s old) under load.
    await waitFor(async () => (await entriesOfPool(a.client, ns, pool)).length === 0, {
      timeoutMs: 120_000,
      intervalMs: 500,
      what: 'no ledger entry left',
    });
  });
});

function reservation(address: string, ns: string, pool: string, claim: string, uid: string): IPAddressReservation {
  return {
    apiVersion: 'ipam.k0rdent.mirantis.com/v1alpha1',
    kind: 'IPAddressReservation',
    metadata: { name: `ipv4-${address.replaceAll('.', '-')}.ns.${ns}` },
    spec: {
      address,
      domain: `namespace/${ns}`,
      poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', namespace: ns, name: pool },
      claimRef: { namespace: ns, name: claim, uid },
    },
  };
}

function bareIPAddress(
  ns: string,
  name: string,
  pool: string,
  poolUid: string,
  claimUid: string,
  address: string,
): IPAddress {
  return {
    apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
    kind: 'IPAddress',
    metadata: {
      namespace: ns,
      name,
      ownerReferences: [
        {
          apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
          kind: 'IPAddressClaim',
          name,
          uid: claimUid,
          controller: true,
          blockOwnerDeletion: true,
        },
        {
          apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
          kind: 'InClusterIPPool',
          name: pool,
          uid: poolUid,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      address,
      prefix: 24,
      poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: pool },
      claimRef: { name },
    },
  };
}
