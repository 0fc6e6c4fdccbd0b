// Found by the chaos suite (failover part): a claim deleted right after a leader hand-over was released while the new
// leader's IPAddress informer had not yet shown the claim's IPAddress. The release saw no IPAddress, released nothing
// and removed the claim's finalizer; the garbage collector then only dropped the claim's owner reference (the pool,
// a live owner, kept the IPAddress), so the IPAddress stayed for ever and its address was lost.
// Here the manager's cache is made to lag behind for one claim's IPAddress, as a fresh leader's can.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IPAddress } from '../../src/api/index.ts';
import { testNamespace, ownControlPlane } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  IPAddressClaims,
  IPAddresses,
  createClaim,
  createPool,
  getOrUndefined,
  laggingCache,
  entriesOfPool,
  startInCluster,
  suffix,
  waitForAddress,
  waitGone,
  type Harness,
} from './in-cluster-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

/** IPAddresses the manager's informer pretends not to have seen yet (namespace/name → undefined). */
const hidden = new Map<string, IPAddress | undefined>();
let h: Harness;

before(async () => {
  h = await startInCluster({ before: [laggingCache(IPAddresses, hidden)] });
});
after(() => h?.stop());

describe('in-cluster: release with a cache that has not shown the IPAddress yet', () => {
  it('reads the IPAddress from the API: it is deleted and its address released, never left behind', async () => {
    const ns = await testNamespace('ic-stale-release');
    const pool = `stale-${suffix()}`;
    await createPool(h.client, ns, pool, { addresses: ['10.77.0.10-10.77.0.20'], prefix: 24 });
    await createClaim(h.client, ns, 'm0', pool);
    const ipa: IPAddress = await waitForAddress(h.client, ns, 'm0');
    assert.equal(ipa.spec.address, '10.77.0.10');

    hidden.set(`${ns}/m0`, undefined);
    await h.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'm0' });
    await waitGone(() => h.client.resource(IPAddressClaims).get({ namespace: ns, name: 'm0' }), 'claim m0');
    // The IPAddress goes with its claim, and so does any ledger entry of it: the address is free again.
    await waitGone(() => h.client.resource(IPAddresses).get({ namespace: ns, name: 'm0' }), 'IPAddress m0');
    await waitFor(async () => (await entriesOfPool(h.client, ns, pool)).length === 0, {
      what: 'no ledger entry of 10.77.0.10 left',
    });
    hidden.clear();
    await createClaim(h.client, ns, 'm1', pool);
    assert.equal((await waitForAddress(h.client, ns, 'm1')).spec.address, '10.77.0.10');
    assert.equal(await getOrUndefined(h.client.resource(IPAddresses).get({ namespace: ns, name: 'm0' })), undefined);
  });
});
