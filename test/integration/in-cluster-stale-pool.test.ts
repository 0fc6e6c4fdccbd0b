// A claim is served with the pool as the API server has it, never a cached copy that lags behind. Found by the
// endpoint test (test/e2e/cluster-ipam-endpoint.test.ts): the gate excluded a hand-set endpoint address from the
// pool, a machine claimed right after, and a manager whose pool informer had not shown the exclusion yet gave the
// machine the endpoint's address. Here the manager's pool cache is made to lag behind, as any informer can.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testNamespace, ownControlPlane } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  createClaim,
  createPool,
  getOrUndefined,
  InClusterIPPools,
  IPAddresses,
  laggingCache,
  readyOf,
  startInCluster,
  waitForAddress,
  waitForReason,
  type Harness,
} from './in-cluster-support.ts';
import type { PoolObject } from '../../src/providers/in-cluster/pools.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

/** Pools (namespace/name) whose cached copy the manager's informer keeps showing as it was when frozen. */
const frozen = new Map<string, PoolObject | undefined>();
let h: Harness;

before(async () => {
  h = await startInCluster({ before: [laggingCache(InClusterIPPools, frozen)] });
});
after(() => h?.stop());

async function freeze(namespace: string, name: string): Promise<void> {
  const seen = await waitFor(
    async () => {
      const p = await h.client.resource(InClusterIPPools).get({ namespace, name });
      return p.status?.ipAddresses ? p : undefined;
    },
    { what: `pool ${namespace}/${name} to be counted (seen by the manager)` },
  );
  frozen.set(`${namespace}/${name}`, Object.freeze(seen) as PoolObject);
}

describe('in-cluster: a claim served while the pool cache lags behind', () => {
  it('gets no address the pool has just excluded', async () => {
    const ns = await testNamespace('ic-stale-pool');
    await createPool(h.client, ns, 'nodes', { addresses: ['10.78.0.10-10.78.0.20'], prefix: 24 });
    await freeze(ns, 'nodes');
    await h.client
      .resource(InClusterIPPools)
      .patch({ namespace: ns, name: 'nodes' }, { spec: { excludedAddresses: ['10.78.0.10'] } });
    await createClaim(h.client, ns, 'm0', 'nodes');
    assert.equal((await waitForAddress(h.client, ns, 'm0')).spec.address, '10.78.0.11');
  });

  it('gets nothing from a pool already deleted, and says the pool is not found', async () => {
    const ns = await testNamespace('ic-stale-pool-gone');
    await createPool(h.client, ns, 'gone', { addresses: ['10.78.1.10-10.78.1.20'], prefix: 24 });
    await freeze(ns, 'gone');
    await h.client.resource(InClusterIPPools).delete({ namespace: ns, name: 'gone' });
    await waitFor(
      async () =>
        (await getOrUndefined(h.client.resource(InClusterIPPools).get({ namespace: ns, name: 'gone' }))) === undefined,
      { what: 'the pool to be deleted' },
    );
    await createClaim(h.client, ns, 'm0', 'gone');
    const claim = await waitForReason(h.client, ns, 'm0', 'PoolNotReady');
    assert.match(readyOf(claim)!.message, /InClusterIPPool gone not found/);
    assert.equal(await getOrUndefined(h.client.resource(IPAddresses).get({ namespace: ns, name: 'm0' })), undefined);
  });
});
