// What the appliance is asked: an InfobloxIPPool's check (its views and every subnet exist) runs when the pool's spec,
// the instance's spec or the instance's Ready changes, and periodically; not for every claim and IPAddress that comes
// and goes (the pool follows those for its ProtectPool finalizer only), nor for the instance's labels or finalizers.
// A real appliance answers a few dozen requests a second. And a claim released is released once, even by a manager
// that has just started to lead.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IPAddressClaims, InfobloxInstances, InfobloxIPPools } from '../../src/api/index.ts';
import { testNamespace } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import { freePort } from './in-cluster-support.ts';
import {
  createClaim,
  createInstance,
  gone,
  infobloxEnv,
  instanceReady,
  readyPool,
  testTuning,
  waitForAddress,
  type Env,
} from './infoblox-support.ts';

let env: Env;
let metricsUrl: string;

/** controller_runtime_reconcile_errors_total of the IPAddressClaim controller: what an operator alerts on. */
async function claimReconcileErrors(): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return Number(
    /^controller_runtime_reconcile_errors_total\{controller="ipaddressclaim"\} (\d+)$/m.exec(text)?.[1] ?? 0,
  );
}

describe('ipam-infoblox: appliance load', () => {
  before(async () => {
    env = await infobloxEnv({ network: [{ network: '10.70.0.0/24' }, { network: '10.70.1.0/24' }] });
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    // A predecessor's write that got no answer may be applied until a minute after this manager leads: the claims
    // below are all released within that minute.
    await env.startManager({ ...testTuning, settleMs: 60_000 }, { metricsBindAddress: `127.0.0.1:${port}` });
    await createInstance(env.client, 'ib', env.instanceSpec());
    await instanceReady(env.client, 'ib');
  });
  after(async () => {
    await env?.stop();
  });

  it("claims coming and going do not check the pool's subnets again; a change of its spec does", async () => {
    const ns = await testNamespace('ib-load');
    await readyPool(env.client, ns, 'p', { instance: { name: 'ib' }, subnets: [{ cidr: '10.70.0.0/24' }] });
    // Only this pool exists, so every network lookup on the appliance is its check.
    const networkLookups = () => env.sim.requests.counters.byRoute['GET network'] ?? 0;
    const before = networkLookups();
    // The instance's metadata changes too (a label here, its ProtectInstance finalizer as pools come and go):
    // nothing a pool's check depends on.
    const instanceLookups = () => env.sim.requests.counters.byRoute['GET networkview'] ?? 0;
    const instanceBefore = instanceLookups();
    await env.client.resource(InfobloxInstances).patch({ name: 'ib' }, { metadata: { labels: { site: 'lab' } } });
    await waitFor(() => instanceLookups() > instanceBefore, {
      what: 'the manager to check the instance again after its label changed',
    });
    const claims = ['m0', 'm1', 'm2', 'm3', 'm4'];
    for (const m of claims) {
      await createClaim(env.client, ns, m, 'p');
      await waitForAddress(env.client, ns, m);
    }
    for (const m of claims) await env.client.resource(IPAddressClaims).delete({ namespace: ns, name: m });
    for (const m of claims) {
      await waitFor(() => gone(() => env.client.resource(IPAddressClaims).get({ namespace: ns, name: m })), {
        what: `claim ${m} to be released and gone`,
      });
    }
    assert.equal(
      networkLookups() - before,
      0,
      `a label on the instance, ${claims.length} claims allocated and released`,
    );
    // Each released once: a reconcile that came after the release, from a cache not showing the finalizer gone yet,
    // did not release again and wait on a predecessor's writes (a "reconciler error" each).
    assert.equal(await claimReconcileErrors(), 0, 'reconcile errors of the IPAddressClaim controller');

    await env.client
      .resource(InfobloxIPPools)
      .patch({ namespace: ns, name: 'p' }, { spec: { subnets: [{ cidr: '10.70.0.0/24' }, { cidr: '10.70.1.0/24' }] } });
    await waitFor(() => networkLookups() - before >= 2, {
      what: 'the pool with a new subnet to be checked again, both subnets looked up',
    });
  });
});
