// Chaos suite, security checks. The Helm chart is installed (standalone preset) into a control plane of its own and
// the manager runs as its own process with the installed Deployment's arguments, authenticated with a token of the
// chart's ServiceAccount only (nothing else grants it anything), at debug level. It serves claims of both providers:
// in-cluster, and Infoblox through instances that authenticate with a password and with a client certificate, one
// whose password is wrong (then fixed), and appliance faults meanwhile (retries are logged at debug level). Then every
// credential involved (the Infoblox passwords, the client key PEM and recognisable parts of it, the ServiceAccount
// and admin tokens, the basic-auth header) is searched for literally in the manager's stdout and stderr, in every
// object the API server serves but Secrets (Events, conditions and status included) and in /metrics: none may appear.
// TLS towards Infoblox: verification is on by default (no customCAPath against the simulator's own CA: refused with
// ConnectionFailed naming TLS, no request reaches it), a wrong CA is refused the same way, the right CA works.
//
// `run({ quick })` returns a PartResult (quick changes nothing: the part is small); standalone:
// `node --import tsx test/chaos/security.ts` prints it.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse, stringify } from 'yaml';
import { selfSignedServingCertificate } from '../../src/admission/certs.ts';
import { startWapiSimulator, type WapiSimulator } from '../../src/infoblox/simulator/index.ts';
import { freePort, startControlPlane, type ControlPlane } from '../../src/local/controlplane.ts';
import { chartDir, helm } from '../../src/local/helm.ts';
import { simulatorInstanceSpec } from '../integration/infoblox-support.ts';
import { startManagerProcess } from '../support/manager-process.ts';
import { waitFor } from '../support/wait.ts';
import { emptyResult, type PartResult } from './summary.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- objects read with kubectl, inspected freely
type Obj = Record<string, any>;

const release = 'cluster-ipam';
const system = 'cluster-ipam-system';
const ns = 'security';
const username = 'svc-cluster-ipam';
const password = 'Sec-pw-7c41f0e2d9a86b35';
const wrongPassword = 'Wrong-pw-e5b90a1c33d7f428';

/** One credential to look for, under a name that says what it is (never the value itself). */
interface Needle {
  what: string;
  text: string;
}

/** A manager process: `cluster-ipam run` with the chart's arguments; everything it writes is kept. */
interface ChartManager {
  output: () => string;
  metricsUrl: string;
  stop(): Promise<void>;
}

function sh(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((ok, fail) => {
    const child = execFile(cmd, args, { maxBuffer: 256 << 20 }, (err, stdout, stderr) =>
      err ? fail(new Error(`${cmd} ${args.slice(0, 4).join(' ')}: ${stderr.trim() || err.message}`)) : ok(stdout),
    );
    child.stdin?.end(input ?? '');
  });
}

/** A CA (PEM) and a client certificate and key it signed (clientAuth), made with openssl. */
function clientCertificate(dir: string): { caPem: string; certPem: string; keyPem: string } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const rsa = ['-newkey', 'rsa:2048', '-nodes'];
  ssl('req', '-x509', ...rsa, '-keyout', 'cca.key', '-out', 'cca.crt', '-subj', '/CN=wapi-client-ca', '-days', '1');
  ssl('req', ...rsa, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=svc-cluster-ipam');
  writeFileSync(join(dir, 'ext'), 'extendedKeyUsage=clientAuth\n');
  const certPem = ssl(
    ...['x509', '-req', '-in', 'client.csr', '-CA', 'cca.crt', '-CAkey', 'cca.key', '-days', '1', '-extfile', 'ext'],
  ).toString();
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { caPem: read('cca.crt'), certPem, keyPem: read('client.key') };
}

/** The key PEM, its base64 body, each line of it, and its Secret-data form: any of them found is a leak. */
function keyNeedles(keyPem: string): Needle[] {
  const body = keyPem
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .map((l) => l.trim());
  const b64 = Buffer.from(keyPem).toString('base64');
  return [
    { what: 'the client key PEM', text: keyPem.trim() },
    { what: 'the client key body', text: body.join('') },
    ...body.filter((l) => l.length >= 24).map((l, i) => ({ what: `line ${i + 1} of the client key`, text: l })),
    { what: 'the client key PEM, base64 (Secret data)', text: b64 },
    { what: 'part of the client key PEM in base64', text: b64.slice(400, 460) },
  ];
}

