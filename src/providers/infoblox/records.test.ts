// The provider's appliance side against the simulator over HTTPS: search by the claim's uid then allocate
// (idempotent across a lost answer), subnet fallback, the gateway never handed out, IPv4 and IPv6, DNS, two claims of
// one name, the uid as an extensible attribute or in the comment, verification of kept addresses, release.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { WapiClient } from '../../infoblox/client.ts';
import { WapiError } from '../../infoblox/errors.ts';
import { startWapiSimulator, type WapiSimulator } from '../../infoblox/simulator/index.ts';
import { subnetsOf } from './names.ts';
import { allocate, claimUidAttribute, ownerComment, release, verify, type Placement } from './records.ts';
import type { InfobloxIPPool } from '../../api/index.ts';

let sim: WapiSimulator;
let client: WapiClient;
const signal = new AbortController().signal;

const subnets = (...cidrs: string[]) =>
  subnetsOf({ spec: { instance: { name: 'i' }, subnets: cidrs.map((cidr) => ({ cidr })) } } as InfobloxIPPool);
const records = (name?: string) => sim.state.hostRecords().filter((r) => name === undefined || r.name === name);
const addresses = (name: string) => records(name).flatMap((r) => [...r.ipv4addrs, ...r.ipv6addrs]);
/** The claim `ns/<hostname>` (uid `uid-<hostname>`) at that host name, unless told otherwise. */
const at = (hostname: string, extra: Partial<Placement> = {}): Placement => ({
  owner: { uid: `uid-${hostname}`, claim: `ns/${hostname}` },
  hostname,
  networkView: 'default',
  ...extra,
});
const write = { write: true, signal };
const none = () => false;
/** Another record of the claim at that host name (a write that committed late, another replica's). */
const secondRecord = (hostname: string) =>
  client.createHostRecord({
    name: hostname,
    networkView: 'default',
    configureForDNS: false,
    ipv4Subnets: ['10.1.0.0/24'],
    comment: ownerComment(at(hostname).owner),
  });
/** A release of a claim being deleted. */
const going = { whole: true, live: none, signal };
const newClient = () =>
  new WapiClient({
    host: '127.0.0.1',
    port: sim.port,
    wapiVersion: '2.12',
    credentials: { username: 'u', password: 'p' },
    caPem: sim.caPem!,
    timeoutMs: 2000,
    retry: { attempts: 2, initialMs: 5, maxMs: 10 },
  });

