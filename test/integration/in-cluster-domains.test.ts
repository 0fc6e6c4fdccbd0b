// Address domains (spec 03 §3.4) on the real API server: namespaced pools of different namespaces are independent
// (two tenants with the same private range get the same predictable addresses), an annotation joins pools into one
// domain, pool counts count every holder of the domain, and a namespaced pool overlapping a global pool is
// reported loudly on both.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Condition } from '../../src/kube/index.ts';
import { testNamespace, ownControlPlane } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  createClaim,
  createPool,
  GlobalInClusterIPPools,
  InClusterIPPools,
  IPAddressClaims,
  readyOf,
  startInCluster,
  suffix,
  waitForAddress,
  waitForReason,
  type Harness,
} from './in-cluster-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

const domainAnnotation = 'ipam.k0rdent.mirantis.com/address-domain';

describe('in-cluster provider: address domains', () => {
  let h: Harness;
  before(async () => (h = await startInCluster()));
  after(async () => h.stop());

  async function poolStatus(namespace: string | undefined, name: string) {
    return waitFor(
      async () => {
        const p = namespace
          ? await h.client.resource(InClusterIPPools).get({ namespace, name })
          : await h.client.resource(GlobalInClusterIPPools).get({ name });
        return p.status?.ipAddresses ? p : undefined;
      },
      { what: `status of pool ${name}` },
    );
  }

  it('two namespaces with the same range each hand out the same addresses, in order', async () => {
    const [a, b] = [await testNamespace('dom-a'), await testNamespace('dom-b')];
    for (const ns of [a, b]) await createPool(h.client, ns, 'nodes', { addresses: ['10.0.0.0/24'], prefix: 24 });
    await createClaim(h.client, a, 'm-0', 'nodes');
    assert.equal((await waitForAddress(h.client, a, 'm-0')).spec.address, '10.0.0.1');
    // One after the other: claims made together are answered in no particular order.
    await createClaim(h.client, b, 'm-0', 'nodes');
    assert.equal((await waitForAddress(h.client, b, 'm-0')).spec.address, '10.0.0.1');
    await createClaim(h.client, b, 'm-1', 'nodes');
    assert.equal((await waitForAddress(h.client, b, 'm-1')).spec.address, '10.0.0.2');
    // Each pool counts its own domain only.
    await waitFor(async () => (await poolStatus(a, 'nodes')).status?.ipAddresses?.used === 1, { what: 'a used 1' });
    await waitFor(async () => (await poolStatus(b, 'nodes')).status?.ipAddresses?.used === 2, { what: 'b used 2' });
    assert.equal((await poolStatus(b, 'nodes')).status?.ipAddresses?.free, 252);
  });

  it("a pool's counts follow the holders of another pool sharing its addresses, and nothing of its own", async () => {
    const ns = await testNamespace('dom-follow');
    const spec = { addresses: ['10.0.2.0/28'], prefix: 24 };
    await createPool(h.client, ns, 'quiet', spec);
    await createPool(h.client, ns, 'busy', spec);
    await waitFor(
      async (note) => {
        const counts = note((await poolStatus(ns, 'quiet')).status?.ipAddresses);
        return counts?.total === 15 && counts.used === 0;
      },
      { what: 'the quiet pool to count its 15 free addresses' },
    );
    // Only the busy pool's claims and IPAddresses change: the quiet pool hears of it through its shared addresses.
    for (const name of ['m-0', 'm-1', 'm-2']) await createClaim(h.client, ns, name, 'busy');
    for (const name of ['m-0', 'm-1', 'm-2']) await waitForAddress(h.client, ns, name);
    const seen = await waitFor(
      async (note) => {
        const counts = note((await poolStatus(ns, 'quiet')).status?.ipAddresses);
        return counts?.used === 3 ? counts : undefined;
      },
      { what: "the quiet pool to count the busy pool's 3 addresses" },
    );
    assert.equal(seen.free, 12);
    await h.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'm-1' });
    await waitFor(
      async (note) => {
        const counts = note((await poolStatus(ns, 'quiet')).status?.ipAddresses);
        return counts?.used === 2;
      },
      { what: 'the quiet pool to count 2 once a busy claim is gone' },
    );
  });

  it('an address-domain annotation makes pools of several namespaces share their addresses and counts', async () => {
    const domain = `flat-${suffix()}`;
    const [a, b] = [await testNamespace('dom-shared-a'), await testNamespace('dom-shared-b')];
    const spec = { addresses: ['10.0.1.1-10.0.1.3'], prefix: 24 };
    for (const ns of [a, b]) await createPool(h.client, ns, 'nodes', spec, { [domainAnnotation]: domain });
    await createClaim(h.client, a, 'm-0', 'nodes');
    assert.equal((await waitForAddress(h.client, a, 'm-0')).spec.address, '10.0.1.1');
    await createClaim(h.client, b, 'm-0', 'nodes');
    assert.equal((await waitForAddress(h.client, b, 'm-0')).spec.address, '10.0.1.2');
    await createClaim(h.client, a, 'm-1', 'nodes');
    assert.equal((await waitForAddress(h.client, a, 'm-1')).spec.address, '10.0.1.3');
    // b's pool has nothing left, though only one of the three addresses is its own: it says so, and a claim
    // waits with PoolExhausted instead of being promised an address it cannot get.
    await waitFor(async () => (await poolStatus(b, 'nodes')).status?.ipAddresses?.free === 0, { what: 'b free 0' });
    await createClaim(h.client, b, 'm-1', 'nodes');
    const exhausted = await waitForReason(h.client, b, 'm-1', 'PoolExhausted');
    assert.match(readyOf(exhausted)!.message, /all 3 usable addresses are taken/);
    // The overlap inside the domain is reported on the pools as shared addresses.
    const ready = readyOf(await poolStatus(b, 'nodes')) as Condition;
    assert.match(
      ready.message ?? '',
      new RegExp(`overlaps InClusterIPPool ${a}/nodes at 10\\.0\\.1\\.1-10\\.0\\.1\\.3`),
    );
  });

  it('a namespaced pool overlapping a global pool is reported on both as a risk of duplicates', async () => {
    const ns = await testNamespace('dom-cross');
    const global = `g-${suffix()}`;
    await createPool(h.client, undefined, global, { addresses: ['10.0.2.0/28'], prefix: 24 });
    await createPool(h.client, ns, 'nodes', { addresses: ['10.0.2.8-10.0.2.20'], prefix: 24 });
    for (const [namespace, name, other] of [
      [ns, 'nodes', `GlobalInClusterIPPool ${global}`],
      [undefined, global, `InClusterIPPool ${ns}/nodes`],
    ] as const) {
      await waitFor(
        async () => {
          const ready = readyOf(await poolStatus(namespace, name));
          return (
            ready?.reason === 'PoolReadyWithWarnings' &&
            ready.message?.includes(`overlaps ${other}`) &&
            ready.message.includes('the same address can be handed out twice')
          );
        },
        { what: `the cross-domain overlap reported on ${name}` },
      );
    }
  });

  it('refuses an invalid domain name on the pool, naming the annotation', async () => {
    const ns = await testNamespace('dom-bad');
    await createPool(
      h.client,
      ns,
      'nodes',
      { addresses: ['10.0.3.0/24'], prefix: 24 },
      { [domainAnnotation]: 'Not_A_Label' },
    );
    await waitFor(
      async () => {
        const ready = readyOf(await h.client.resource(InClusterIPPools).get({ namespace: ns, name: 'nodes' }));
        return ready?.reason === 'InvalidSpec' && ready.message?.includes(`metadata.annotations[${domainAnnotation}]`);
      },
      { what: 'InvalidSpec naming the annotation' },
    );
    await createClaim(h.client, ns, 'm-0', 'nodes');
    assert.match(readyOf(await waitForReason(h.client, ns, 'm-0', 'PoolNotReady'))!.message, /not a valid domain name/);
  });
});
