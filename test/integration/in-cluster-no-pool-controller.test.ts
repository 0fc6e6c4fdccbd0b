// The chart's `controllers.inClusterPool: false`: the claim controller runs without the pool controller (no pool
// status). The in-cluster provider is still whole: a released address comes back once its grace period ends, and a
// pool deleted once its claims are gone goes (its ProtectPool finalizer is removed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ipAddressClaimController } from '../../src/controllers/ipaddressclaim.ts';
import { KubeClient, Namespaces } from '../../src/kube/index.ts';
import type { ControlPlane } from '../../src/local/controlplane.ts';
import { privateControlPlane } from '../support/cluster.ts';
import { startManagerOn, type TestManager } from '../support/manager.ts';
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
  let cp: ControlPlane;
  before(async () => {
    // Alone with its manager: on the shared control plane another test file's pool controller would write the pool's
    // status, run the sweep and remove the pool's finalizer, and this test would prove nothing (CI saw the status).
    cp = await privateControlPlane();
    manager = startManagerOn(cp.kubeconfigPath, [ipAddressClaimController()]);
    client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
  });
  after(async () => {
    await manager?.stop();
    client?.close();
    await cp?.stop();
  });

  it('gives a released address back after its grace period, and lets an emptied pool be deleted', async () => {
    const ns = 'no-pool-controller';
    await client.resource(Namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
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