describe('infoblox provider: appliance records', () => {
  before(async () => {
    sim = await startWapiSimulator({
      username: 'u',
      password: 'p',
      seed: {
        network: [
          { network: '10.1.0.0/24' },
          { network: '10.1.1.0/30' },
          { network: '10.1.2.0/30' },
          { network: '10.1.3.0/29' },
          { network: '10.1.4.0/24' },
        ],
        ipv6network: [{ network: 'fd00:1::/64' }],
        zone_auth: [{ fqdn: 'lab.test' }],
      },
    });
    client = newClient();
  });
  afterEach(() => sim.faults.clear());
  after(async () => {
    client.close();
    await sim.close();
  });

  it('allocates once: a second attempt finds the record by the claim uid and writes nothing', async () => {
    const first = await allocate(client, at('a1'), subnets('10.1.0.0/24'), write);
    assert.ok('address' in first);
    assert.equal(first.address, '10.1.0.1');
    const [made] = await client.findHostRecords('a1', 'default');
    assert.equal(made!.comment, 'cluster-ipam: IPAddressClaim ns/a1 uid uid-a1');
    assert.deepEqual(made!.extattrs, {}, 'no attribute where the appliance does not define it');
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

  it("never hands out the subnet's gateway, and does not keep it either", async () => {
    const withGateway = subnetsOf({
      spec: { instance: { name: 'i' }, subnets: [{ cidr: '10.1.3.0/29', gateway: '10.1.3.1' }] },
    } as InfobloxIPPool);
    const first = await allocate(client, at('g1'), withGateway, write);
    const second = await allocate(client, at('g2'), withGateway, write);
    assert.ok('address' in first && 'address' in second);
    assert.deepEqual([first.address, second.address], ['10.1.3.2', '10.1.3.3']);
    assert.deepEqual(
      sim.state.hostRecords().filter((r) => r.ipv4addrs.includes('10.1.3.1')),
      [],
      'the gateway is held by no record',
    );
    // An attempt cut off while the record held it (the next address taken, the gateway not let go yet): the next
    // attempt lets it go.
    await client.request('POST', 'record:host', {
      body: {
        name: 'g4',
        configure_for_dns: false,
        ipv4addrs: [{ ipv4addr: '10.1.3.1' }, { ipv4addr: '10.1.3.5' }],
        comment: ownerComment(at('g4').owner),
      },
    });
    const g4 = await allocate(client, at('g4'), withGateway, write);
    assert.ok('address' in g4);
    assert.equal(g4.address, '10.1.3.5');
    assert.deepEqual(addresses('g4'), ['10.1.3.5']);
  });

  it('two claims of one host name, without DNS: a record each, neither strips the other', async () => {
    const a = at('dev-cp-0', { owner: { uid: 'uid-a', claim: 'tenant-a/dev-cp-0' } });
    const b = at('dev-cp-0', { owner: { uid: 'uid-b', claim: 'tenant-b/dev-cp-0' } });
    const [ga, gb] = await Promise.all([
      allocate(client, a, subnets('10.1.4.0/24'), write),
      allocate(client, b, subnets('10.1.4.0/24'), write),
    ]);
    assert.ok('address' in ga && 'address' in gb);
    assert.notEqual(ga.address, gb.address);
    assert.equal(records('dev-cp-0').length, 2);
    // b's IPAddress is not written yet: a release of a without an address takes only a's.
    assert.deepEqual(await release(client, a, undefined, going), [ga.address]);
    assert.deepEqual(addresses('dev-cp-0'), [gb.address]);
    assert.deepEqual(await allocate(client, b, subnets('10.1.4.0/24'), write), gb);
  });

  it('IPv6, and a second subnet of a claim added to its record', async () => {
    const v4 = await allocate(client, at('dual'), subnets('10.1.0.0/24'), write);
    const v6 = await allocate(client, at('dual'), subnets('fd00:1::/64'), write);
    assert.ok('address' in v4 && 'address' in v6);
    assert.equal(v6.address, 'fd00:1::1');
    assert.equal(records('dual').length, 1);
    assert.deepEqual(addresses('dual'), [v4.address, 'fd00:1::1']);
  });

  it('DNS: configured in the DNS view when the zone exists; a second claim of the name gets a record without DNS', async () => {
    const ok = await allocate(client, at('m1.lab.test', { dnsView: 'default' }), subnets('10.1.0.0/24'), write);
    assert.ok('address' in ok);
    const [r] = records('m1.lab.test');
    assert.deepEqual([r!.configureForDNS, r!.view, r!.zone], [true, 'default', 'lab.test']);
    const refused = await allocate(client, at('m1.other.test', { dnsView: 'default' }), subnets('10.1.0.0/24'), write);
    assert.ok('failed' in refused);
    assert.match(refused.message, /no authoritative zone of DNS view default contains it/);
    const other = { dnsView: 'default', owner: { uid: 'uid-other', claim: 'tenant-b/m1' } };
    const second = await allocate(client, at('m1.lab.test', other), subnets('10.1.0.0/24'), write);
    assert.ok('address' in second);
    assert.match(
      second.dnsTaken ?? '',
      /"m1\.lab\.test" is already in DNS view default for host record .* of IPAddressClaim ns\/m1\.lab\.test: .* not configured for DNS/,
    );
    const both = records('m1.lab.test');
    assert.deepEqual(
      both.map((r) => [r.configureForDNS, [...r.ipv4addrs]]),
      [
        [true, [ok.address]],
        [false, [second.address]],
      ],
      'a record each: the first keeps the name in DNS',
    );
    assert.deepEqual(await allocate(client, at('m1.lab.test', other), subnets('10.1.0.0/24'), write), {
      address: second.address,
      subnet: second.subnet,
      record: second.record,
    });
  });

  it('the uid as an extensible attribute where the appliance defines it; records tagged before still found', async () => {
    const before = await allocate(client, at('ea-early'), subnets('10.1.0.0/24'), write);
    assert.ok('address' in before);
    sim.state.create('extensibleattributedef', { name: claimUidAttribute, type: 'STRING' });
    const c = newClient(); // asks again whether the attribute is defined
    try {
      const got = await allocate(c, at('ea'), subnets('10.1.0.0/24'), write);
      assert.ok('address' in got);
      const [made] = await c.findHostRecords('ea', 'default');
      assert.deepEqual(made!.extattrs, { [claimUidAttribute]: { value: 'uid-ea' } });
      assert.equal(made!.comment, ownerComment(at('ea').owner));
      const found = await c.searchHostRecords({ [`*${claimUidAttribute}`]: 'uid-ea' });
      assert.deepEqual(
        found.map((r) => r.ref),
        [made!.ref],
      );
      assert.deepEqual(await allocate(c, at('ea-early'), subnets('10.1.0.0/24'), write), before);
      assert.equal(records('ea-early').length, 1);
    } finally {
      c.close();
    }
  });

  it('keeps an address already handed out: verified, written back if lost, reported if held by another', async () => {
    const got = await allocate(client, at('kept'), subnets('10.1.0.0/24'), write);
    assert.ok('address' in got);
    assert.deepEqual(await verify(client, at('kept'), got.address, signal), { kept: true });
    await client.deleteHostRecord(records('kept')[0]!.ref);
    assert.deepEqual(await verify(client, at('kept'), got.address, signal), { restored: got.address });
    assert.deepEqual(addresses('kept'), [got.address]);
    assert.equal(
      records('kept')[0] && (await client.findHostRecords('kept', 'default'))[0]!.comment,
      ownerComment(at('kept').owner),
    );
    const other = await allocate(client, at('other'), subnets('10.1.0.0/24'), write);
    assert.ok('address' in other);
    const dup = await verify(client, at('kept'), other.address, signal);
    assert.ok('failed' in dup);
    assert.match(dup.message, /duplicate address: .* host record "other" .* holds/);
  });

  it('verification lets go of a record of the claim that committed late (its IPAddress has another address)', async () => {
    const got = await allocate(client, at('late'), subnets('10.1.0.0/24'), write);
    assert.ok('address' in got);
    await secondRecord('late');
    assert.equal(records('late').length, 2);
    assert.deepEqual(await verify(client, at('late'), got.address, signal), { kept: true });
    assert.deepEqual(addresses('late'), [got.address]);
  });

  it("releases every record of the claim, idempotently; by address only what is the claim's", async () => {
    const v4 = await allocate(client, at('rel'), subnets('10.1.0.0/24'), write);
    const v6 = await allocate(client, at('rel'), subnets('fd00:1::/64'), write);
    assert.ok('address' in v4 && 'address' in v6);
    assert.deepEqual(await release(client, at('rel'), v4.address, going), [v4.address, v6.address]);
    assert.equal(records('rel').length, 0);
    assert.deepEqual(await release(client, at('rel'), v4.address, going), []);

    // A claim that stays (another replica answered it first with another record): only the address it does not keep.
    const kept = await allocate(client, at('twice'), subnets('10.1.0.0/24'), write);
    assert.ok('address' in kept);
    await secondRecord('twice');
    const [extra] = addresses('twice').filter((a) => a !== kept.address);
    assert.deepEqual(await release(client, at('twice'), extra, { ...going, whole: false }), [extra]);
    assert.deepEqual(addresses('twice'), [kept.address]);

    // An IPAddress left without its claim (no uid, no host name): the record holding its address, if its claim is gone.
    const orphan = await allocate(client, at('orphan'), subnets('10.1.0.0/24'), write);
    assert.ok('address' in orphan);
    const byAddress = { owner: { uid: '', claim: 'ns/orphan' }, hostname: undefined, networkView: 'default' };
    const live = (uid: string) => uid === 'uid-orphan';
    assert.deepEqual(await release(client, byAddress, orphan.address, { ...going, live }), [], 'its claim lives');
    assert.deepEqual(await release(client, byAddress, orphan.address, going), [orphan.address]);
    assert.equal(records('orphan').length, 0);

    // Made by an earlier version (no tag): by the known address on the record of the host name.
    await client.request('POST', 'record:host', {
      body: {
        name: 'legacy',
        configure_for_dns: false,
        ipv4addrs: [{ ipv4addr: '10.1.0.250' }, { ipv4addr: '10.1.0.251' }],
        comment: 'cluster-ipam: IPAddressClaim ns/legacy',
      },
    });
    assert.deepEqual(await release(client, at('legacy'), '10.1.0.250', going), ['10.1.0.250']);
    assert.deepEqual(addresses('legacy'), ['10.1.0.251'], 'the other device keeps its address');
    // Someone else's record holding an address is never touched.
    await client.request('POST', 'record:host', {
      body: { name: 'router', configure_for_dns: false, ipv4addrs: [{ ipv4addr: '10.1.0.252' }] },
    });
    assert.deepEqual(await release(client, byAddress, '10.1.0.252', going), []);
    assert.deepEqual(addresses('router'), ['10.1.0.252']);
  });
});