function secretNeedles(name: string, secret: string): Needle[] {
  return [
    { what: name, text: secret },
    { what: `${name}, base64 (Secret data)`, text: Buffer.from(secret).toString('base64').replace(/=+$/, '') },
    { what: `${name}, URL-encoded`, text: encodeURIComponent(secret) },
    {
      what: `the basic-auth header with ${name}`,
      text: Buffer.from(`${username}:${secret}`).toString('base64').replace(/=+$/, ''),
    },
  ];
}

export async function run(_opts: { quick?: boolean } = {}): Promise<PartResult> {
  const result = emptyResult('security');
  const fail = (note: string) => {
    result.passed = false;
    result.notes.push(`FAIL: ${note}`);
  };
  const dir = mkdtempSync(join(tmpdir(), 'chaos-security-'));
  let cp: ControlPlane | undefined;
  let sim: WapiSimulator | undefined;
  let tlsSim: WapiSimulator | undefined;
  let manager: ChartManager | undefined;
  try {
    cp = await startControlPlane();
    const kc = cp.kubeconfigPath;
    const kubectl = (args: string[], input?: string) => sh('kubectl', ['--kubeconfig', kc, ...args], input);
    const getJSON = async (args: string[]) => JSON.parse(await kubectl(['get', ...args, '-o', 'json'])) as Obj;
    const apply = (obj: Obj) => kubectl(['apply', '-f', '-'], JSON.stringify(obj));

    // The chart, as a user installs it (its own webhook off: nothing here could route the API server to it).
    const standalone = join(chartDir, 'values-standalone.yaml');
    await helm(
      ['install', release, chartDir, '-n', system, '--create-namespace', '-f', standalone].concat([
        '--set',
        'webhook.enabled=false',
        '--kubeconfig',
        kc,
      ]),
    );
    await kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);

    // The manager's only credential: a token of the chart's ServiceAccount.
    const token = (await kubectl(['create', 'token', release, '-n', system, '--duration=1h'])).trim();
    const config = parse(readFileSync(kc, 'utf8')) as Obj;
    const adminToken = String(config.users?.[0]?.user?.token ?? '');
    config.users = [{ name: release, user: { token } }];
    config.contexts[0].context.user = release;
    const saKubeconfig = join(dir, 'kubeconfig');
    writeFileSync(saKubeconfig, stringify(config), { mode: 0o600 });

    // The appliance: one simulator for the instances that work (password, or client certificate), another that only
    // the TLS checks talk to, so that it tells whether any request reached it.
    const client = clientCertificate(dir);
    sim = await startWapiSimulator({
      username,
      password,
      clientCAPem: client.caPem,
      seed: { network: ['10.80.0.0/24', '10.81.0.0/24', '10.82.0.0/24'].map((network) => ({ network })) },
    });
    tlsSim = await startWapiSimulator({ username, password, seed: { network: [{ network: '10.84.0.0/24' }] } });
    const file = (name: string, text: string) => (writeFileSync(join(dir, name), text), join(dir, name));
    const simCA = file('sim-ca.crt', sim.caPem!);
    const tlsCA = file('tls-ca.crt', tlsSim.caPem!);
    const otherCA = file('other-ca.crt', selfSignedServingCertificate(['127.0.0.1']).caPem);

    const secret = (name: string, stringData: Record<string, string>) =>
      apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: system }, stringData });
    await secret('ib-basic', { username, password });
    await secret('ib-cert', { clientCert: client.certPem, clientKey: client.keyPem });
    await secret('ib-wrong', { username, password: wrongPassword });
    await secret('ib-partial', { password });
    const instance = (name: string, s: WapiSimulator, secretName: string, caPath?: string) =>
      apply({
        apiVersion: 'ipam.cluster.x-k8s.io/v1alpha1',
        kind: 'InfobloxInstance',
        metadata: { name },
        spec: simulatorInstanceSpec(s, { secret: secretName, caFile: caPath }),
      });

    manager = await startChartManager(await getJSON(['deployment', release, '-n', system]), saKubeconfig);

    await instance('ib-basic', sim, 'ib-basic', simCA);
    await instance('ib-cert', sim, 'ib-cert', simCA);
    await instance('ib-wrong', sim, 'ib-wrong', simCA);
    await instance('ib-partial', sim, 'ib-partial', simCA);
    await instance('tls-default', tlsSim, 'ib-basic');
    await instance('tls-wrong-ca', tlsSim, 'ib-basic', otherCA);
    await kubectl(['create', 'namespace', ns]);
    const ibPool = (name: string, inst: string, cidr: string) =>
      apply({
        apiVersion: 'ipam.cluster.x-k8s.io/v1alpha1',
        kind: 'InfobloxIPPool',
        metadata: { name, namespace: ns },
        spec: { instance: { name: inst }, subnets: [{ cidr, gateway: cidr.replace(/0\/24$/, '1') }] },
      });
    await ibPool('basic', 'ib-basic', '10.80.0.0/24');
    await ibPool('cert', 'ib-cert', '10.81.0.0/24');
    await ibPool('wrong', 'ib-wrong', '10.82.0.0/24');
    await ibPool('tls', 'tls-default', '10.84.0.0/24');
    await apply({
      apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
      kind: 'InClusterIPPool',
      metadata: { name: 'ic', namespace: ns },
      spec: { addresses: ['10.83.0.10-10.83.0.100'], prefix: 24, gateway: '10.83.0.1' },
    });
    // Faults on the way: retries and failures get logged (at debug level too), and conditions say them.
    sim.faults.add({ kind: 'status', status: 503, method: 'GET', object: 'record:host', count: 3 });
    sim.faults.add({ kind: 'drop', when: 'after', method: 'POST', count: 2 });
    sim.faults.add({ kind: 'unauthorized', method: 'POST', count: 2 });
    const pools: [string, string][] = [
      ['InfobloxIPPool', 'basic'],
      ['InfobloxIPPool', 'cert'],
      ['InfobloxIPPool', 'wrong'],
      ['InClusterIPPool', 'ic'],
    ];
    const claims: string[] = [];
    for (const [kind, pool] of pools) {
      for (let i = 0; i < 4; i++) {
        const name = `${pool}-${i}`;
        claims.push(name);
        await apply({
          apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
          kind: 'IPAddressClaim',
          metadata: { name, namespace: ns },
          spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind, name: pool } },
        });
      }
    }
    await apply({
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
      kind: 'IPAddressClaim',
      metadata: { name: 'tls-0', namespace: ns },
      spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InfobloxIPPool', name: 'tls' } },
    });
    result.claims = claims.length + 1;

    const ready = async (args: string[]) =>
      ((await getJSON(args)).status?.conditions ?? []).find((c: Obj) => c.type === 'Ready') as Obj | undefined;
    const expectReady = async (kind: string, name: string, reason: string, message?: RegExp) => {
      const c = await waitFor(
        async (note) => {
          const r = note(await ready([kind, name, ...(kind === 'infobloxinstance' ? [] : ['-n', ns])]));
          return r?.reason === reason && r;
        },
        { what: `${kind} ${name} Ready ${reason}`, timeoutMs: 60_000 },
      ).catch((err: Error) => (fail(err.message), undefined));
      if (c && message && !message.test(c.message)) fail(`${kind} ${name}: "${c.message}" does not say ${message}`);
      return c;
    };
    const bound = (name: string) =>
      waitFor(async () => (await getJSON(['ipaddressclaim', name, '-n', ns])).status?.addressRef?.name, {
        what: `claim ${name} bound`,
        timeoutMs: 60_000,
      }).catch((err: Error) => fail(err.message));

    // Authentication: a password, a client certificate (its Secret holds no password), a wrong password.
    await expectReady('infobloxinstance', 'ib-basic', 'ConfigurationValid');
    await expectReady('infobloxinstance', 'ib-cert', 'ConfigurationValid');
    await expectReady('infobloxinstance', 'ib-wrong', 'AuthenticationFailed', /refused the credentials of Secret/);
    await expectReady('infobloxinstance', 'ib-partial', 'AuthenticationFailed', /holds password: it needs username/);
    // TLS: verification on by default, a wrong CA refused; nothing reached the appliance.
    const tlsFailure = /TLS with https:\/\/127\.0\.0\.1:\d+\/wapi\/v2\.12\/ failed: .*(certificate|self.signed)/i;
    await expectReady('infobloxinstance', 'tls-default', 'ConnectionFailed', tlsFailure);
    await expectReady('infobloxinstance', 'tls-wrong-ca', 'ConnectionFailed', tlsFailure);
    await expectReady('infobloxippool', 'tls', 'ConnectionFailed', /^InfobloxInstance tls-default: .*TLS/);
    await waitFor(
      async () =>
        ((await getJSON(['ipaddressclaim', 'tls-0', '-n', ns])).status?.conditions ?? []).some(
          (c: Obj) => c.type === 'Ready' && c.reason === 'PoolNotReady',
        ),
      { what: 'claim tls-0 PoolNotReady', timeoutMs: 60_000 },
    ).catch((err: Error) => fail(err.message));
    if (tlsSim.requests.counters.total !== 0) {
      fail(`${tlsSim.requests.counters.total} requests reached the appliance without a trusted certificate`);
    }
    for (const name of claims.filter((n) => !n.startsWith('wrong'))) await bound(name);
    await expectReady('ipaddressclaim', 'wrong-0', 'PoolNotReady', /AuthenticationFailed|refused the credentials/);

    // The right CA works; the fixed Secret heals the instance (watched), and its claims are served.
    await instance('tls-right', tlsSim, 'ib-basic', tlsCA);
    await expectReady('infobloxinstance', 'tls-right', 'ConfigurationValid');
    if (tlsSim.requests.counters.total === 0) fail('the instance with the right CA did not reach the appliance');
    await secret('ib-wrong', { username, password });
    await expectReady('infobloxinstance', 'ib-wrong', 'ConfigurationValid');
    for (const name of claims.filter((n) => n.startsWith('wrong'))) await bound(name);
    // Releases through both providers.
    for (const name of claims.filter((_, i) => i % 2 === 0)) {
      await kubectl(['delete', 'ipaddressclaim', name, '-n', ns, '--wait=true', '--timeout=60s']).catch((err: Error) =>
        fail(err.message),
      );
    }
    const hosts = new Set(sim.state.hostRecords().map((r) => r.name));
    const left = claims.filter((n, i) => i % 2 === 0 && !n.startsWith('ic') && hosts.has(n));
    if (left.length) fail(`host records left after their claims went: ${left.join(', ')}`);
    if (hosts.size !== claims.filter((n, i) => i % 2 === 1 && !n.startsWith('ic')).length) {
      fail(`${hosts.size} host records for the Infoblox claims left: ${[...hosts].join(', ')}`);
    }
    for (const [key, n] of Object.entries(sim.requests.counters.byFault))
      result.faults[`wapi-${key.replace('/', '-')}`] = n;

    // What to search, and where.
    const metrics = await (await fetch(manager.metricsUrl)).text();
    const needles: Needle[] = [
      ...secretNeedles('the Infoblox password', password),
      ...secretNeedles('the wrong Infoblox password', wrongPassword),
      ...keyNeedles(client.keyPem),
      { what: 'the ServiceAccount token', text: token },
      { what: "the ServiceAccount token's signature", text: token.split('.').at(-1)! },
      ...(adminToken ? [{ what: "the cluster admin's token", text: adminToken }] : []),
    ];
    await manager.stop();
    const logs = manager.output();
    // For a closer look: CHAOS_SECURITY_LOGS=<file> keeps what the manager wrote.
    if (process.env.CHAOS_SECURITY_LOGS) writeFileSync(process.env.CHAOS_SECURITY_LOGS, logs);
    const haystacks: [string, string][] = [
      ['the manager logs (stdout and stderr)', logs],
      ['/metrics', metrics],
    ];
    const resources = (await kubectl(['api-resources', '--verbs=list', '-o', 'name']))
      .split('\n')
      .filter((r) => r && r !== 'secrets');
    let objects = 0;
    for (const r of resources) {
      const list = await getJSON([r, '-A']).catch(() => ({ items: [] }) as Obj);
      objects += list.items.length;
      haystacks.push([`${r} (${list.items.length})`, JSON.stringify(list)]);
    }
    const debugLines = logs.split('\n').filter((l) => l.includes('"level":"debug"')).length;
    const retries = logs.split('\n').filter((l) => l.includes('WAPI request failed, retrying')).length;
    if (!debugLines) fail('the manager logged nothing at debug level: the search would prove little');
    let found = 0;
    for (const n of needles) {
      for (const [where, text] of haystacks) {
        if (text.includes(n.text)) {
          found++;
          fail(`${n.what} appears in ${where}`);
        }
      }
    }
    const forbidden = logs.split('\n').filter((l) => /forbidden/i.test(l));
    if (forbidden.length) fail(`the chart's permissions did not suffice: ${forbidden[0]!.slice(0, 300)}`);
    result.notes.push(
      `${needles.length} credential forms searched in ${logs.length} bytes of manager output (${debugLines} debug ` +
        `lines, ${retries} WAPI retries), ${objects} objects of ${resources.length} kinds (Secrets aside) and ` +
        `${metrics.length} bytes of /metrics: ${found} found`,
      'TLS: no CA given and a wrong CA refused (ConnectionFailed, no request reached the appliance), the right CA ' +
        'works; client-certificate authentication works; a wrong password is AuthenticationFailed, healed when fixed',
    );
    if (!result.passed)
      result.notes.push(
        ...logs
          .split('\n')
          .filter((l) => l.includes('"level":"error"'))
          .slice(-10),
      );
  } catch (err) {
    fail(`error: ${(err as Error).stack ?? String(err)}`);
    if (manager) result.notes.push(...manager.output().split('\n').slice(-20));
  } finally {
    await manager?.stop();
    await sim?.close();
    await tlsSim?.close();
    await cp?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

/**
 * `cluster-ipam run` in a process of its own with the Deployment's arguments, but bind addresses on loopback, debug
 * logs, and the ServiceAccount kubeconfig; no environment that would weaken TLS.
 */
async function startChartManager(deployment: Obj, kubeconfig: string): Promise<ChartManager> {
  const [command, ...args] = deployment.spec.template.spec.containers[0].args as string[];
  if (command !== 'run') throw new Error(`the Deployment runs ${command}, not run`);
  const replaced = ['--metrics-bind-address', '--health-probe-bind-address', '--log-level', '--webhook-bind-address'];
  const port = await freePort();
  const env = { ...process.env };
  for (const k of ['NODE_TLS_REJECT_UNAUTHORIZED', 'NODE_EXTRA_CA_CERTS', 'KUBECONFIG']) delete env[k];
  const manager = startManagerProcess({
    args: [
      ...args.filter((a) => !replaced.some((r) => a.startsWith(`${r}=`))),
      `--kubeconfig=${kubeconfig}`,
      `--metrics-bind-address=127.0.0.1:${port}`,
      '--health-probe-bind-address=0',
      '--webhook-bind-address=0',
      '--log-level=debug',
    ],
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: string[] = [];
  manager.child.stdout!.setEncoding('utf8').on('data', (c: string) => chunks.push(c));
  manager.child.stderr!.setEncoding('utf8').on('data', (c: string) => chunks.push(c));
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  await manager.waitUntil(async () => (await fetch(metricsUrl)).ok, {
    what: 'the manager serving /metrics',
    timeoutMs: 60_000,
    exitMessage: () => `the manager exited: ${chunks.join('').slice(-2000)}`,
  });
  return {
    output: () => chunks.join(''),
    metricsUrl,
    async stop() {
      await manager.stop();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await run({ quick: process.argv.includes('--quick') });
  for (const n of r.notes) console.log(n);
  console.log(JSON.stringify(r));
  process.exit(r.passed ? 0 : 1);
}
