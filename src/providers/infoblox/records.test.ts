// The provider's appliance side against the simulator over HTTPS: search-then-allocate (idempotent across a lost
// answer), subnet fallback, IPv4 and IPv6, DNS, two records of one name, verification of kept addresses, release.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { WapiClient } from '../../infoblox/client.ts';
import { WapiError } from '../../infoblox/errors.ts';
import { startWapiSimulator, type WapiSimulator } from '../../infoblox/simulator/index.ts';
import { subnetsOf } from './names.ts';
import { allocate, release, verify, type Placement } from './records.ts';
import type { InfobloxIPPool } from '../../api/index.ts';

let sim: WapiSimulator;
let client: WapiClient;
const signal = new AbortController().signal;

const subnets = (...cidrs: string[]) =>
  subnetsOf({ spec: { instance: { name: 'i' }, subnets: cidrs.map((cidr) => ({ cidr })) } } as InfobloxIPPool);
const records = (name?: string) => sim.state.hostRecords().filter((r) => name === undefined || r.name === name);
const addresses = (name: string) => records(name).flatMap((r) => [...r.ipv4addrs, ...r.ipv6addrs]);
const at = (hostname: string, extra: Partial<Placement> = {}): Placement => ({
  hostname,
  networkView: 'default',
  ...extra,
});
const write = { write: true, signal };
const none = () => false;

