// The simulator's core without HTTP: the appliance state (search, nextavailableip, host record writes), the seed
// and the fault injector.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applySeed, FaultInjector, FaultSpecError, WapiFault, WapiState } from './simulator/index.ts';

const seeded = () => {
  const state = new WapiState();
  applySeed(state, {
    networkview: [{ name: 'lab' }],
    network: [{ network: '10.0.0.0/29' }, { network: '10.0.0.0/29', network_view: 'lab' }, { network: '10.9.0.0/31' }],
    ipv6network: [{ network: 'fd00:50:0::/64' }],
    zone_auth: [{ fqdn: 'example.test' }, { fqdn: 'sub.example.test' }],
  });
  return state;
};

const v4 = (cidr: string, view = 'default') => ({ ipv4addr: `func:nextavailableip:${cidr},${view}` });
const plain = (name: string, ...ipv4addrs: object[]) => ({ name, configure_for_dns: false, ipv4addrs });

function refused(fn: () => unknown, status: number, text: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WapiFault, String(err));
    assert.equal(err.status, status);
    assert.match(err.body.text, text);
    return true;
  });
}

function addresses(state: WapiState, ref: string): string[] {
  const r = state.read(ref, { fields: ['ipv4addrs', 'ipv6addrs'] }) as {
    ipv4addrs: { ipv4addr: string }[];
    ipv6addrs: { ipv6addr: string }[];
  };
  return [...r.ipv4addrs.map((a) => a.ipv4addr), ...r.ipv6addrs.map((a) => a.ipv6addr)];
}

