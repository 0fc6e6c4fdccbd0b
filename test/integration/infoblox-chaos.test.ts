// The appliance-faults part of the chaos suite, quick (test/chaos/appliance.ts: every fault kind before and after the
// appliance applies a request, while claims come and go; afterwards no duplicate, no orphan record, no stuck claim),
// and what it found: an address the appliance hands out again while the IPAddress that carried it is still being
// deleted is the new claim's, and is given back with it (no host record left behind).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IPAddressClaims, IPAddresses } from '../../src/api/index.ts';
import { run } from '../chaos/appliance.ts';
import { testNamespace } from '../support/cluster.ts';
import type { TestManager } from '../support/manager.ts';
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
  waitForAddress,
  type Env,
} from './infoblox-support.ts';

describe('ipam-infoblox: an address handed out again while its old IPAddress is still being deleted', () => {
  let env: Env;
  let manager: TestManager;
  before(async () => {
    env = await infobloxEnv({ network: [{ network: '10.71.0.0/24' }] });
    await createInstance(env.client, 'ib', env.instanceSpec());
    manager = await env.startManager();
    await instanceReady(env.client, 'ib');
  });
  after(async () => {
    await manager?.stop();
    await env?.stop();
  });

  it('is the new claim’s, and goes back to the appliance with it', async () => {
    const ns = await testNamespace('ib-reuse');
    await createPool(env.client, ns, 'p', { instance: { name: 'ib' }, subnets: [{ cidr: '10.71.0.0/24' }] });
    await poolReady(env.client, ns, 'p');
    const ipas = env.client.resource(IPAddresses);
    const claims = env.client.resource(IPAddressClaims);

    await createClaim(env.client, ns, 'x', 'p');
    const first = await waitForAddress(env.client, ns, 'x');
    // Something else (a backup tool, a slow garbage collector) holds the IPAddress a while after its claim let go.
    const hold = 'test.cluster-ipam/hold';
    await ipas.patch(
      { namespace: ns, name: 'x' },
      { metadata: { finalizers: [...(first.metadata.finalizers ?? []), hold] } },
    );
    await claims.delete({ namespace: ns, name: 'x' });
    await waitFor(() => gone(() => claims.get({ namespace: ns, name: 'x' })), { what: 'claim x released and gone' });
    assert.equal(recordsByName(env.sim).get('x'), undefined, 'x is given back on the appliance');
    assert.ok((await ipas.get({ namespace: ns, name: 'x' })).metadata.deletionTimestamp, 'its IPAddress lingers');

    // The appliance hands the same address to the next host: it is y's, not a conflict with the lingering IPAddress.
    await createClaim(env.client, ns, 'y', 'p');
    const second = await waitForAddress(env.client, ns, 'y');
    assert.equal(second.spec.address, first.spec.address, 'the appliance handed out the same address again');
    assert.deepEqual(recordsByName(env.sim).get('y'), [[first.spec.address]]);

    // And y gives it back when it goes: no host record left without a claim.
    await claims.delete({ namespace: ns, name: 'y' });
    await waitFor(() => gone(() => claims.get({ namespace: ns, name: 'y' })), { what: 'claim y released and gone' });
    assert.equal(recordsByName(env.sim).get('y'), undefined, 'no orphan host record');

    const x = await ipas.get({ namespace: ns, name: 'x' });
    await ipas.patch(
      { namespace: ns, name: 'x' },
      { metadata: { finalizers: (x.metadata.finalizers ?? []).filter((f) => f !== hold) } },
    );
  });
});

describe('chaos, appliance faults (quick)', () => {
  it('every fault kind, before and after the change: claims bound once, no duplicate, no orphan, none stuck', async () => {
    const result = await run({ quick: true });
    assert.ok(result.passed, result.notes.join('\n'));
    for (const kind of ['latency', '5xx', 'drop', '401']) {
      for (const when of ['before', 'after']) assert.ok(result.faults[`wapi-${kind}-${when}`]! > 0, `${kind} ${when}`);
    }
    assert.deepEqual([result.duplicates, result.leaks, result.stuck], [0, 0, 0]);
  });
});
