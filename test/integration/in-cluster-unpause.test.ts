// A claim unpaused while its allocation keeps failing (here: every write of the ledger refused for a while) says at
// once that it is no longer paused: Paused=False, not the Paused=True of before while the allocation is retried.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiError } from '../../src/kube/index.ts';
import { ownControlPlane, testNamespace } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  conditionOf,
  createClaim,
  createPool,
  getOrUndefined,
  IPAddressClaims,
  IPAddresses,
  IPAddressLedgers,
  startInCluster,
  waitForAddress,
  wrapClient,
  type Harness,
} from './in-cluster-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

let refusing = false;
const refusal = () => new ApiError(403, { message: 'injected: denied', reason: 'Forbidden' } as never, 'PATCH');
const ledgerWrites = wrapClient(IPAddressLedgers, (real, wrapped) => {
  wrapped.create = async (...args) => {
    if (refusing) throw refusal();
    return real.create(...args);
  };
  wrapped.patch = async (...args) => {
    if (refusing) throw refusal();
    return real.patch(...args);
  };
});

let h: Harness;
before(async () => {
  h = await startInCluster({ before: [ledgerWrites] });
});
after(() => h?.stop());

describe('in-cluster: a claim unpaused while its allocation fails', () => {
  it('reports Paused=False at once, and gets its address once the allocation succeeds', async () => {
    const ns = await testNamespace('ic-unpause');
    await createPool(h.client, ns, 'pool', { addresses: ['10.78.0.10-10.78.0.20'], prefix: 24 });
    await createClaim(h.client, ns, 'm', 'pool', 'InClusterIPPool', {
      annotations: { 'cluster.x-k8s.io/paused': 'true' },
    });
    const claims = h.client.resource(IPAddressClaims);
    await waitFor(
      async () => conditionOf(await claims.get({ namespace: ns, name: 'm' }), 'Paused')?.status === 'True',
      {
        what: 'Paused=True on the paused claim',
      },
    );

    refusing = true;
    await claims.patch(
      { namespace: ns, name: 'm' },
      { metadata: { annotations: { 'cluster.x-k8s.io/paused': null } } },
    );
    const unpaused = await waitFor(
      async () => {
        const c = await claims.get({ namespace: ns, name: 'm' });
        return conditionOf(c, 'Paused')?.status === 'False' ? c : undefined;
      },
      { what: 'Paused=False while every ledger write is refused' },
    );
    assert.equal(conditionOf(unpaused, 'Paused')?.reason, 'NotPaused');
    assert.equal(await getOrUndefined(h.client.resource(IPAddresses).get({ namespace: ns, name: 'm' })), undefined);

    refusing = false;
    assert.equal((await waitForAddress(h.client, ns, 'm', 60_000)).spec.address, '10.78.0.10');
  });
});
