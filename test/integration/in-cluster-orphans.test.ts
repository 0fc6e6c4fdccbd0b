// An IPAddress whose claim went without its release while no manager ran (the finalizer removed by hand, or the API
// server's DELETE race that drops a claim despite its finalizer): the garbage collector only drops the dangling
// owner reference, since the pool still owns the IPAddress. The next manager gives the address back once the
// IPAddress has waited its grace period and the API server confirms the claim is gone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testNamespace, ownControlPlane } from '../support/cluster.ts';
import { patience, waitFor } from '../support/wait.ts';
import {
  IPAddressClaims,
  IPAddresses,
  InClusterIPPools,
  claimObject,
  createPool,
  getOrUndefined,
  entriesOfPool,
  startInCluster,
  waitForAddress,
  waitGone,
} from './in-cluster-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

describe('in-cluster: an IPAddress left without its claim', () => {
  it(
    'is deleted and its address freed by the next manager, after the grace period',
    { timeout: patience(120_000) },
    async () => {
      const ns = await testNamespace('ic-orphans');
      const first = await startInCluster({ provider: { staleAfterMs: 1000 } });
      const { client } = first;
      await createPool(client, ns, 'pool', { addresses: ['10.99.0.10-10.99.0.12'], prefix: 24 });
      await client.resource(IPAddressClaims).create(claimObject(ns, 'gone', 'pool'));
      await client.resource(IPAddressClaims).create(claimObject(ns, 'kept', 'pool'));
      const orphan = await waitForAddress(client, ns, 'gone');
      await waitForAddress(client, ns, 'kept');
      await first.stop();

      // The claim goes without its release, as if its finalizer had been removed by hand.
      await client.resource(IPAddressClaims).patch({ namespace: ns, name: 'gone' }, { metadata: { finalizers: null } });
      await client.resource(IPAddressClaims).delete({ namespace: ns, name: 'gone' });
      const ownerless = await waitFor(
        async () => {
          const ipa = await client.resource(IPAddresses).get({ namespace: ns, name: 'gone' });
          return ipa.metadata.ownerReferences?.some((r) => r.kind === 'IPAddressClaim') ? undefined : ipa;
        },
        { what: 'the garbage collector to drop the dangling claim reference' },
      );
      assert.equal(ownerless.spec.address, orphan.spec.address);

      const second = await startInCluster({ provider: { staleAfterMs: 1000 }, claims: { orphanGraceMs: 2000 } });
      try {
        await waitGone(() => client.resource(IPAddresses).get({ namespace: ns, name: 'gone' }), 'the orphan IPAddress');
        await waitFor(async () => (await entriesOfPool(client, ns, 'pool')).every((e) => e.claimRef.name === 'kept'), {
          what: 'no ledger entry of the orphan left',
        });
        // The address is free again: a new claim gets it (the lowest free one).
        await client.resource(IPAddressClaims).create(claimObject(ns, 'new', 'pool'));
        const again = await waitForAddress(client, ns, 'new');
        assert.equal(again.spec.address, orphan.spec.address);
        assert.ok(await getOrUndefined(client.resource(IPAddresses).get({ namespace: ns, name: 'kept' })));
        const pool = await client.resource(InClusterIPPools).get({ namespace: ns, name: 'pool' });
        await waitFor(
          async () => {
            const p = await client.resource(InClusterIPPools).get({ namespace: ns, name: pool.metadata.name! });
            return p.status?.ipAddresses?.used === 2 ? p : undefined;
          },
          { what: 'the pool to count 2 used addresses' },
        );
      } finally {
        await second.stop();
      }
    },
  );
});
