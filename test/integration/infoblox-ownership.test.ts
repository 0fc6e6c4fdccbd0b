// A host record belongs to the claim whose uid it carries: two namespaces running a cluster of the same name (same
// claim names, with and without a DNS zone, all created together against one network) get an address each, none
// twice, none the gateway, and one namespace's claims going leaves the other's records alone; and a manager killed
// while the appliance is slowly committing a write leaves its successor nothing to duplicate or leak.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IPAddressClaims, type IPAddress } from '../../src/api/index.ts';
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
  runManagerProcess,
  taggedRecords,
  waitForAddress,
  type Env,
} from './infoblox-support.ts';

let env: Env;

const tagOf = (ns: string, name: string, uid: string) => `cluster-ipam: IPAddressClaim ${ns}/${name} uid ${uid}`;

describe('ipam-infoblox: records belong to claims by uid', () => {
  before(async () => {
    env = await infobloxEnv({
      network: [{ network: '10.50.0.0/24' }, { network: '10.51.0.0/24' }],
      zone_auth: [{ fqdn: 'lab.test', view: 'default' }],
    });
    await createInstance(env.client, 'ib', env.instanceSpec());
  });
  after(async () => {
    await env?.stop();
  });

  it('two namespaces with a cluster of the same name, created together: no address twice, nothing stripped', async () => {
    const manager = await env.startManager();
    try {
      await instanceReady(env.client, 'ib');
      const tenants = [await testNamespace('ib-tenant-a'), await testNamespace('ib-tenant-b')];
      const subnets = [{ cidr: '10.50.0.0/24', gateway: '10.50.0.1' }];
      for (const ns of tenants) {
        await createPool(env.client, ns, 'plain', { instance: { name: 'ib' }, subnets });
        // One zone for both: their DNS names collide.
        await createPool(env.client, ns, 'dns', { instance: { name: 'ib' }, subnets, dnsZone: 'lab.test' });
        await poolReady(env.client, ns, 'plain');
        await poolReady(env.client, ns, 'dns');
      }
      const claims = tenants.flatMap((ns) => [
        ...Array.from({ length: 6 }, (_, i) => ({ ns, name: `dev-md-${i}`, pool: 'plain' })),
        ...Array.from({ length: 6 }, (_, i) => ({ ns, name: `dev-cp-${i}`, pool: 'dns' })),
      ]);
      const made = await Promise.all(claims.map((c) => createClaim(env.client, c.ns, c.name, c.pool)));
      const ipas: IPAddress[] = await Promise.all(claims.map((c) => waitForAddress(env.client, c.ns, c.name, 60_000)));
      const addresses = ipas.map((a) => a.spec.address);
      assert.equal(new Set(addresses).size, claims.length, `no address twice: ${addresses.join(', ')}`);
      assert.ok(!addresses.includes('10.50.0.1'), 'never the gateway');
      const records = taggedRecords(env.sim);
      claims.forEach((c, i) => {
        const mine = records.filter((r) => r.comment === tagOf(c.ns, c.name, made[i]!.metadata.uid!));
        assert.deepEqual(
          mine.map((r) => r.addresses),
          [[addresses[i]]],
          `${c.ns}/${c.name}: one record, its address`,
        );
      });
      assert.equal(records.length, claims.length);

      // Tenant a goes: tenant b's records and addresses stay as they are.
      const [a, b] = tenants as [string, string];
      await Promise.all(
        claims
          .filter((c) => c.ns === a)
          .map((c) => env.client.resource(IPAddressClaims).delete({ namespace: a, name: c.name })),
      );
      await waitFor(
        async () => (await env.client.resource(IPAddressClaims).list({ namespace: a })).items.length === 0,
        {
          what: "tenant a's claims released and gone",
          timeoutMs: 60_000,
        },
      );
      const left = taggedRecords(env.sim);
      const ofB = claims.map((c, i) => ({ ...c, address: addresses[i] })).filter((c) => c.ns === b);
      assert.deepEqual(
        left.map((r) => r.addresses[0]).sort(),
        ofB.map((c) => c.address).sort(),
        "only tenant b's records are left, with their addresses",
      );
    } finally {
      await manager.stop();
    }
  });

  it('a manager killed while the appliance slowly commits a write: no second record, none left behind', async () => {
    const ns = await testNamespace('ib-handover');
    const first = runManagerProcess(env);
    let uid: string;
    try {
      await instanceReady(env.client, 'ib');
      await createPool(env.client, ns, 'p', { instance: { name: 'ib' }, subnets: [{ cidr: '10.51.0.0/24' }] });
      await poolReady(env.client, ns, 'p');
      // The appliance holds the POST for 20 s before it applies it, long after the manager that sent it is gone.
      const slow = env.sim.faults.add({
        kind: 'latency',
        when: 'before',
        latencyMs: 20_000,
        count: 1,
        method: 'POST',
        object: 'record:host',
      });
      uid = (await createClaim(env.client, ns, 'slow', 'p')).metadata.uid!;
      await waitFor(() => !env.sim.faults.list().some((f) => f.id === slow.id), {
        what: 'the POST of the host record to reach the appliance',
        timeoutMs: 30_000,
      });
    } finally {
      await first.kill();
    }
    const second = runManagerProcess(env);
    try {
      const ipa = await waitForAddress(env.client, ns, 'slow', 90_000);
      const mine = () => taggedRecords(env.sim).filter((r) => r.comment === tagOf(ns, 'slow', uid));
      await waitFor(() => env.sim.requests.recent.some((e) => e.method === 'POST' && e.ms >= 19_000), {
        what: 'the appliance to commit the slow POST',
        timeoutMs: 60_000,
      });
      assert.deepEqual(
        taggedRecords(env.sim)
          .filter((r) => r.name === 'slow')
          .map((r) => r.addresses),
        [[ipa.spec.address]],
        'one record of that name',
      );
      assert.deepEqual(
        mine().map((r) => r.addresses),
        [[ipa.spec.address]],
        'one record: the one the appliance committed late',
      );
      await env.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'slow' });
      await waitFor(() => gone(() => env.client.resource(IPAddressClaims).get({ namespace: ns, name: 'slow' })), {
        what: 'the claim released and gone',
      });
      assert.deepEqual(mine(), [], 'nothing left on the appliance');
    } finally {
      await second.stop();
    }
  });
});