describe('infoblox provider: appliance records', () => {
  before(async () => {
    sim = await startWapiSimulator({
      username: 'u',
      password: 'p',
      seed: {
        network: [{ network: '10.1.0.0/24' }, { network: '10.1.1.0/30' }, { network: '10.1.2.0/30' }],
        ipv6network: [{ network: 'fd00:1::/64' }],
        zone_auth: [{ fqdn: 'lab.test' }],
      },
    });
    client = new WapiClient({
      host: '127.0.0.1',
      port: sim.port,
      wapiVersion: '2.12',
      credentials: { username: 'u', password: 'p' },
      caPem: sim.caPem!,
      timeoutMs: 2000,
      retry: { attempts: 2, initialMs: 5, maxMs: 10 },
    });
  });
  afterEach(() => sim.faults.clear());
  after(async () => {
    client.close();
    await sim.close();
  });

  it('allocates once: a second attempt finds the record by name and writes nothing', async () => {
    const first = await allocate(
      client,
      at('a1', { comment: 'cluster-ipam: IPAddressClaim ns/a1' }),
      subnets('10.1.0.0/24'),
      write,
    );
    assert.ok('address' in first);
    assert.equal(first.address, '10.1.0.1');
    const posts = sim.requests.counters.byRoute['POST record:host'];
    const again = await allocate(client, at('a1'), subnets('10.1.0.0/24'), write);
    assert.deepEqual(again, first);
    assert.equal(sim.requests.counters.byRoute['POST record:host'], posts);
    assert.deepEqual(addresses('a1'), ['10.1.0.1']);
    assert.deepEqual(await allocate(client, at('nothing-yet'), subnets('10.1.0.0/24'), { write: false, signal }), {
      pending: true,
    });
  });

  it('a POST committed whose answer was lost is found, not repeated', async () => {
    sim.faults.add({ kind: 'status', status: 502, when: 'after', method: 'POST', object: 'record:host' });
    await assert.rejects(allocate(client, at('lost'), subnets('10.1.0.0/24'), write), (err) => {
      return err instanceof WapiError && err.maybeCommitted;
    });
    assert.equal(records('lost').length, 1, 'the appliance made it');
    const found = await allocate(client, at('lost'), subnets('10.1.0.0/24'), write);
    assert.ok('address' in found);
    assert.deepEqual(addresses('lost'), [found.address]);
  });

  it('falls back to the next subnet when one is full or missing; PoolExhausted when all are full', async () => {
    for (const h of ['f1', 'f2'])
      assert.ok('address' in (await allocate(client, at(h), subnets('10.1.1.0/30'), write)));
    const next = await allocate(client, at('f3'), subnets('10.9.9.0/24', '10.1.1.0/30', '10.1.2.0/30'), write);
    assert.ok('address' in next);
    assert.equal(next.address, '10.1.2.1');
    assert.equal(next.subnet.cidr, '10.1.2.0/30');
    assert.ok('address' in (await allocate(client, at('f4'), subnets('10.1.2.0/30'), write)));
    const full = await allocate(client, at('f5'), subnets('10.1.1.0/30', '10.1.2.0/30'), write);
    assert.ok('failed' in full);
    assert.equal(full.failed, 'PoolExhausted');
    assert.match(full.message, /10\.1\.1\.0\/30 is full; 10\.1\.2\.0\/30 is full/);
    const missing = await allocate(client, at('f6'), subnets('10.9.9.0/24'), write);
    assert.ok('failed' in missing);
    assert.equal(missing.failed, 'AllocationFailed');
    assert.match(missing.message, /network 10\.9\.9\.0\/24 does not exist in network view default/);
    assert.equal(records('f5').length + records('f6').length, 0);
  });

  it('IPv6, and a second subnet of one host added to its record (two devices of one machine)', async () => {
    const v4 = await allocate(client, at('dual'), subnets('10.1.0.0/24'), write);
    const v6 = await allocate(client, at('dual'), subnets('fd00:1::/64'), write);
    assert.ok('address' in v4 && 'address' in v6);
    assert.equal(v6.address, 'fd00:1::1');
    assert.equal(records('dual').length, 1);
    assert.deepEqual(addresses('dual'), [v4.address, 'fd00:1::1']);
  });

  it('DNS: configured in the DNS view when the zone exists, refused clearly when not', async () => {
    const ok = await allocate(client, at('m1.lab.test', { dnsView: 'default' }), subnets('10.1.0.0/24'), write);
    assert.ok('address' in ok);
    const [r] = records('m1.lab.test');
    assert.deepEqual([r!.configureForDNS, r!.view, r!.zone], [true, 'default', 'lab.test']);
    const refused = await allocate(client, at('m1.other.test', { dnsView: 'default' }), subnets('10.1.0.0/24'), write);
    assert.ok('failed' in refused);
    assert.match(refused.message, /no authoritative zone of DNS view default contains it/);
  });

  it('two records of one name are reported, naming both, never resolved', async () => {
    for (const a of ['10.1.0.200', '10.1.0.201']) {
      await client.request('POST', 'record:host', {
        body: { name: 'twice', configure_for_dns: false, ipv4addrs: [{ ipv4addr: a }] },
      });
    }
    const out = await allocate(client, at('twice'), subnets('10.1.0.0/24'), write);
    assert.ok('failed' in out);
    assert.equal(out.failed, 'AllocationFailed');
    assert.match(out.message, /2 host records are named "twice".*10\.1\.0\.200.*10\.1\.0\.201/);
    assert.equal(records('twice').length, 2);
    const kept = await verify(client, at('twice'), '10.1.0.200', signal);
    assert.ok('failed' in kept);
  });

  it('keeps an address already handed out: verified, written back if lost, reported if held by another', async () => {
    const got = await allocate(client, at('kept'), subnets('10.1.0.0/24'), write);
    assert.ok('address' in got);
    assert.deepEqual(await verify(client, at('kept'), got.address, signal), { kept: true });
    await client.deleteHostRecord(records('kept')[0]!.ref);
    assert.deepEqual(await verify(client, at('kept'), got.address, signal), { restored: got.address });
    assert.deepEqual(addresses('kept'), [got.address]);
    const other = await allocate(client, at('other'), subnets('10.1.0.0/24'), write);
    assert.ok('address' in other);
    const dup = await verify(client, at('kept'), other.address, signal);
    assert.ok('failed' in dup);
    assert.match(dup.message, /duplicate address: .* host record "other" holds/);
  });

  it('releases: PUT while addresses remain, DELETE with the last, idempotent, by address without a name', async () => {
    const v4 = await allocate(client, at('rel'), subnets('10.1.0.0/24'), write);
    const v6 = await allocate(client, at('rel'), subnets('fd00:1::/64'), write);
    assert.ok('address' in v4 && 'address' in v6);
    assert.deepEqual(await release(client, at('rel'), subnets('10.1.0.0/24'), v4.address, none, signal), [v4.address]);
    assert.deepEqual(addresses('rel'), [v6.address]);
    assert.deepEqual(await release(client, at('rel'), subnets('10.1.0.0/24'), v4.address, none, signal), []);
    // Without the allocation (a retry after the IPAddress went): the record's addresses in the pool's subnets.
    assert.deepEqual(await release(client, at('rel'), subnets('fd00:1::/64'), undefined, none, signal), [v6.address]);
    assert.equal(records('rel').length, 0);

    const orphan = await allocate(client, at('orphan'), subnets('10.1.0.0/24'), write);
    assert.ok('address' in orphan);
    const byAddress = { hostname: undefined, networkView: 'default' };
    assert.deepEqual(await release(client, byAddress, [], orphan.address, none, signal), [orphan.address]);
    assert.equal(records('orphan').length, 0);

    const shared = await allocate(client, at('shared'), subnets('10.1.0.0/24'), write);
    assert.ok('address' in shared);
    const keep = (a: string) => a === shared.address;
    assert.deepEqual(await release(client, at('shared'), subnets('10.1.0.0/24'), undefined, keep, signal), []);
    assert.equal(records('shared').length, 1, 'an address another claim carries stays');
  });
});
