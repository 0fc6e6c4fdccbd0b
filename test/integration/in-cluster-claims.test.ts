// The in-cluster provider answering IPAddressClaims, on the real API server: what Cluster API's contract asks of
// the IPAddress and the claim, the worked allocation examples, deletion, waiting on a full pool, global pools.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testNamespace, ownControlPlane } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  conditionOf,
  createClaim,
  createPool,
  eventsFor,
  getOrUndefined,
  GlobalInClusterIPPools,
  IPAddressClaims,
  IPAddresses,
  IPAddressLedgers,
  IPAddressReservations,
  InClusterIPPools,
  entriesOfPool,
  entryAt,
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

describe('in-cluster provider: claims', () => {
  let h: Harness;
  before(async () => {
    h = await startInCluster();
  });
  after(async () => {
    await h?.stop();
  });

  it('answers a claim with an IPAddress as the Cluster API contract says', async () => {
    const ns = await testNamespace('ic-contract');
    const pool = await createPool(h.client, ns, 'pool', {
      addresses: ['10.201.0.1-10.201.0.254'],
      prefix: 24,
      gateway: '10.201.0.2',
    });
    const claim = await createClaim(h.client, ns, 'machine-0', 'pool', 'InClusterIPPool', {
      labels: { 'cluster.x-k8s.io/cluster-name': 'prod' },
    });
    const ipa = await waitForAddress(h.client, ns, 'machine-0');
    assert.deepEqual(ipa.spec, {
      address: '10.201.0.1',
      prefix: 24,
      gateway: '10.201.0.2',
      poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'pool' },
      claimRef: { name: 'machine-0' },
    });
    assert.deepEqual(ipa.metadata.finalizers, ['ipam.cluster.x-k8s.io/ProtectAddress']);
    assert.equal(ipa.metadata.labels?.['cluster.x-k8s.io/cluster-name'], 'prod');
    const refs = ipa.metadata.ownerReferences ?? [];
    assert.deepEqual(
      refs.map((r) => [r.kind, r.name, r.uid, r.controller, r.blockOwnerDeletion]),
      [
        ['IPAddressClaim', 'machine-0', claim.metadata.uid, true, true],
        ['InClusterIPPool', 'pool', pool.metadata.uid, false, true],
      ],
    );
    const got = await h.client.resource(IPAddressClaims).get({ namespace: ns, name: 'machine-0' });
    assert.deepEqual(got.metadata.finalizers, ['ipam.cluster.x-k8s.io/ReleaseAddress']);
    assert.equal(got.status?.addressRef?.name, 'machine-0');
    assert.equal(readyOf(got)?.reason, 'AddressAllocated');
    // Ready in the older shape, where Cluster API keeps it for v1beta1 readers.
    assert.deepEqual(got.status?.deprecated?.v1beta1?.conditions, [
      {
        type: 'Ready',
        status: 'True',
        reason: 'AddressAllocated',
        message: 'IPAddress machine-0 allocated',
        lastTransitionTime: readyOf(got)?.lastTransitionTime,
      },
    ]);
    // The address was taken in the ledger of the namespace's address domain, for this claim: the entry stays until
    // the ledger's next write sees the IPAddress (and the sweep writes one when no allocation does); no
    // reservation object is written.
    const ledger = await h.client.resource(IPAddressLedgers).get({ name: `ns.${ns}` });
    assert.equal(ledger.spec.domain, `namespace/${ns}`);
    for (const [address, entry] of Object.entries(ledger.spec.entries ?? {})) {
      assert.equal(address, '10.201.0.1');
      assert.deepEqual(entry.claimRef, { namespace: ns, name: 'machine-0', uid: claim.metadata.uid });
      assert.deepEqual(entry.poolRef, {
        apiGroup: 'ipam.cluster.x-k8s.io',
        kind: 'InClusterIPPool',
        namespace: ns,
        name: 'pool',
      });
    }
    const reservation = h.client.resource(IPAddressReservations).get({ name: `ipv4-10-201-0-1.ns.${ns}` });
    assert.equal(await getOrUndefined(reservation), undefined);
    // The pool is protected and counts the address.
    await waitFor(
      async () => {
        const live = await h.client.resource(InClusterIPPools).get({ namespace: ns, name: 'pool' });
        return (
          live.metadata.finalizers?.includes('ipam.cluster.x-k8s.io/ProtectPool') &&
          live.status?.ipAddresses?.used === 1 &&
          live.status.ipAddresses.total === 253 &&
          live.status.ipAddresses.free === 252
        );
      },
      { what: 'pool status to count the address' },
    );
  });

  it('hands out the lowest free usable address, whatever the order of the pool entries (worked examples)', async () => {
    const ns = await testNamespace('ic-examples');
    const examples = [
      {
        spec: {
          addresses: ['10.201.1.255', '10.201.1.2', '10.201.1.1', '10.201.1.0'],
          prefix: 24,
          gateway: '10.201.1.1',
        },
        want: ['10.201.1.2'],
      },
      {
        spec: {
          addresses: ['10.201.2.0/24'],
          excludedAddresses: ['10.201.2.7', '10.201.2.2-10.201.2.5'],
          prefix: 24,
          gateway: '10.201.2.1',
        },
        want: ['10.201.2.6', '10.201.2.8', '10.201.2.9'],
      },
      { spec: { addresses: ['fd01:5::10-fd01:5::12', 'fd01:5::1'], prefix: 64 }, want: ['fd01:5::1', 'fd01:5::10'] },
    ];
    for (const [i, { spec, want }] of examples.entries()) {
      await createPool(h.client, ns, `pool-${i}`, spec);
      // One at a time: the order of creation is the order of allocation.
      for (const [j, address] of want.entries()) {
        await createClaim(h.client, ns, `m-${i}-${j}`, `pool-${i}`);
        assert.equal((await waitForAddress(h.client, ns, `m-${i}-${j}`)).spec.address, address);
      }
    }
    // 10.201.1.255 is the broadcast address of 10.201.1.0/24: the first pool is now exhausted.
    await createClaim(h.client, ns, 'm-0-extra', 'pool-0');
    const waiting = await waitForReason(h.client, ns, 'm-0-extra', 'PoolExhausted');
    assert.match(readyOf(waiting)!.message, new RegExp(`InClusterIPPool ${ns}/pool-0`));
    assert.equal(readyOf(waiting)!.status, 'False');
  });

  it('releases on deletion: IPAddress, ledger entry and finalizers go, and the address is reused', async () => {
    const ns = await testNamespace('ic-delete');
    await createPool(h.client, ns, 'pool', { addresses: ['10.201.3.10-10.201.3.20'], prefix: 24 });
    await createClaim(h.client, ns, 'a', 'pool');
    await createClaim(h.client, ns, 'b', 'pool');
    const a = await waitForAddress(h.client, ns, 'a');
    const b = await waitForAddress(h.client, ns, 'b');
    assert.deepEqual([a.spec.address, b.spec.address].sort(), ['10.201.3.10', '10.201.3.11']);

    await h.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'a' });
    await waitGone(() => h.client.resource(IPAddressClaims).get({ namespace: ns, name: 'a' }), 'claim a');
    assert.equal(await getOrUndefined(h.client.resource(IPAddresses).get({ namespace: ns, name: 'a' })), undefined);
    assert.equal(await entryAt(h.client, `namespace/${ns}`, a.spec.address), undefined);

    await createClaim(h.client, ns, 'c', 'pool');
    assert.equal((await waitForAddress(h.client, ns, 'c')).spec.address, a.spec.address);
    // b never moved.
    const bAgain = await h.client.resource(IPAddresses).get({ namespace: ns, name: 'b' });
    assert.equal(bAgain.metadata.uid, b.metadata.uid);
  });

  it("keeps the claim status another writer set: its conditions, in both shapes, survive the manager's writes", async () => {
    const ns = await testNamespace('ic-status');
    await createPool(h.client, ns, 'pool', { addresses: ['10.201.4.10-10.201.4.20'], prefix: 24 });
    await createClaim(h.client, ns, 'm', 'pool');
    await waitForAddress(h.client, ns, 'm');
    const claims = h.client.resource(IPAddressClaims);
    const allocated = await waitForReason(h.client, ns, 'm', 'AddressAllocated');
    // Another controller's condition, in the v1beta2 list and in the older shape kept for v1beta1 readers.
    const theirs = { type: 'ExampleHealthy', status: 'True', reason: 'Fine', message: 'all good' };
    const at = { lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
    await claims.patchStatus(
      { namespace: ns, name: 'm' },
      {
        status: {
          conditions: [...(allocated.status?.conditions ?? []), { ...theirs, ...at }],
          deprecated: {
            v1beta1: {
              conditions: [...(allocated.status?.deprecated?.v1beta1?.conditions ?? []), { ...theirs, ...at }],
            },
          },
        },
      },
    );
    // Pausing the claim and resuming it makes the manager write its conditions twice.
    const annotate = (value: string | null) =>
      claims.patch({ namespace: ns, name: 'm' }, { metadata: { annotations: { 'cluster.x-k8s.io/paused': value } } });
    for (const [value, paused] of [
      ['true', 'True'],
      [null, 'False'],
    ] as const) {
      await annotate(value);
      const claim = await waitFor(
        async (note) => {
          const got = await claims.get({ namespace: ns, name: 'm' });
          note(got.status?.conditions ?? 'no conditions');
          return conditionOf(got, 'Paused')?.status === paused ? got : undefined;
        },
        { what: `claim ${ns}/m to say Paused=${paused}` },
      );
      assert.equal(conditionOf(claim, 'ExampleHealthy')?.message, 'all good', 'their v1beta2 condition');
      assert.deepEqual(
        claim.status?.deprecated?.v1beta1?.conditions?.map((c) => c.type),
        ['Ready', 'ExampleHealthy'],
        'Ready and their condition in the v1beta1 shape',
      );
      assert.equal(claim.status?.addressRef?.name, 'm');
    }
  });

  it('a claim on a full pool waits (PoolExhausted) and gets the address promptly once one frees up', async () => {
    const ns = await testNamespace('ic-exhausted');
    await createPool(h.client, ns, 'one', { addresses: ['10.201.4.5'], prefix: 24 });
    await createClaim(h.client, ns, 'first', 'one');
    assert.equal((await waitForAddress(h.client, ns, 'first')).spec.address, '10.201.4.5');
    await createClaim(h.client, ns, 'second', 'one');
    const waiting = await waitForReason(h.client, ns, 'second', 'PoolExhausted');
    assert.match(
      readyOf(waiting)!.message,
      /no free address in InClusterIPPool .*\/one: all 1 usable addresses are taken/,
    );
    await waitFor(async () => (await eventsFor(h.client, ns, 'second')).some((e) => e.reason === 'PoolExhausted'), {
      what: 'a PoolExhausted event on the waiting claim',
    });

    const deleted = Date.now();
    await h.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'first' });
    const ipa = await waitForAddress(h.client, ns, 'second', 5_000);
    const took = Date.now() - deleted;
    assert.equal(ipa.spec.address, '10.201.4.5');
    assert.ok(took < 1000, `the waiting claim got the address ${took} ms after the delete`);
  });

  it('a GlobalInClusterIPPool serves claims of every namespace, never one address twice', async () => {
    const [ns1, ns2] = [await testNamespace('ic-global-a'), await testNamespace('ic-global-b')];
    const pool = `global-${suffix()}`;
    await createPool(h.client, undefined, pool, { addresses: ['10.201.5.1-10.201.5.6'], prefix: 24 });
    await Promise.all(
      [ns1, ns2].flatMap((ns) =>
        [0, 1, 2].map((i) => createClaim(h.client, ns, `m-${i}`, pool, 'GlobalInClusterIPPool')),
      ),
    );
    const addresses = await Promise.all(
      [ns1, ns2].flatMap((ns) =>
        [0, 1, 2].map(async (i) => (await waitForAddress(h.client, ns, `m-${i}`)).spec.address),
      ),
    );
    assert.deepEqual([...addresses].sort(), [
      '10.201.5.1',
      '10.201.5.2',
      '10.201.5.3',
      '10.201.5.4',
      '10.201.5.5',
      '10.201.5.6',
    ]);
    const ipa = await h.client.resource(IPAddresses).get({ namespace: ns2, name: 'm-0' });
    assert.equal(ipa.metadata.ownerReferences?.find((r) => r.kind === 'GlobalInClusterIPPool')?.name, pool);
    await waitFor(
      async () => (await h.client.resource(GlobalInClusterIPPools).get({ name: pool })).status?.ipAddresses?.used === 6,
      { what: 'the global pool to count 6 addresses' },
    );
    // A seventh claim, in either namespace, waits.
    await createClaim(h.client, ns1, 'm-9', pool, 'GlobalInClusterIPPool');
    await waitForReason(h.client, ns1, 'm-9', 'PoolExhausted');
    await h.client.resource(IPAddressClaims).delete({ namespace: ns2, name: 'm-1' });
    await waitForAddress(h.client, ns1, 'm-9');
    for (const ns of [ns1, ns2]) {
      for (const c of (await h.client.resource(IPAddressClaims).list({ namespace: ns })).items) {
        await h.client.resource(IPAddressClaims).delete({ namespace: ns, name: c.metadata.name! });
      }
    }
    await h.client.resource(GlobalInClusterIPPools).delete({ name: pool });
    await waitGone(() => h.client.resource(GlobalInClusterIPPools).get({ name: pool }), `pool ${pool}`);
  });

  it('PoolNotReady while the pool is missing or invalid, naming the pool and the field', async () => {
    const ns = await testNamespace('ic-notready');
    await createClaim(h.client, ns, 'early', 'later');
    const missing = await waitForReason(h.client, ns, 'early', 'PoolNotReady');
    assert.equal(readyOf(missing)!.message, 'InClusterIPPool later not found');
    await createPool(h.client, ns, 'later', { addresses: ['10.201.6.8'], prefix: 24 });
    assert.equal((await waitForAddress(h.client, ns, 'early')).spec.address, '10.201.6.8');

    // A reversed IPv6 range passes the CRD (CEL cannot order IPv6 addresses): the controller names the field.
    await createPool(h.client, ns, 'reversed', { addresses: ['fd01:6::9-fd01:6::1'], prefix: 64 });
    await createClaim(h.client, ns, 'stuck', 'reversed');
    const invalid = await waitForReason(h.client, ns, 'stuck', 'PoolNotReady');
    assert.match(
      readyOf(invalid)!.message,
      /InClusterIPPool .*\/reversed is invalid: spec\.addresses\[0\]: .*starts after it ends/,
    );
    const pool = await waitFor(
      async () => {
        const p = await h.client.resource(InClusterIPPools).get({ namespace: ns, name: 'reversed' });
        return readyOf(p)?.reason === 'InvalidSpec' ? p : undefined;
      },
      { what: 'the invalid pool to report InvalidSpec' },
    );
    assert.match(readyOf(pool)!.message, /spec\.addresses\[0\]/);
  });

  it('ignores claims whose pool is of a kind or group no provider of ours serves', async () => {
    const ns = await testNamespace('ic-ignore');
    await createPool(h.client, ns, 'mine', { addresses: ['10.201.7.1'], prefix: 24 });
    await createClaim(h.client, ns, 'metal', 'mine', 'Metal3IPPool');
    const other = await h.client.resource(IPAddressClaims).create({
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
      kind: 'IPAddressClaim',
      metadata: { namespace: ns, name: 'other-group' },
      spec: { poolRef: { apiGroup: 'ipam.example.com', kind: 'InClusterIPPool', name: 'mine' } },
    });
    // A claim of ours created afterwards is answered: by then the two others have been seen and skipped.
    await createClaim(h.client, ns, 'ours', 'mine');
    await waitForAddress(h.client, ns, 'ours');
    for (const name of ['metal', other.metadata.name!]) {
      const c = await h.client.resource(IPAddressClaims).get({ namespace: ns, name });
      assert.equal(c.metadata.finalizers, undefined, `${name} has no finalizer`);
      assert.equal(c.status, undefined, `${name} has no status`);
      assert.equal(await getOrUndefined(h.client.resource(IPAddresses).get({ namespace: ns, name })), undefined);
    }
  });

  it('keeps a released address for the grace period, then hands it out again', async () => {
    const ns = await testNamespace('ic-grace');
    const pool = `grace-${suffix()}`;
    await createPool(h.client, ns, pool, { addresses: ['10.201.8.1'], prefix: 24, addressReuseGracePeriodSeconds: 3 });
    await createClaim(h.client, ns, 'old', pool);
    await waitForAddress(h.client, ns, 'old');
    await h.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'old' });
    await waitGone(() => h.client.resource(IPAddressClaims).get({ namespace: ns, name: 'old' }), 'claim old');
    const released = Date.now();
    const [entry] = await entriesOfPool(h.client, ns, pool);
    assert.equal(entry?.address, '10.201.8.1');
    assert.ok(entry?.releasedAt, 'the ledger keeps the address, marked released');

    await createClaim(h.client, ns, 'new', pool);
    const waiting = await waitForReason(h.client, ns, 'new', 'PoolExhausted');
    assert.match(readyOf(waiting)!.message, /1 released addresses become free after the grace period of 3s/);
    const ipa = await waitForAddress(h.client, ns, 'new', 15_000);
    assert.equal(ipa.spec.address, '10.201.8.1');
    // releasedAt has 1 s resolution: allow for it.
    assert.ok(Date.now() - released >= 2000, `reused after ${Date.now() - released} ms, before the grace period`);
  });
});
