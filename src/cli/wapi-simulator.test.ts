import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { selfSignedServingCertificate } from '../tls/certs.ts';
import { WapiClient } from '../infoblox/client.ts';
import { wapiSimulatorCommand } from './wapi-simulator.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const credentials = { username: 'admin', password: 'pw' };
const flags = ['--username', 'admin', '--password', 'pw'];

function clientFor(url: string, ca: string, wapiVersion = '2.12'): WapiClient {
  const u = new URL(url);
  return new WapiClient({ host: u.hostname, port: u.port, wapiVersion, credentials, customCAPath: ca });
}

/** Runs the command in this process, with stdout and stderr captured, until `stop` aborts. */
function inProcess(
  argv: string[],
  stop?: AbortSignal,
): { code: Promise<number>; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const code = wapiSimulatorCommand(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    stop,
  });
  return { code, out: () => out, err: () => err };
}

async function waitFor(condition: () => boolean): Promise<true> {
  while (!condition()) await new Promise((r) => setTimeout(r, 10));
  return true;
}

describe('cluster-ipam wapi-simulator', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'wapi-simulator-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the seed over HTTPS with a self-made CA, prints URL and CA, and stops on SIGTERM', async () => {
    const seed = join(dir, 'seed.yaml');
    writeFileSync(
      seed,
      [
        'network:',
        '  - { network: 10.5.0.0/24 }',
        'zone_auth:',
        '  - { fqdn: example.test }',
        'record:host:',
        '  - { name: gw, configure_for_dns: false, ipv4addrs: [{ ipv4addr: 10.5.0.1 }] }',
        '',
      ].join('\n'),
    );
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'wapi-simulator', '--listen', '127.0.0.1:0', ...flags, '--seed', seed],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = once(child, 'exit');
    const printed: Record<string, string> = {};
    for await (const line of createInterface({ input: child.stdout })) {
      const [key, value] = line.split('=', 2) as [string, string];
      printed[key] = value;
      if (key === 'WAPI_CA') break;
    }
    assert.match(printed.WAPI_URL!, /^https:\/\/127\.0\.0\.1:\d+\/wapi\/v2\.12$/);
    const c = clientFor(printed.WAPI_URL!, printed.WAPI_CA!);
    try {
      assert.equal((await c.getNetwork('10.5.0.0/24', 'default'))?.network, '10.5.0.0/24');
      const [gw] = await c.findHostRecords('gw', 'default');
      assert.deepEqual(
        gw?.ipv4.map((a) => a.address),
        ['10.5.0.1'],
      );
    } finally {
      c.close();
    }
    child.kill('SIGTERM');
    assert.deepEqual(await exited, [0, null]);
    assert.ok(!existsSync(printed.WAPI_CA!), 'the temporary CA file is removed');
  });

  it('serves tls.crt/tls.key from --tls-cert-dir and names its ca.crt', async () => {
    const certs = join(dir, 'certs');
    const cert = selfSignedServingCertificate(['127.0.0.1']);
    mkdirSync(certs);
    writeFileSync(join(certs, 'tls.crt'), cert.certPem);
    writeFileSync(join(certs, 'tls.key'), cert.keyPem);
    writeFileSync(join(certs, 'ca.crt'), cert.caPem);
    const stop = new AbortController();
    const run = inProcess(
      ['--listen', '127.0.0.1:0', ...flags, '--tls-cert-dir', certs, '--wapi-version', '2.11'],
      stop.signal,
    );
    const started = await Promise.race([run.code, waitFor(() => run.out().includes('WAPI_CA='))]);
    assert.equal(started, true, run.err());
    const [url, ca] = run
      .out()
      .trim()
      .split('\n')
      .map((l) => l.split('=')[1]!);
    assert.equal(ca, join(certs, 'ca.crt'));
    const c = clientFor(url!, ca!, '2.11');
    try {
      await c.ping();
    } finally {
      c.close();
    }
    stop.abort();
    assert.equal(await run.code, 0);
  });

  it('usage errors exit 2, --help 0', async () => {
    for (const argv of [
      [],
      ['--listen', '127.0.0.1:0'],
      ['--listen', 'nope', ...flags],
      ['--bogus'],
      ['--listen', ':1', ...flags, '--wapi-version', 'x'],
    ]) {
      const run = inProcess(argv);
      assert.equal(await run.code, 2, argv.join(' '));
      assert.match(run.err(), /^cluster-ipam wapi-simulator: .*\nusage:/);
    }
    const help = inProcess(['--help']);
    assert.equal(await help.code, 0);
    assert.match(help.out(), /^usage: cluster-ipam wapi-simulator/);
  });
});
