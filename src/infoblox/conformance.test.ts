// Conformance of the WAPI simulator to spec 04 §4.3/§4.4, over real HTTPS: request → exact status, headers and body
// bytes. Written from the spec, not from the simulator, so it can be pointed at any WAPI peer.
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { startWapiSimulator, type WapiSimulator } from './simulator/index.ts';

const user = 'admin';
const password = 'infoblox-secret';
const goClientFields =
  'extattrs,ipv4addrs,ipv6addrs,name,view,zone,comment,network_view,aliases,use_ttl,ttl,configure_for_dns';
const repeatedFields = goClientFields
  .split(',')
  .map((f) => `&_return_fields=${f}`)
  .join('');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let sim: WapiSimulator;

function call(
  method: string,
  path: string,
  opts: { body?: unknown; auth?: string | null; cookie?: string } = {},
): Promise<Reply> {
  const auth = opts.auth === undefined ? `${user}:${password}` : opts.auth;
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(path.startsWith('/') ? sim.url + path : `${sim.wapiUrl}/${path}`),
      {
        method,
        ca: sim.caPem,
        agent: false,
        headers: {
          // Every request carries it, GET and DELETE too (§4.4).
          'Content-Type': 'application/json',
          ...(auth ? { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}),
          ...(opts.cookie ? { Cookie: opts.cookie } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const json = (r: Reply) => JSON.parse(r.body) as unknown;

function assertWapiError(r: Reply, status: number, expected: { Error: string; code: string; text: string }): void {
  assert.equal(r.status, status, r.body);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.deepEqual(json(r), expected);
}

const hostBody = (name: string, extra: object = {}) => ({
  name,
  network_view: 'default',
  configure_for_dns: false,
  ipv4addrs: [{ ipv4addr: 'func:nextavailableip:10.0.0.0/24,default', configure_for_dhcp: false, mac: '' }],
  ipv6addrs: [],
  ...extra,
});

async function created(r: Reply): Promise<string> {
  assert.equal(r.status, 201, r.body);
  const ref = json(r);
  assert.equal(typeof ref, 'string');
  return ref as string;
}

describe('WAPI simulator conformance (spec 04 §4.3/§4.4)', () => {
  before(async () => {
    sim = await startWapiSimulator({ username: user, password, wapiVersion: '2.12' });
    // Seeded through WAPI POSTs, as a real appliance is configured (§4.4).
    for (const [type, body, readable] of [
      ['networkview', { name: 'lab' }, /^networkview\/[A-Za-z0-9_]+:lab\/false$/],
      ['view', { name: 'internal', network_view: 'default' }, /^view\/[A-Za-z0-9_]+:internal\/false$/],
      [
        'network',
        { network: '10.0.0.0/24', network_view: 'default' },
        /^network\/[A-Za-z0-9_]+:10\.0\.0\.0\/24\/default$/,
      ],
      ['network', { network: '10.0.1.0/30', network_view: 'default' }, /:10\.0\.1\.0\/30\/default$/],
      ['ipv6network', { network: 'fd00:50::/64', network_view: 'default' }, /^ipv6network\/[A-Za-z0-9_]+:fd00/],
      ['networkcontainer', { network: '10.0.0.0/8', network_view: 'default' }, /^networkcontainer\//],
      ['zone_auth', { fqdn: 'example.test', view: 'default' }, /^zone_auth\/[A-Za-z0-9_]+:example\.test\/default$/],
    ] as const) {
      assert.match(await created(await call('POST', type, { body })), readable);
    }
  });
  after(() => sim.close());

  it('an empty search answers 200 with the body exactly []', async () => {
    const r = await call('GET', `record:host?name=nobody&network_view=default&_return_fields=${goClientFields}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.body, '[]');
    // The Go client's retry: _proxy_search=GM first in the query.
    const again = await call('GET', `record:host?_proxy_search=GM&name=nobody&network_view=default${repeatedFields}`);
    assert.equal(again.body, '[]');
  });

  it('views and networks: lookups by name and canonical CIDR', async () => {
    const nv = json(await call('GET', 'networkview?name=default')) as Record<string, unknown>[];
    assert.equal(nv.length, 1);
    assert.match(nv[0]!._ref as string, /^networkview\/[A-Za-z0-9_]+:default\/true$/);
    assert.equal(nv[0]!.name, 'default');
    const view = json(await call('GET', 'view?name=default.lab')) as Record<string, unknown>[];
    assert.deepEqual([view[0]!.name, view[0]!.network_view], ['default.lab', 'lab'], 'NIOS makes default.<view>');
    const net = json(await call('GET', 'network?network=10.0.0.0/24&network_view=default')) as object[];
    assert.deepEqual(Object.keys(net[0]!), ['_ref', 'network', 'network_view']);
    const six = await call('GET', 'ipv6network?network=fd00:50::/64&network_view=default');
    assert.match(
      (json(six) as { _ref: string }[])[0]!._ref,
      /^ipv6network\/[A-Za-z0-9_]+:fd00%3A50%3A%3A\/64\/default$/,
    );
    assert.equal((await call('GET', 'ipv6network?network=fd00:0050::/64&network_view=default')).body, '[]');
    assert.equal((await call('GET', 'networkview?name=nope')).body, '[]');
  });

  it('POST record:host answers 201 with the ref as a JSON string; GET <ref> answers the object', async () => {
    const post = await call('POST', 'record:host', { body: hostBody('h') });
    assert.equal(post.status, 201);
    assert.equal(post.headers['content-type'], 'application/json');
    assert.match(post.body, /^"record:host\/[A-Za-z0-9_]+:h\/%20"$/, 'no DNS: view " ", ref ending in /%20');
    const ref = json(post) as string;
    const opaque = /^record:host\/([A-Za-z0-9_]+):/.exec(ref)![1]!;
    const got = json(await call('GET', `${ref}?_return_fields=name,view,network_view,ipv4addrs`)) as {
      ipv4addrs: { _ref: string }[];
    };
    assert.match(got.ipv4addrs[0]!._ref, /^record:host_ipv4addr\/[A-Za-z0-9_]+:10\.0\.0\.1\/h\/%20$/);
    assert.deepEqual(got, {
      _ref: `record:host/${opaque}:h/%20`,
      name: 'h',
      view: ' ',
      network_view: 'default',
      ipv4addrs: [{ _ref: got.ipv4addrs[0]!._ref, ipv4addr: '10.0.0.1', host: 'h', configure_for_dhcp: false }],
    });
    // Any readable suffix resolves, a double escape included.
    for (const r of [`record:host/${opaque}:h/%2520`, `record:host/${opaque}:whatever`, `record:host/${opaque}`]) {
      assert.equal((json(await call('GET', r)) as { _ref: string })._ref, ref);
    }
  });

  it("search return fields: the Go client's list, once and repeated, answered with the right JSON types", async () => {
    const ref = await created(
      await call('POST', 'record:host', { body: hostBody('typed', { ttl: 300, use_ttl: true }) }),
    );
    const r = await call(
      'GET',
      `record:host?name=typed&network_view=default&_return_fields=${goClientFields}${repeatedFields}`,
    );
    const [rec] = json(r) as Record<string, unknown>[];
    assert.equal(rec!._ref, ref);
    assert.deepEqual(rec!.extattrs, {});
    assert.deepEqual(rec!.aliases, []);
    assert.equal(rec!.ttl, 300);
    assert.equal(rec!.use_ttl, true);
    assert.equal(rec!.configure_for_dns, false);
    assert.equal(rec!.view, ' ');
    // Fields a record does not have are left out.
    assert.ok(!('zone' in rec!) && !('comment' in rec!));
    assert.deepEqual(Object.keys(rec!).sort(), [
      '_ref',
      'aliases',
      'configure_for_dns',
      'extattrs',
      'ipv4addrs',
      'ipv6addrs',
      'name',
      'network_view',
      'ttl',
      'use_ttl',
      'view',
    ]);
    // Exact, case-sensitive names.
    assert.equal((await call('GET', 'record:host?name=type&network_view=default')).body, '[]');
    assert.equal((await call('GET', 'record:host?name=Typed&network_view=default')).body, '[]');
  });

  it('PUT with the body the Go client sends: existing entries keep _ref, new ones by function, [] removes', async () => {
    const ref = await created(await call('POST', 'record:host', { body: hostBody('put') }));
    const rec = json(await call('GET', `${ref}?_return_fields=${goClientFields}`)) as {
      ipv4addrs: { _ref: string; ipv4addr: string }[];
    };
    const old = rec.ipv4addrs[0]!;
    const body = {
      _ref: ref,
      name: 'put',
      view: ' ',
      configure_for_dns: false,
      aliases: [],
      extattrs: {},
      ipv4addrs: [
        { _ref: old._ref, ipv4addr: old.ipv4addr, configure_for_dhcp: false, mac: '' },
        { ipv4addr: 'func:nextavailableip:10.0.1.0/30,default', configure_for_dhcp: false, mac: '' },
      ],
      ipv6addrs: [{ ipv6addr: 'func:nextavailableip:fd00:50::/64,default', configure_for_dhcp: false, duid: '' }],
    };
    const put = await call('PUT', ref, { body });
    assert.equal(put.status, 200);
    assert.equal(put.body, JSON.stringify(ref));
    const after = json(await call('GET', `${ref}?_return_fields=ipv4addrs,ipv6addrs`)) as {
      ipv4addrs: { _ref: string; ipv4addr: string }[];
      ipv6addrs: { _ref: string; ipv6addr: string }[];
    };
    assert.deepEqual(
      after.ipv4addrs.map((a) => a.ipv4addr),
      [old.ipv4addr, '10.0.1.1'],
    );
    assert.equal(after.ipv4addrs[0]!._ref, old._ref);
    assert.deepEqual(
      after.ipv6addrs.map((a) => a.ipv6addr),
      ['fd00:50::1'],
    );
    const kept = after.ipv6addrs.map(({ _ref, ipv6addr }) => ({ _ref, ipv6addr, configure_for_dhcp: false, duid: '' }));
    assert.equal((await call('PUT', ref, { body: { ...body, ipv4addrs: [], ipv6addrs: kept } })).status, 200);
    assert.deepEqual((json(await call('GET', ref)) as { ipv4addrs: unknown[] }).ipv4addrs, []);
    const del = await call('DELETE', ref);
    assert.deepEqual([del.status, del.body], [200, JSON.stringify(ref)]);
    assert.equal((await call('GET', ref)).status, 404);
  });

  it('errors: exact codes and bodies', async () => {
    assertWapiError(await call('GET', 'record:host/bm90aGVyZQ:gone/%20'), 404, {
      Error: 'AdmConDataNotFoundError: Reference record:host/bm90aGVyZQ:gone/%20 not found',
      code: 'Client.Ibap.Data.NotFound',
      text: 'Reference record:host/bm90aGVyZQ:gone/%20 not found',
    });
    assertWapiError(await call('GET', 'record:hots?name=x'), 400, {
      Error: 'AdmConProtoError: Unknown object type (record:hots)',
      code: 'Client.Ibap.Proto',
      text: 'Unknown object type (record:hots)',
    });
    await created(await call('POST', 'network', { body: { network: '10.0.2.0/30' } }));
    const body = { ...hostBody('full'), ipv4addrs: [{ ipv4addr: 'func:nextavailableip:10.0.2.0/30,default' }] };
    for (const address of ['10.0.2.1', '10.0.2.2']) {
      const ref = await created(await call('POST', 'record:host', { body }));
      assert.equal(
        (json(await call('GET', ref)) as { ipv4addrs: { ipv4addr: string }[] }).ipv4addrs[0]!.ipv4addr,
        address,
      );
    }
    assertWapiError(await call('POST', 'record:host', { body }), 400, {
      Error:
        'AdmConDataError: None (IBDataConflictError: IB.Data.Conflict:Cannot find 1 available IP address(es) in this network)',
      code: 'Client.Ibap.Data.Conflict',
      text: 'Cannot find 1 available IP address(es) in this network',
    });
    const dns = hostBody('m1.nozone.test', { configure_for_dns: true, view: 'default' });
    assertWapiError(await call('POST', 'record:host', { body: dns }), 400, {
      Error:
        'AdmConDataError: None (IBDataConflictError: IB.Data.Conflict:The action is not allowed. A parent was not found.)',
      code: 'Client.Ibap.Data.Conflict',
      text: 'The action is not allowed. A parent was not found.',
    });
    assert.equal((await call('GET', 'record:host?name=m1.nozone.test&network_view=default')).body, '[]');
    const inZone = { ...dns, name: 'm1.example.test' };
    assert.match(await created(await call('POST', 'record:host', { body: inZone })), /:m1\.example\.test\/default$/);
    const dup = await call('POST', 'record:host', { body: inZone });
    assert.equal(dup.status, 400);
    assert.equal((json(dup) as { code: string }).code, 'Client.Ibap.Data.Conflict');
    const seedDup = await call('POST', 'networkview', { body: { name: 'lab' } });
    assert.equal((json(seedDup) as { code: string }).code, 'Client.Ibap.Data.Conflict');
  });

  it('extensible attributes: a definition first, then written in bodies, searched with *Name=, returned', async () => {
    const body = (uid: unknown) => hostBody('ea', { extattrs: { 'cluster-ipam-claim-uid': { value: uid } } });
    // No definition: the write is refused and nothing is created; so is a search by the attribute.
    assertWapiError(await call('POST', 'record:host', { body: body('u-1') }), 400, {
      Error: 'AdmConDataNotFoundError: Unknown extensible attribute: cluster-ipam-claim-uid',
      code: 'Client.Ibap.Data.NotFound',
      text: 'Unknown extensible attribute: cluster-ipam-claim-uid',
    });
    assertWapiError(await call('GET', 'record:host?*cluster-ipam-claim-uid=u-1'), 400, {
      Error: 'AdmConDataNotFoundError: Unknown extensible attribute: cluster-ipam-claim-uid',
      code: 'Client.Ibap.Data.NotFound',
      text: 'Unknown extensible attribute: cluster-ipam-claim-uid',
    });
    assert.equal((await call('GET', 'record:host?name=ea&network_view=default')).body, '[]');
    const def = await created(
      await call('POST', 'extensibleattributedef', { body: { name: 'cluster-ipam-claim-uid', type: 'STRING' } }),
    );
    assert.match(def, /^extensibleattributedef\/[A-Za-z0-9_]+:cluster-ipam-claim-uid$/);
    assert.equal(
      (await call('GET', 'extensibleattributedef?name=cluster-ipam-claim-uid&_return_fields=name,type')).body,
      JSON.stringify([{ _ref: def, name: 'cluster-ipam-claim-uid', type: 'STRING' }]),
    );
    assertWapiError(await call('POST', 'record:host', { body: body(7) }), 400, {
      Error:
        'AdmConProtoError: Invalid value for extensible attribute cluster-ipam-claim-uid: 7: Must be of type STRING',
      code: 'Client.Ibap.Proto',
      text: 'Invalid value for extensible attribute cluster-ipam-claim-uid: 7: Must be of type STRING',
    });
    const ref = await created(await call('POST', 'record:host', { body: body('u-1') }));
    await created(await call('POST', 'record:host', { body: body('u-2') }));
    const found = await call(
      'GET',
      'record:host?*cluster-ipam-claim-uid=u-1&network_view=default&_return_fields+=extattrs',
    );
    assert.equal(found.status, 200);
    const [rec] = json(found) as { _ref: string; ipv4addrs: { ipv4addr: string }[] }[];
    assert.equal(
      found.body,
      JSON.stringify([
        {
          _ref: ref,
          ipv4addrs: rec!.ipv4addrs,
          ipv6addrs: [],
          name: 'ea',
          view: ' ',
          extattrs: { 'cluster-ipam-claim-uid': { value: 'u-1' } },
        },
      ]),
    );
    assert.equal((await call('GET', 'record:host?*cluster-ipam-claim-uid=u-3')).body, '[]');
    // A PUT's extattrs replace the record's.
    assert.equal((await call('PUT', ref, { body: { extattrs: {} } })).status, 200);
    assert.equal((await call('GET', 'record:host?*cluster-ipam-claim-uid=u-1')).body, '[]');
    assert.deepEqual((json(await call('GET', `${ref}?_return_fields=extattrs`)) as { extattrs: object }).extattrs, {});
  });

  it('bad or missing credentials: 401 with an HTML page, not WAPI JSON; the ibapauth cookie authenticates', async () => {
    for (const auth of [`${user}:wrong`, null, `nobody:${password}`]) {
      const r = await call('GET', 'networkview?name=default', { auth });
      assert.equal(r.status, 401);
      assert.match(String(r.headers['content-type']), /^text\/html/);
      assert.match(r.body, /^<!DOCTYPE HTML/);
      assert.throws(() => JSON.parse(r.body));
    }
    const ok = await call('GET', 'networkview?name=default');
    const cookie = String(ok.headers['set-cookie']).split(';')[0]!;
    assert.match(cookie, /^ibapauth="[^"]+"$/);
    assert.equal((await call('GET', 'networkview?name=default', { auth: null, cookie })).status, 200);
    assert.equal((await call('GET', 'networkview?name=default', { auth: null, cookie: 'ibapauth="x"' })).status, 401);
    assert.equal((await call('GET', '/_admin/records', { auth: `${user}:wrong` })).status, 401);
  });

  it('WAPI versions up to the one served; paths outside /wapi/ are not WAPI', async () => {
    assert.equal((await call('GET', '/wapi/v2.5/networkview?name=default')).status, 200);
    assert.equal((await call('GET', '/wapi/v2.13/networkview?name=default')).status, 400);
    assert.equal((await call('GET', '/other')).status, 404);
  });

  it('fault injection: `before` applies nothing, `after` commits the write and then fails the answer', async () => {
    const records = async () => (json(await call('GET', '/_admin/records')) as { records: { name: string }[] }).records;
    const inject = async (spec: object) => {
      const r = await call('POST', '/_admin/faults', { body: spec });
      assert.equal(r.status, 201, r.body);
      return (json(r) as { faults: { id: string }[] }).faults[0]!;
    };
    const count = async (name: string) => (await records()).filter((r) => r.name === name).length;

    await inject({ kind: 'status', status: 503, when: 'before', method: 'POST', object: 'record:host' });
    assert.equal((await call('POST', 'record:host', { body: hostBody('before') })).status, 503);
    assert.equal(await count('before'), 0);

    await inject({ kind: 'status', status: 502, when: 'after', method: 'POST', object: 'record:host' });
    assert.equal((await call('POST', 'record:host', { body: hostBody('after') })).status, 502);
    assert.equal(await count('after'), 1, 'the write was committed');
    // What the Go client's blind retry does next: a second record of the same name, which every search finds.
    await created(await call('POST', 'record:host', { body: hostBody('after') }));
    assert.equal((json(await call('GET', 'record:host?name=after&network_view=default')) as unknown[]).length, 2);

    await inject({ kind: 'drop', when: 'before', method: 'POST' });
    await assert.rejects(
      call('POST', 'record:host', { body: hostBody('dropped-before') }),
      /socket hang up|ECONNRESET/,
    );
    assert.equal(await count('dropped-before'), 0);
    await inject({ kind: 'drop', when: 'after', method: 'POST' });
    await assert.rejects(call('POST', 'record:host', { body: hostBody('dropped-after') }), /socket hang up|ECONNRESET/);
    assert.equal(await count('dropped-after'), 1);

    await inject({ kind: 'unauthorized', when: 'after', count: 1, method: 'POST' });
    const unauthorized = await call('POST', 'record:host', { body: hostBody('auth-after') });
    assert.deepEqual([unauthorized.status, unauthorized.body.startsWith('<!DOCTYPE HTML')], [401, true]);
    assert.equal(await count('auth-after'), 1);

    const slow = await inject({ kind: 'latency', latencyMs: 150, object: 'view' });
    const started = Date.now();
    assert.equal((await call('GET', 'view?name=default')).status, 200);
    assert.ok(Date.now() - started >= 140, 'latency added');
    assert.equal((await call('GET', 'networkview?name=default')).status, 200, 'filtered by object type');
    const listed = json(await call('GET', '/_admin/faults')) as { faults: { id: string; hits: number }[] };
    assert.deepEqual(listed.faults, [{ ...slow, hits: 1 }]);
    assert.equal((await call('DELETE', `/_admin/faults/${slow.id}`)).status, 200);
    assert.equal((await call('POST', '/_admin/faults', { body: { kind: 'nope' } })).status, 400);

    const { counters, recent } = json(await call('GET', '/_admin/requests')) as {
      counters: { byRoute: Record<string, number>; faults: Record<string, number>; byFault: Record<string, number> };
      recent: { status: number | string; fault?: string }[];
    };
    assert.ok(counters.byRoute['POST record:host']! >= 6);
    assert.deepEqual(counters.faults, { latency: 1, status: 2, drop: 2, unauthorized: 1 });
    assert.deepEqual(counters.byFault, {
      'latency/before': 1,
      'status/before': 1,
      'status/after': 1,
      'drop/before': 1,
      'drop/after': 1,
      'unauthorized/after': 1,
    });
    assert.ok(recent.some((e) => e.status === 'dropped' && e.fault === 'drop/after'));
  });

  it('the inspection endpoint lists host records with their view and addresses', async () => {
    const r = json(await call('GET', '/_admin/records')) as {
      records: { name: string; view: string; networkView: string; ipv4addrs: string[]; ref: string }[];
      requests: { total: number };
    };
    const m1 = r.records.find((x) => x.name === 'm1.example.test')!;
    assert.deepEqual(
      { ...m1, ref: undefined },
      {
        ref: undefined,
        name: 'm1.example.test',
        view: 'default',
        networkView: 'default',
        configureForDNS: true,
        zone: 'example.test',
        ipv4addrs: [m1.ipv4addrs[0]],
        ipv6addrs: [],
      },
    );
    assert.ok(r.requests.total > 0);
  });
});
