// The WAPI client against the simulator over real HTTPS: the provider's calls, TLS, authentication, timeouts,
// which failures are retried (never a write that may allocate twice), typed errors, and no credential in errors.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { selfSignedServingCertificate } from '../tls/certs.ts';
import { hostRecordUpdateBody, WapiClient, type HostRecord, type WapiClientOptions } from './client.ts';
import {
  isAlreadyExists,
  isAuthFailure,
  isConnectionFailure,
  isNetworkFull,
  isNotFound,
  isParentNotFound,
  WapiAuthError,
  WapiConnectionError,
  WapiError,
  WapiResponseError,
} from './errors.ts';
import { startWapiSimulator, type FaultSpec, type WapiSimulator } from './simulator/index.ts';

const username = 'admin';
const password = 'S3cr3t-p4ss!';
const secrets = [password, Buffer.from(`${username}:${password}`).toString('base64')];

let sim: WapiSimulator;
let dir: string;
let caFile: string;
const clients: WapiClient[] = [];

function client(extra: Partial<WapiClientOptions> = {}, of: WapiSimulator = sim): WapiClient {
  const c = new WapiClient({
    host: '127.0.0.1',
    port: String(of.port),
    wapiVersion: '2.12',
    credentials: { username, password },
    customCAPath: caFile,
    timeoutMs: 2_000,
    retry: { attempts: 3, initialMs: 5, maxMs: 20 },
    ...extra,
  });
  clients.push(c);
  return c;
}

const requests = (route: string) => sim.requests.counters.byRoute[route] ?? 0;

/** Runs `fn` and says how many requests of `route` the simulator answered meanwhile. */
async function counting<T>(
  route: string,
  fn: () => Promise<T>,
): Promise<{ result?: T; error?: unknown; sent: number }> {
  const before = requests(route);
  try {
    const result = await fn();
    return { result, sent: requests(route) - before };
  } catch (error) {
    return { error, sent: requests(route) - before };
  }
}

function assertNoSecret(value: unknown): void {
  const shown = `${String(value)}\n${inspect(value, { depth: 6, showHidden: true })}\n${JSON.stringify(value) ?? ''}`;
  for (const s of secrets) assert.ok(!shown.includes(s), `a credential shows in: ${shown.slice(0, 300)}`);
}

const inject = (spec: FaultSpec) => sim.faults.add(spec);
const names = (r: HostRecord) => [...r.ipv4, ...r.ipv6].map((a) => a.address);

