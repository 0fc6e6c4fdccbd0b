// What releases need stays until they are done: an InfobloxInstance deleted while its pools have claims waits for
// them (ProtectInstance), and an InfobloxIPPool deleted while an IPAddress of it is left without its claim waits until
// that address is released on the appliance (ProtectPool counts such IPAddresses, not only claims).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IPAddressClaims, IPAddresses, InfobloxInstances, InfobloxIPPools } from '../../src/api/index.ts';
import { ipAddressClaimController } from '../../src/controllers/ipaddressclaim.ts';
import { protectInstanceFinalizer } from '../../src/providers/infoblox/names.ts';
import { testNamespace } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  createClaim,
  createInstance,
  createPool,
  gone,
  infobloxEnv,
  instanceReady,
  poolReady,
  recordsByName,
  testTuning,
  waitForAddress,
  type Env,
} from './infoblox-support.ts';

let env: Env;

describe('ipam-infoblox: instances and pools stay while releases need them', () => {
  before(async () => {
    env = await infobloxEnv({ network: [{ network: '10.60.0.0/24' }, { network: '10.61.0.0/24' }] });
  });
  after(async () => {
    await env?.stop();
  });

  it('an InfobloxInstance deleted while claims use it stays until they are released', async () => {
    const manager = await env.startManager();
    try {
      await createInstance(env.client, 'ib-a', env.instanceSpec());
      await instanceReady(env.client, 'ib-a');
      const ns = await testNamespace('ib-protect-instance');
      await createPool(env.client, ns, 'p', { instance: { name: 'ib-a' }, subnets: [{ cidr: '10.60.0.0/24' }] });
      await poolReady(env.client, ns, 'p');
      await createClaim(env.client, ns, 'm', 'p');
      const ipa = await waitForAddress(env.client, ns, 'm');
      const instances = env.client.resource(InfobloxInstances);
      await waitFor(
        async () => (await instances.get({ name: 'ib-a' })).metadata.finalizers?.includes(protectInstanceFinalizer),
        {
          what: 'the instance to be protected while its pool is used',
        },
      );
      await instances.delete({ name: 'ib-a' });
      await env.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'm' });
      await waitFor(() => gone(() => env.client.resource(IPAddressClaims).get({ namespace: ns, name: 'm' })), {
        what: 'the claim released through the instance being deleted',
      });
      assert.equal(recordsByName(env.sim).get('m'), undefined, `${ipa.spec.address} given back`);
      await env.client.resource(InfobloxIPPools).delete({ namespace: ns, name: 'p' });
      await waitFor(() => gone(() => env.client.resource(InfobloxIPPools).get({ namespace: ns, name: 'p' })), {
        what: 'the pool to go once its claim is released',
      });
      await waitFor(() => gone(() => instances.get({ name: 'ib-a' })), { what: 'the instance to go after its pool' });
    } finally {
      await manager.stop();
    }
  });

  it('an InfobloxIPPool deleted while an IPAddress of it has no claim stays until that address is released', async () => {
    await createInstance(env.client, 'ib-b', env.instanceSpec());
    const ns = await testNamespace('ib-protect-pool');
    let manager = await env.startManager();
    try {
      await instanceReady(env.client, 'ib-b');
      await createPool(env.client, ns, 'p', { instance: { name: 'ib-b' }, subnets: [{ cidr: '10.61.0.0/24' }] });
      await poolReady(env.client, ns, 'p');
      await createClaim(env.client, ns, 'orphan', 'p');
      await waitForAddress(env.client, ns, 'orphan');
    } finally {
      await manager.stop();
    }
    // While no manager runs, the claim goes without its release (its finalizer removed by hand), and so does the pool.
    const claims = env.client.resource(IPAddressClaims);
    await claims.patch({ namespace: ns, name: 'orphan' }, { metadata: { finalizers: null } });
    await claims.delete({ namespace: ns, name: 'orphan' });
    await waitFor(() => gone(() => claims.get({ namespace: ns, name: 'orphan' })), { what: 'the claim gone' });
    await env.client.resource(InfobloxIPPools).delete({ namespace: ns, name: 'p' });
    const ipa = await env.client.resource(IPAddresses).get({ namespace: ns, name: 'orphan' });
    assert.deepEqual(recordsByName(env.sim).get('orphan'), [[ipa.spec.address]]);
    // The orphan's grace ends a few seconds after the manager is back: the pool's reconcile comes first.
    const orphanGraceMs = Date.now() - Date.parse(ipa.metadata.creationTimestamp!) + 5_000;
    manager = await env.startManager(testTuning, {}, [ipAddressClaimController({ orphanGraceMs })]);
    try {
      await waitFor(() => gone(() => env.client.resource(IPAddresses).get({ namespace: ns, name: 'orphan' })), {
        what: 'the IPAddress left without its claim to be released',
        timeoutMs: 60_000,
      });
      await waitFor(() => recordsByName(env.sim).get('orphan') === undefined, {
        what: 'its host record to be released on the appliance',
      });
      await waitFor(() => gone(() => env.client.resource(InfobloxIPPools).get({ namespace: ns, name: 'p' })), {
        what: 'the pool to go once nothing of it is left',
      });
    } finally {
      await manager.stop();
    }
  });
});
