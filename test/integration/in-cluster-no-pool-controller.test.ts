// The chart's `controllers.inClusterPool: false`: the claim controller runs without the pool controller (no pool
// status). The in-cluster provider is still whole: a released address comes back once its grace period ends, and a
// pool deleted once its claims are gone goes (its ProtectPool finalizer is removed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ipAddressClaimController } from '../../src/controllers/ipaddressclaim.ts';
import { KubeClient } from '../../src/kube/index.ts';
import { testKubeconfig, testNamespace } from '../support/cluster.ts';
import { startTestManager, type TestManager } from '../support/manager.ts';
import {
  createClaim,
  createPool,
  InClusterIPPools,
  IPAddressClaims,
  waitForAddress,
  waitForReason,
  waitGone,
} from './in-cluster-support.ts';

describe('in-cluster provider without the pool controller', () => {
  let manager: TestManager;
  let client: KubeClient;
  before(async () => {
    manager = await startTestManager([ipAddressClaimController()]);
    client = KubeClient.load({ kubeconfig: await testKubeconfig() });
  });
  after(async () => {
    await manager?.stop();
    client?.close();
  });

  it('gives a released address back after its grace period, and lets an emptied pool be deleted', async () => {
    const ns = await testNamespace('ic-no-pool-controller');
    await createPool(client, ns, 'p', { addresses: ['10.206.0.1'], prefix: 24, addressReuseGracePeriodSeconds: 2 });
    await createClaim(client, ns, 'first', 'p');
    assert.equal((await waitForAddress(client, ns, 'first')).spec.address, '10.206.0.1');
    await createClaim(client, ns, 'second', 'p');
    await waitForReason(client, ns, 'second', 'PoolExhausted');

    await client.resource(IPAddressClaims).delete({ namespace: ns, name: 'first' });
    const second = await waitForAddress(client, ns, 'second', 60_000);
    assert.equal(second.spec.address, '10.206.0.1');
    const pool = await client.resource(InClusterIPPools).get({ namespace: ns, name: 'p' });
    assert.equal(pool.status, undefined, 'no pool controller wrote its status');

    await client.resource(IPAddressClaims).delete({ namespace: ns, name: 'second' });
    await client.resource(InClusterIPPools).delete({ namespace: ns, name: 'p' });
    await waitGone(() => client.resource(InClusterIPPools).get({ namespace: ns, name: 'p' }), 'the pool', 60_000);
  });
});