describe('WAPI client', () => {
  before(async () => {
    sim = await startWapiSimulator({
      username,
      password,
      seed: {
        networkview: [{ name: 'lab' }],
        network: [{ network: '10.0.0.0/24' }, { network: '10.0.1.0/30' }],
        ipv6network: [{ network: 'fd00:50::/64' }],
        zone_auth: [{ fqdn: 'example.test' }],
      },
    });
    dir = mkdtempSync(join(tmpdir(), 'wapi-client-test-'));
    caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, sim.caPem!);
  });
  afterEach(() => {
    sim.faults.clear();
    for (const c of clients.splice(0)) c.close();
  });
  after(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('looks up views and networks (IPv6 asked in canonical form)', async () => {
    const c = client();
    assert.deepEqual(
      { ...(await c.getNetworkView('default'))!, ref: '' },
      { ref: '', name: 'default', isDefault: true },
    );
    assert.equal(await c.getNetworkView('nope'), undefined);
    assert.equal((await c.getDNSView('default.lab'))?.networkView, 'lab');
    assert.equal((await c.getNetwork('fd00:0050:0::/64', 'default'))?.network, 'fd00:50::/64');
    assert.equal((await c.getNetwork('10.0.0.0/24', 'lab')) ?? 'none', 'none');
    await c.ping();
  });

  it('creates, finds, updates and deletes host records', async () => {
    const c = client();
    assert.deepEqual(await c.findHostRecords('m1', 'default'), []);
    const ref = await c.createHostRecord({
      name: 'm1',
      networkView: 'default',
      configureForDNS: false,
      ipv4Subnets: ['10.0.0.0/24'],
      ipv6Subnets: ['fd00:50::/64'],
    });
    const [found, ...more] = await c.findHostRecords('m1', 'default');
    assert.equal(more.length, 0);
    assert.equal(found!.ref, ref);
    assert.deepEqual([found!.view, found!.configureForDNS, names(found!)], [' ', false, ['10.0.0.1', 'fd00:50::1']]);
    assert.equal(await c.updateHostRecord(found!, { ipv4Subnets: ['10.0.0.0/24'] }), ref);
    const grown = await c.getHostRecord(ref);
    assert.deepEqual(names(grown), ['10.0.0.1', '10.0.0.2', 'fd00:50::1']);
    assert.equal(grown.ipv4[0]!.ref, found!.ipv4[0]!.ref, 'kept addresses keep their ref');
    await c.updateHostRecord(grown, { release: ['10.0.0.1', 'fd00:50:0:0::1', '10.9.9.9'] });
    assert.deepEqual(names(await c.getHostRecord(ref)), ['10.0.0.2']);
    assert.equal(await c.deleteHostRecord(ref), ref);
    await assert.rejects(c.getHostRecord(ref), (err) => isNotFound(err) && (err as WapiResponseError).status === 404);

    const dns = { networkView: 'default', configureForDNS: true, dnsView: 'default', ipv4Subnets: ['10.0.0.0/24'] };
    const m2 = await c.getHostRecord(await c.createHostRecord({ ...dns, name: 'm2.example.test' }));
    assert.deepEqual([m2.view, m2.zone, m2.configureForDNS], ['default', 'example.test', true]);
    await assert.rejects(c.createHostRecord({ ...dns, name: 'm2.example.test' }), isAlreadyExists);
    await assert.rejects(c.createHostRecord({ ...dns, name: 'm3.nozone.test' }), isParentNotFound);
    const small = { name: 'p', networkView: 'default', configureForDNS: false, ipv4Subnets: ['10.0.1.0/30'] };
    await c.createHostRecord(small);
    await c.createHostRecord(small);
    await assert.rejects(c.createHostRecord(small), isNetworkFull);
    await assert.rejects(c.createHostRecord({ ...small, ipv4Subnets: ['10.7.0.0/24'] }), isNotFound);
  });

  it('builds the PUT body of §4.4', () => {
    const record: HostRecord = {
      ref: 'record:host/abc:h/%20',
      name: 'h',
      view: ' ',
      networkView: 'lab',
      configureForDNS: false,
      ipv4: [{ ref: 'record:host_ipv4addr/d1:10.0.0.5/h/%20', address: '10.0.0.5', configureForDHCP: true, mac: 'm' }],
      ipv6: [{ ref: 'record:host_ipv6addr/d2:x', address: 'fd00::5', configureForDHCP: false }],
      extattrs: {},
      aliases: [],
    };
    assert.deepEqual(hostRecordUpdateBody(record, { ipv4Subnets: ['10.0.0.0/24'] }), {
      _ref: record.ref,
      ipv4addrs: [
        { _ref: record.ipv4[0]!.ref, ipv4addr: '10.0.0.5', configure_for_dhcp: true, mac: 'm' },
        { ipv4addr: 'func:nextavailableip:10.0.0.0/24,lab', configure_for_dhcp: false, mac: '' },
      ],
    });
    assert.deepEqual(hostRecordUpdateBody(record, { release: ['fd00:0::5'] }), { _ref: record.ref, ipv6addrs: [] });
    assert.deepEqual(hostRecordUpdateBody(record, { ipv6Subnets: ['fd00::/64'] }).ipv6addrs, [
      { _ref: record.ipv6[0]!.ref, ipv6addr: 'fd00::5', configure_for_dhcp: false, duid: '' },
      { ipv6addr: 'func:nextavailableip:fd00::/64,lab', configure_for_dhcp: false, duid: '' },
    ]);
  });

  it('verifies TLS by default: no CA or a wrong CA is refused at once, a custom CA or no verification works', async () => {
    for (const opts of [
      { customCAPath: undefined },
      { customCAPath: undefined, caPem: selfSignedServingCertificate(['127.0.0.1']).caPem },
    ]) {
      const { error, sent } = await counting('GET networkview', () => client(opts).ping());
      assert.ok(error instanceof WapiConnectionError && error.reason === 'tls', String(error));
      assert.match(error.message, /^WAPI GET networkview: TLS with https:\/\/127\.0\.0\.1:\d+\/wapi\/v2\.12\/ failed/);
      assert.equal(sent, 0);
      assertNoSecret(error);
    }
    await client({ customCAPath: undefined, disableTLSVerification: true }).ping();
    await client({ customCAPath: undefined, caPem: sim.caPem }).ping();
    assert.throws(() => client({ customCAPath: join(dir, 'missing.crt') }), /WAPI custom CA .*missing\.crt/);
  });

  it('authenticates with a client certificate', async (t) => {
    try {
      execFileSync('openssl', ['version']);
    } catch {
      return t.skip('no openssl to make a client certificate with');
    }
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    ssl('req', '-x509', ...ec, '-keyout', 'cca.key', '-out', 'cca.crt', '-subj', '/CN=client-ca', '-days', '1');
    ssl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=cluster-ipam');
    writeFileSync(join(dir, 'ext'), 'extendedKeyUsage=clientAuth\n');
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    const clientCert = ssl(
      'x509',
      '-req',
      '-in',
      'client.csr',
      '-CA',
      'cca.crt',
      '-CAkey',
      'cca.key',
      '-days',
      '1',
      '-extfile',
      'ext',
    ).toString();
    const certSim = await startWapiSimulator({
      username,
      password,
      clientCAPem: read('cca.crt'),
      seed: { network: [{ network: '10.9.0.0/24' }] },
    });
    try {
      const caPem = certSim.caPem;
      const good = client(
        { customCAPath: undefined, caPem, credentials: { clientCert, clientKey: read('client.key') } },
        certSim,
      );
      await good.ping();
      const wrong = client({ customCAPath: undefined, caPem, credentials: { username, password: 'nope' } }, certSim);
      await assert.rejects(wrong.ping(), WapiAuthError);
      // A POST goes on a connection of its own, the next one resuming the TLS session of the one before: the wrong
      // password is refused every time (the simulator once let the second in), the certificate works every time.
      const record = (name: string) => ({
        name,
        networkView: 'default',
        configureForDNS: false,
        ipv4Subnets: ['10.9.0.0/24'],
      });
      for (const name of ['w-0', 'w-1', 'w-2'])
        await assert.rejects(wrong.createHostRecord(record(name)), WapiAuthError);
      for (const name of ['g-0', 'g-1']) await good.createHostRecord(record(name));
    } finally {
      await certSim.close();
    }
    assert.throws(
      () => client({ credentials: { clientCert } }),
      /need username and password, or clientCert and clientKey/,
    );
  });

  it('bad credentials: WapiAuthError (401), not retried, no credential in the error or the client', async () => {
    const { error, sent } = await counting('GET networkview', () =>
      client({ credentials: { username, password: `${password}-wrong` } }).getNetworkView('default'),
    );
    assert.ok(error instanceof WapiAuthError && isAuthFailure(error) && !isConnectionFailure(error));
    assert.equal(error.status, 401);
    assert.match(error.message, /^WAPI GET networkview: 401: 401 Authorization Required/);
    assert.equal(sent, 1);
    assertNoSecret(error);
    assertNoSecret(client());
  });

  it('cannot connect: WapiConnectionError, distinct from an auth failure, retried for reads', async () => {
    const closed = await startWapiSimulator({ username, password });
    await closed.close();
    const started = Date.now();
    const c = client({}, closed);
    await assert.rejects(c.ping(), (err) => {
      assert.ok(err instanceof WapiConnectionError && err.reason === 'connect' && !isAuthFailure(err), String(err));
      assert.match(err.message, /cannot connect to https:\/\/127\.0\.0\.1:\d+\/wapi\/v2\.12\/: .*ECONNREFUSED/);
      assert.equal(err.maybeCommitted, false);
      assertNoSecret(err);
      return true;
    });
    assert.ok(Date.now() - started < 2000);
  });

  it('bounds every request with a timeout', async () => {
    inject({ kind: 'latency', latencyMs: 1500, object: 'networkview' });
    const started = Date.now();
    const { error } = await counting('GET networkview', () =>
      client({ timeoutMs: 80, retry: { attempts: 2, initialMs: 5, maxMs: 20 } }).ping(),
    );
    assert.ok(error instanceof WapiConnectionError && error.reason === 'timeout', String(error));
    assert.match(error.message, /no answer from .* within 80 ms/);
    assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms: two attempts of 80 ms and a backoff`);
  });

  it('retries reads on 5xx and 429, never on 4xx', async () => {
    inject({ kind: 'status', status: 503, count: 1, method: 'GET', object: 'networkview' });
    inject({ kind: 'status', status: 429, count: 1, method: 'GET', object: 'networkview' });
    const seen: string[] = [];
    const observed = client({ observe: (method, object, outcome) => void seen.push(`${method} ${object} ${outcome}`) });
    const ok = await counting('GET networkview', () => observed.getNetworkView('default'));
    assert.deepEqual([ok.result?.name, ok.sent], ['default', 3]);
    // Every attempt is told to the request metrics, by object type and outcome.
    assert.deepEqual(seen, ['GET networkview server_error', 'GET networkview client_error', 'GET networkview ok']);
    inject({ kind: 'status', status: 500, count: 5, method: 'GET', object: 'networkview' });
    const failed = await counting('GET networkview', () => client().ping());
    assert.ok(failed.error instanceof WapiResponseError && failed.error.status === 500);
    assert.equal(failed.sent, 3, 'as many attempts as configured');
    const missing = await counting('GET record:host', () => client().getHostRecord('record:host/bm9uZQ:x/%20'));
    assert.ok(isNotFound(missing.error));
    assert.equal(missing.sent, 1);
  });

  it('a read on a keep-alive connection handed over from another request is retried when that connection breaks', async () => {
    // 16 reads hold every connection of the pool (its maxSockets); the 17th waits and gets the first one freed, an
    // already secured connection, and the appliance drops it. That is a broken connection (retried), not a failed
    // TLS handshake (given up), and no listener is left on the connection for each request it carries.
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const c = client();
      await c.ping();
      inject({ kind: 'latency', latencyMs: 300, object: 'networkview', count: 16 });
      const held = Array.from({ length: 16 }, () => c.ping());
      await new Promise((r) => setTimeout(r, 100));
      inject({ kind: 'drop', object: 'network', count: 1 });
      const handed = await counting('GET network', () => c.getNetwork('10.0.0.0/24', 'default'));
      await Promise.all(held);
      assert.equal(handed.error, undefined, String(handed.error));
      assert.equal(handed.result?.network, '10.0.0.0/24');
      assert.equal(handed.sent, 2, 'the dropped attempt and its retry');
      // Many reads queued on the same connections: a listener each would pass the emitter's limit of 10.
      inject({ kind: 'latency', latencyMs: 20, object: 'networkview', count: 16 * 12 });
      await Promise.all(Array.from({ length: 16 * 12 }, () => c.ping()));
      assert.deepEqual(
        warnings.filter((w) => w.includes('listeners')),
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('never repeats a POST, nor a PUT that allocates: the failure says the write may have been applied', async () => {
    const c = client();
    const spec = { networkView: 'default', configureForDNS: false, ipv4Subnets: ['10.0.0.0/24'] };
    for (const [name, fault, committed] of [
      ['after-5xx', { kind: 'status', when: 'after' }, 1],
      ['before-5xx', { kind: 'status', when: 'before' }, 0],
      ['after-drop', { kind: 'drop', when: 'after' }, 1],
      ['before-drop', { kind: 'drop', when: 'before' }, 0],
    ] as const) {
      inject({ ...fault, method: 'POST', object: 'record:host' });
      const { error, sent } = await counting('POST record:host', () => c.createHostRecord({ ...spec, name }));
      assert.ok(error instanceof WapiError && error.maybeCommitted, `${name}: ${String(error)}`);
      assert.equal(sent, 1, `${name}: sent once`);
      // What the provider does next: search before allocating again.
      assert.equal((await c.findHostRecords(name, 'default')).length, committed, name);
    }
    const [record] = await c.findHostRecords('after-5xx', 'default');
    inject({ kind: 'status', count: 1, method: 'PUT' });
    const grow = await counting('PUT record:host', () => c.updateHostRecord(record!, { ipv4Subnets: ['10.0.0.0/24'] }));
    assert.ok(grow.error instanceof WapiResponseError && grow.error.maybeCommitted);
    assert.equal(grow.sent, 1);
    const grown = await c.getHostRecord(await c.updateHostRecord(record!, { ipv4Subnets: ['10.0.0.0/24'] }));
    assert.equal(grown.ipv4.length, 2);
    inject({ kind: 'status', count: 1, method: 'PUT' });
    const shrink = await counting('PUT record:host', () =>
      c.updateHostRecord(grown, { release: [grown.ipv4[0]!.address] }),
    );
    assert.equal(shrink.sent, 2, 'a PUT that only keeps or removes addresses is retried');
    assert.equal(shrink.error, undefined);
    // A DELETE applied whose answer was lost: the retry finds the record gone.
    inject({ kind: 'drop', when: 'after', method: 'DELETE' });
    const del = await counting('DELETE record:host', () => c.deleteHostRecord(record!.ref));
    assert.ok(isNotFound(del.error), String(del.error));
    assert.equal(del.sent, 2, 'the dropped attempt and the retry');
  });

  it('honours an external AbortSignal at once, without retrying', async () => {
    inject({ kind: 'latency', latencyMs: 1500, object: 'networkview' });
    const stop = new AbortController();
    const reason = new Error('reconcile cancelled');
    setTimeout(() => stop.abort(reason), 30);
    const started = Date.now();
    await assert.rejects(client().ping({ signal: stop.signal }), (err) => err === reason);
    assert.ok(Date.now() - started < 1000);
  });
});
