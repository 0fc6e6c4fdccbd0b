// A claim adopting an IPAddress that already exists (as after `clusterctl move`) races with another holder of its
// address letting its reservation go: the claim's create of the reservation gets 409 (the holder's still there),
// and the read that follows gets 404 (gone meanwhile). The race is held open by a wrapper of the manager's
// reservation client that makes the holder appear just before the create and go just before the read. The claim
// must retry and end Ready with its address, not stay AllocationFailed (nothing else wakes it: the address is
// outside its pool's range, so no waiting claim of any pool is woken by the holder's deletion).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KubeClient, Namespaces } from '../../src/kube/index.ts';
import type { ControlPlane } from '../../src/local/controlplane.ts';
import { privateControlPlane } from '../support/cluster.ts';
import {
  claimObject,
  conditionOf,
  createPool,
  eventsFor,
  IPAddressClaims,
  IPAddresses,
  IPAddressReservations,
  startInCluster,
  waitForAddress,
  wrapClient,
  type Harness,
} from './in-cluster-support.ts';

const ns = 'adopt-race';
const moved = '10.207.0.99';

describe('in-cluster provider: adopting while the address changes hands', () => {
  let cp: ControlPlane;
  let h: Harness;
  let direct: KubeClient;
  const raced: string[] = [];

  before(async () => {
    // Alone with its manager: another manager on the control plane would adopt without the race.
    cp = await privateControlPlane();
    direct = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
    let appeared: string | undefined;
    const holder = wrapClient(IPAddressReservations, (real, wrapped) => {
      wrapped.create = async (obj, opts) => {
        if (obj.spec.address === moved && raced.length === 0) {
          // Another claim's reservation of the address, there when the create arrives.
          const other = { ...obj.spec.claimRef, name: 'other', uid: 'a5c0ffee-0000-4000-8000-000000000001' };
          await direct.resource(IPAddressReservations).create({ ...obj, spec: { ...obj.spec, claimRef: other } });
          appeared = obj.metadata.name;
          raced.push('created by another claim');
        }
        return real.create(obj, opts);
      };
      wrapped.get = async (key, opts) => {
        if (key.name === appeared) {
          appeared = undefined;
          await direct.resource(IPAddressReservations).delete({ name: key.name });
          raced.push('gone before the read');
        }
        return real.get(key, opts);
      };
    });
    h = await startInCluster({ before: [holder], kubeconfig: cp.kubeconfigPath });
    await direct.resource(Namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  });

  after(async () => {
    await h?.stop();
    direct?.close();
    await cp?.stop();
  });

  it('retries and keeps its address', async () => {
    await createPool(direct, ns, 'p', { addresses: ['10.207.0.1-10.207.0.10'], prefix: 24 });
    // Moved in before its claim, with an address the pool (changed since) no longer has.
    await direct.resource(IPAddresses).create({
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
      kind: 'IPAddress',
      metadata: { namespace: ns, name: 'm' },
      spec: {
        address: moved,
        prefix: 24,
        poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'p' },
        claimRef: { name: 'm' },
      },
    });
    await direct.resource(IPAddressClaims).create(claimObject(ns, 'm', 'p'));

    const ipa = await waitForAddress(direct, ns, 'm', 60_000);
    assert.deepEqual(raced, ['created by another claim', 'gone before the read']);
    assert.equal(ipa.spec.address, moved);
    const claim = await direct.resource(IPAddressClaims).get({ namespace: ns, name: 'm' });
    assert.equal(conditionOf(claim, 'Ready')?.status, 'True');
    const reservations = (await direct.resource(IPAddressReservations).listAll()).items;
    assert.deepEqual(
      reservations.map((r) => [r.spec.address, r.spec.claimRef.uid]),
      [[moved, claim.metadata.uid]],
    );
    const events = await eventsFor(direct, ns, 'm');
    assert.deepEqual(
      events.filter((e) => e.reason === 'DuplicateAddress').map((e) => e.message),
      [],
      'no duplicate was reported',
    );
  });
});
