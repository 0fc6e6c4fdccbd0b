// What a crash or a flaky appliance leaves behind: the manager killed (SIGKILL, its own process) after the appliance
// made a host record and before the IPAddress was written does not allocate twice when it comes back; and with
// faults injected before and after the appliance applies a request (5xx bursts, dropped connections, answers later
// than the client's timeout), every claim is eventually bound, every release eventually done, and the appliance ends
// with one record per claim while they live and none after: no duplicate, no orphan.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IPAddressClaims, IPAddresses } from '../../src/api/index.ts';
import type { FaultSpec } from '../../src/infoblox/simulator/index.ts';
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
  runManagerProcess as startIn,
  waitForAddress,
  type Env,
} from './infoblox-support.ts';

let env: Env;

const runManagerProcess = () => startIn(env);

describe('ipam-infoblox: crashes and faults', () => {
  before(async () => {
    env = await infobloxEnv({
      network: [{ network: '10.40.0.0/24' }, { network: '10.41.0.0/24' }, { network: '10.42.0.0/24' }],
    });
    await createInstance(env.client, 'ib', env.instanceSpec());
  });
  after(async () => {
    await env?.stop();
  });

  it('a manager killed between the appliance allocation and the IPAddress write does not allocate twice', async () => {
    const ns = await testNamespace('ib-crash');
    const first = runManagerProcess();
    try {
      await instanceReady(env.client, 'ib');
      await createPool(env.client, ns, 'p', { instance: { name: 'ib' }, subnets: [{ cidr: '10.40.0.0/24' }] });
      await poolReady(env.client, ns, 'p');
      // The appliance makes the record at once and holds its answer: the manager waits for it, and dies.
      env.sim.faults.add({ kind: 'latency', when: 'after', latencyMs: 60_000, method: 'POST', object: 'record:host' });
      await createClaim(env.client, ns, 'crash', 'p');
      await waitFor(() => recordsByName(env.sim).get('crash'), { what: 'the host record on the appliance' });
      await first.kill();
    } finally {
      await first.kill();
      env.sim.faults.clear();
    }
    assert.equal(await gone(() => env.client.resource(IPAddresses).get({ namespace: ns, name: 'crash' })), true);
    const [made] = recordsByName(env.sim).get('crash')!;

    const second = runManagerProcess();
    try {
      const ipa = await waitForAddress(env.client, ns, 'crash');
      assert.deepEqual(recordsByName(env.sim).get('crash'), [made], 'one record, one address: the first one');
      assert.equal(ipa.spec.address, made![0]);
      // And it is given back like any other.
      await env.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'crash' });
      await waitFor(() => gone(() => env.client.resource(IPAddressClaims).get({ namespace: ns, name: 'crash' })));
      assert.equal(recordsByName(env.sim).get('crash'), undefined);
    } finally {
      await second.stop();
    }
  });

  it('with faults before and after the appliance applies requests, every claim is bound and released, exactly once', async () => {
    const manager: TestManager = await env.startManager();
    try {
      const ns = await testNamespace('ib-faults');
      await instanceReady(env.client, 'ib');
      await createPool(env.client, ns, 'p', {
        instance: { name: 'ib' },
        subnets: [{ cidr: '10.41.0.0/24', gateway: '10.41.0.254' }],
      });
      await poolReady(env.client, ns, 'p');
      const writes = { object: 'record:host' };
      const allocation: FaultSpec[] = [
        // Refused before anything happens.
        { ...writes, kind: 'status', status: 503, method: 'POST', count: 4 },
        { ...writes, kind: 'drop', method: 'GET', count: 4 },
        // Applied, then the answer is a 5xx, a dropped connection, or comes after the client gave up.
        { ...writes, kind: 'status', status: 502, when: 'after', method: 'POST', count: 3 },
        { ...writes, kind: 'drop', when: 'after', method: 'POST', count: 2 },
        { ...writes, kind: 'latency', when: 'after', latencyMs: 2500, method: 'POST', count: 2 },
        // Applied after the client gave up (the request waits at the appliance longer than the client does).
        { ...writes, kind: 'latency', when: 'before', latencyMs: 2500, method: 'POST', count: 2 },
      ];
      for (const f of allocation) env.sim.faults.add(f);
      const names = Array.from({ length: 16 }, (_, i) => `m-${i}`);
      await Promise.all(names.map((m) => createClaim(env.client, ns, m, 'p')));
      const ipas = await Promise.all(names.map((m) => waitForAddress(env.client, ns, m, 45_000)));
      const records = recordsByName(env.sim);
      for (const a of ipas) {
        assert.deepEqual(records.get(a.metadata.name!), [[a.spec.address]], `one record for ${a.metadata.name}`);
      }
      assert.equal(new Set(ipas.map((a) => a.spec.address)).size, names.length, 'no address twice');
      assert.deepEqual(env.sim.faults.list(), [], 'every fault was hit as many times as it says');
      env.sim.faults.clear();
      const release: FaultSpec[] = [
        { ...writes, kind: 'status', status: 503, method: 'DELETE', count: 6 },
        { ...writes, kind: 'drop', when: 'after', method: 'DELETE', count: 3 },
        { ...writes, kind: 'status', status: 500, when: 'after', method: 'DELETE', count: 2 },
        { ...writes, kind: 'latency', when: 'after', latencyMs: 2500, method: 'DELETE', count: 2 },
        { ...writes, kind: 'drop', method: 'GET', count: 3 },
      ];
      for (const f of release) env.sim.faults.add(f);
      await Promise.all(names.map((m) => env.client.resource(IPAddressClaims).delete({ namespace: ns, name: m })));
      await waitFor(
        async () => (await env.client.resource(IPAddressClaims).list({ namespace: ns })).items.length === 0,
        { what: 'every claim released and gone', timeoutMs: 45_000 },
      );
      assert.deepEqual(env.sim.faults.list(), [], 'every fault was hit as many times as it says');
      const left = env.sim.state.hostRecords().filter((r) => r.name.startsWith('m-'));
      assert.deepEqual(left, [], 'no host record left behind');
    } finally {
      env.sim.faults.clear();
      await manager.stop();
    }
  });
  it("what else a bound claim's record holds is let go, also when the appliance refuses the first tries", async () => {
    const ns = await testNamespace('ib-extra');
    let address: string;
    const first = await env.startManager();
    try {
      await instanceReady(env.client, 'ib');
      await createPool(env.client, ns, 'p', { instance: { name: 'ib' }, subnets: [{ cidr: '10.42.0.0/24' }] });
      await poolReady(env.client, ns, 'p');
      await createClaim(env.client, ns, 'extra', 'p');
      address = (await waitForAddress(env.client, ns, 'extra')).spec.address;
    } finally {
      await first.stop();
    }
    // A write that committed after its answer was lost (or a gateway held while it took the next address) left a
    // second address on the claim's record; the next manager looks at the record once, and its first writes fail.
    const [record] = env.sim.state.hostRecords().filter((r) => r.name === 'extra');
    env.sim.state.update(record!.ref, {
      ipv4addrs: [...record!.ipv4addrs, '10.42.0.200'].map((a) => ({ ipv4addr: a })),
    });
    assert.deepEqual(recordsByName(env.sim).get('extra'), [[address, '10.42.0.200']]);
    env.sim.faults.add({ kind: 'status', status: 503, method: 'PUT', object: 'record:host', count: 6 });
    const second = await env.startManager();
    try {
      await waitFor(() => env.sim.faults.list().length === 0, { what: 'the refused PUTs to be tried' });
      await waitFor(
        (note) => {
          const now = recordsByName(env.sim).get('extra');
          note(JSON.stringify(now));
          return JSON.stringify(now) === JSON.stringify([[address]]);
        },
        { what: `the record of claim extra to hold ${address} alone` },
      );
    } finally {
      await second.stop();
      env.sim.faults.clear();
    }
  });
});