describe('WAPI simulator state', () => {
  it('nextavailableip: lowest free address, skipping network, broadcast and addresses of any host record', () => {
    const s = seeded();
    s.create('record:host', plain('fixed', { ipv4addr: '10.0.0.2' }));
    const refs = ['a', 'b', 'c', 'd', 'e'].map((n) => s.create('record:host', plain(n, v4('10.0.0.0/29'))));
    assert.deepEqual(
      refs.map((r) => addresses(s, r)[0]),
      ['10.0.0.1', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'],
    );
    refused(() => s.create('record:host', plain('f', v4('10.0.0.0/29'))), 400, /^Cannot find 1 available IP/);
    // Another network view is another address space.
    assert.deepEqual(addresses(s, s.create('record:host', plain('g', v4('10.0.0.0/29', 'lab')))), ['10.0.0.1']);
    // A deleted record's address is free again, and the lowest.
    s.delete(refs[1]!);
    assert.deepEqual(addresses(s, s.create('record:host', plain('h', v4('10.0.0.0/29')))), ['10.0.0.3']);
    // /31: both addresses are hosts. Two functions in one record get two addresses.
    assert.deepEqual(addresses(s, s.create('record:host', plain('p2p', v4('10.9.0.0/31'), v4('10.9.0.0/31')))), [
      '10.9.0.0',
      '10.9.0.1',
    ]);
    const six = s.create('record:host', {
      name: 'six',
      configure_for_dns: false,
      ipv6addrs: [{ ipv6addr: 'func:nextavailableip:fd00:50::/64,default' }],
    });
    assert.deepEqual(addresses(s, six), ['fd00:50::1']);
    refused(() => s.create('record:host', plain('x', v4('10.1.0.0/24'))), 400, /Network 10.1.0.0\/24 not found/);
    refused(() => s.create('record:host', plain('x', { ipv4addr: 'func:nextavailableip:fd00:50::/64' })), 400, /IPv4/);
  });

  it('host records without DNS may share a name; with DNS the name must be new and inside a zone', () => {
    const s = seeded();
    s.create('record:host', plain('twice', v4('10.0.0.0/29')));
    s.create('record:host', plain('twice', v4('10.0.0.0/29')));
    assert.equal(s.search('record:host', [['name', 'twice']]).length, 2);
    const dns = { name: 'm1.sub.example.test', view: 'default', ipv4addrs: [v4('10.0.0.0/29')] };
    const ref = s.create('record:host', { ...dns, configure_for_dns: true });
    assert.match(ref, /^record:host\/[A-Za-z0-9_]+:m1\.sub\.example\.test\/default$/);
    assert.deepEqual(s.read(ref, { fields: ['zone'] }), { _ref: ref, zone: 'sub.example.test' });
    refused(() => s.create('record:host', dns), 400, /^The record 'm1.sub.example.test' already exists\.$/);
    const before = s.hostRecords().length;
    refused(() => s.create('record:host', { ...dns, name: 'm1.other.test' }), 400, /A parent was not found/);
    refused(() => s.create('record:host', { ...dns, name: 'm2.example.test', view: 'nope' }), 400, /A parent/);
    assert.equal(s.hostRecords().length, before, 'a refused create creates nothing');
  });

  it('search: exact, case-sensitive arguments; known fields only; _max_results', () => {
    const s = seeded();
    s.create('record:host', plain('host1', v4('10.0.0.0/29')));
    s.create('record:host', plain('host10', v4('10.0.0.0/29')));
    assert.deepEqual(
      s.search('record:host', [['name', 'host1']]).map((r) => (r as { name: string }).name),
      ['host1'],
    );
    assert.deepEqual(s.search('record:host', [['name', 'HOST1']]), []);
    assert.deepEqual(s.search('record:host', [['name', 'host']]), []);
    assert.equal(s.search('record:host', [['ipv4addr', '10.0.0.2']]).length, 1);
    assert.equal(s.search('ipv6network', [['network', 'fd00:50::/64']]).length, 1);
    assert.equal(s.search('ipv6network', [['network', 'fd00:50:0::/64']]).length, 0, 'network= is canonical text');
    refused(() => s.search('record:host', [['nmae', 'x']]), 400, /^Unknown argument\/field: 'nmae'$/);
    refused(() => s.search('record:hots', []), 400, /^Unknown object type \(record:hots\)$/);
    refused(() => s.search('record:host', [], { maxResults: 1 }), 400, /Result set too large \(> 1\)/);
    assert.equal(s.search('record:host', [], { maxResults: -1 }).length, 1);
    refused(() => s.search('record:host', [], { fields: ['nmae'] }), 400, /Unknown argument\/field: 'nmae'/);
  });

  it('return fields: defaults, a replacing list, `+` adding to the defaults, repeats a union', () => {
    const s = seeded();
    const ref = s.create('record:host', { ...plain('h', v4('10.0.0.0/29')), comment: 'c', ttl: 60, use_ttl: true });
    assert.deepEqual(Object.keys(s.read(ref) as object), ['_ref', 'ipv4addrs', 'ipv6addrs', 'name', 'view']);
    assert.deepEqual(s.read(ref, { fields: ['name', 'name', 'ttl'] }), { _ref: ref, name: 'h', ttl: 60 });
    assert.deepEqual(Object.keys(s.read(ref, { extra: ['comment'] }) as object).sort(), [
      '_ref',
      'comment',
      'ipv4addrs',
      'ipv6addrs',
      'name',
      'view',
    ]);
  });

  it('PUT: kept entries by _ref or address, new ones by function, an empty list removes the family', () => {
    const s = seeded();
    const ref = s.create('record:host', {
      name: 'h',
      configure_for_dns: false,
      ipv4addrs: [{ ...v4('10.0.0.0/29'), mac: 'aa:bb:cc:dd:ee:ff' }],
      ipv6addrs: [{ ipv6addr: 'func:nextavailableip:fd00:50::/64,default' }],
    });
    const read = () => s.read(ref, { fields: ['ipv4addrs', 'ipv6addrs'] }) as { ipv4addrs: Record<string, unknown>[] };
    const first = read().ipv4addrs[0]!;
    s.update(ref, { _ref: ref, ipv4addrs: [{ _ref: first._ref }, v4('10.0.0.0/29')] });
    assert.deepEqual(
      read().ipv4addrs.map((a) => [a.ipv4addr, a.mac]),
      [
        ['10.0.0.1', 'aa:bb:cc:dd:ee:ff'],
        ['10.0.0.2', undefined],
      ],
    );
    assert.equal(read().ipv4addrs[0]!._ref, first._ref, 'a kept entry keeps its ref');
    s.update(ref, { ipv4addrs: [{ ipv4addr: '10.0.0.2', configure_for_dhcp: false, mac: '' }] });
    assert.deepEqual(addresses(s, ref), ['10.0.0.2', 'fd00:50::1']);
    s.update(ref, { ipv4addrs: [] });
    assert.deepEqual(addresses(s, ref), ['fd00:50::1']);
    refused(() => s.update(ref, { ipv6addrs: [] }), 400, /at least one IP address/);
    refused(
      () => s.update(ref, { ipv4addrs: [{ _ref: 'record:host_ipv4addr/bm9wZQ:10.0.0.9/h/%20' }] }),
      404,
      /not found/,
    );
    refused(() => s.update(ref, { network_view: 'lab' }), 400, /^Field is not writable: network_view$/);
    refused(() => s.update(ref, { ipv6addrs: [{ ipv6addr: 'fd00:50::1', host: 'h' }] }), 400, /not writable: host/);
    refused(() => s.update(ref, { zone: 'x' }), 400, /not writable: zone/);
    assert.deepEqual(addresses(s, ref), ['fd00:50::1'], 'a refused PUT changes nothing');
  });

  it('refs resolve by the opaque part whatever the readable suffix; a delete answers the ref', () => {
    const s = seeded();
    const ref = s.create('record:host', plain('h', v4('10.0.0.0/29')));
    const opaque = ref.slice('record:host/'.length, ref.indexOf(':', 'record:host/'.length));
    assert.match(opaque, /^[A-Za-z0-9_]+$/);
    for (const variant of [ref, ref.replace('%20', '%2520'), `record:host/${opaque}`, `record:host/${opaque}:x/y`]) {
      assert.equal((s.read(variant) as { _ref: string })._ref, ref);
    }
    refused(() => s.read(`network/${opaque}:h/%20`), 404, /not found/);
    refused(() => s.read('record:host/bm9wZQ:h/%20'), 404, /^Reference record:host\/bm9wZQ:h\/%20 not found$/);
    assert.equal(s.delete(ref.replace('%20', '%2520')), ref);
    refused(() => s.delete(ref), 404, /not found/);
  });

  it('seeding: a network view brings its DNS view; duplicates and dangling references are refused', () => {
    const s = seeded();
    assert.deepEqual(
      s.search('view', [['network_view', 'lab']], { fields: ['name'] }).map((v) => (v as { name: string }).name),
      ['default.lab'],
    );
    assert.equal((s.search('network', [['network', '10.0.0.0/29']]) as unknown[]).length, 2);
    refused(() => s.create('network', { network: '10.0.0.0/29' }), 400, /Duplicate object '10.0.0.0\/29'/);
    refused(() => s.create('network', { network: '10.2.0.0/24', network_view: 'nope' }), 400, /Network view nope/);
    refused(() => s.create('ipv6network', { network: '10.2.0.0/24' }), 400, /not an IPv6 network/);
    refused(() => s.create('zone_auth', { fqdn: 'x.test', view: 'nope' }), 400, /DNS view nope/);
    refused(() => s.create('networkview', { name: 'lab', colour: 'red' }), 400, /Unknown argument\/field: 'colour'/);
    assert.throws(() => applySeed(s, { networks: [] }), /unknown object type\(s\) networks/);
    assert.throws(() => applySeed(s, { network: [{ network: 'nope' }] }), /seed: network\[0\]: Invalid value/);
  });
});

describe('fault injector', () => {
  it('counts, durations, filters; the first matching failure wins and latencies add up', () => {
    let now = 1000;
    const f = new FaultInjector(() => now);
    const a = f.add({ kind: 'status', count: 2, method: 'post', object: 'record:host' });
    f.add({ kind: 'drop', when: 'after' });
    f.add({ kind: 'latency', latencyMs: 5 });
    f.add({ kind: 'latency', latencyMs: 7, when: 'after', durationMs: 100 });
    assert.equal(a.status, 503);
    let p = f.plan('POST', 'record:host');
    assert.deepEqual([p.fail?.id, p.delayBeforeMs, p.delayAfterMs], [a.id, 5, 7]);
    p = f.plan('GET', 'record:host');
    assert.deepEqual([p.fail?.kind, p.fail?.when], ['drop', 'after']);
    assert.equal(f.plan('GET', 'record:host').fail, undefined, 'count 1 by default');
    assert.equal(f.plan('POST', 'record:host').fail?.id, a.id);
    assert.equal(f.plan('POST', 'record:host').fail, undefined);
    now += 100;
    assert.deepEqual(
      f.list().map((x) => x.kind),
      ['latency'],
    );
    const timed = f.add({ kind: 'unauthorized', durationMs: 50 });
    assert.equal(timed.remaining, undefined, 'a duration alone is unlimited in count');
    assert.equal(f.plan('GET', 'view').fail?.kind, 'unauthorized');
    assert.equal(f.plan('GET', 'view').fail?.kind, 'unauthorized');
    now += 50;
    assert.equal(f.plan('GET', 'view').fail, undefined);
    assert.equal(f.clear(), 1);
  });

  it('refuses what it cannot do', () => {
    const f = new FaultInjector();
    for (const bad of [
      {},
      { kind: 'explode' },
      { kind: 'status', when: 'during' },
      { kind: 'status', status: 200 },
      { kind: 'drop', latencyMs: 5 },
      { kind: 'drop', count: 0 },
      { kind: 'drop', method: [] },
      { kind: 'drop', colour: 'red' },
      [],
    ]) {
      assert.throws(() => f.add(bad), FaultSpecError, JSON.stringify(bad));
    }
  });
});
