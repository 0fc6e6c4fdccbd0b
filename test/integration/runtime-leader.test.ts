// Leader election between managers running as separate OS processes (`cluster-ipam run` with a no-op controller),
// with client-go's default timings (lease 15 s, renew deadline 10 s, retry 2 s).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigMaps, KubeClient, Leases } from '../../src/kube/index.ts';
import { microTime } from '../../src/runtime/index.ts';
import { testKubeconfig, testNamespace } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../..');
const LEASE = 'runtime-leader-test';
const LEASE_DURATION_MS = 15_000;
const RETRY_PERIOD_MS = 2_000;

interface Line {
  record?: string;
  t?: number;
  name?: string;
  leader?: boolean;
  health?: string;
  metrics?: string;
  identity?: string;
  msg?: string;
}

class ManagerProcess {
  readonly lines: Line[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly child: ChildProcess;
  private stderr = '';

  constructor(kubeconfig: string, namespace: string) {
    this.child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(here, 'fixtures/runtime-manager.ts'),
        '--kubeconfig',
        kubeconfig,
        '--namespace',
        namespace,
        '--leader-election-id',
        LEASE,
        '--metrics-bind-address',
        '127.0.0.1:0',
        '--health-probe-bind-address',
        '127.0.0.1:0',
        '--workers',
        '2',
      ],
      { cwd: repoRoot, env: { ...process.env, WATCH_NAMESPACE: namespace }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.lines.push(JSON.parse(line) as Line);
      } catch {
        this.lines.push({ msg: line });
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => (this.stderr += c));
    this.exited = new Promise((ok) =>
      this.child.once('exit', (code, signal) => ok((this.exitStatus = { code, signal }))),
    );
  }

  records(kind: string): Line[] {
    return this.lines.filter((l) => l.record === kind);
  }

  first(kind: string): Line | undefined {
    return this.records(kind)[0];
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  async get(path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://${this.first('serving')!.health}${path}`);
    return { status: res.status, body: await res.text() };
  }

  async metrics(): Promise<string> {
    return (await fetch(`http://${this.first('serving')!.metrics}/metrics`)).text();
  }

  describe(): string {
    return `stdout:\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${this.stderr}`;
  }
}

let kubeconfig: string;
let namespace: string;
let client: KubeClient;
const processes: ManagerProcess[] = [];

function start(): ManagerProcess {
  const p = new ManagerProcess(kubeconfig, namespace);
  processes.push(p);
  return p;
}

before(async () => {
  kubeconfig = await testKubeconfig();
  namespace = await testNamespace('runtime-leader');
  client = KubeClient.load({ kubeconfig });
});

after(async () => {
  for (const p of processes) p.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  client.close();
});

describe('leader election between two manager processes', () => {
  let leader: ManagerProcess;
  let standby: ManagerProcess;

  it('exactly one leads; the stand-by is ready (warm caches) but never reconciles', async () => {
    const a = start();
    const b = start();
    const elected = await waitFor(() => [a, b].filter((p) => p.first('elected')).at(0), {
      what: 'a leader',
      timeoutMs: 30_000,
    });
    leader = elected;
    standby = leader === a ? b : a;
    await waitFor(() => standby.first('serving'), { what: 'stand-by serving' });
    await waitFor(async () => (await standby.get('/readyz')).status === 200, { what: 'stand-by ready' });
    assert.equal((await standby.get('/healthz')).status, 200);

    for (const name of ['c1', 'c2', 'c3']) {
      await client.resource(ConfigMaps).create({ metadata: { namespace, name } });
    }
    await waitFor(() => leader.records('reconcile').length >= 3, { what: 'leader reconciles' });
    // Asserting an absence needs time to pass: give the stand-by two more of its retry periods.
    await new Promise((r) => setTimeout(r, 2 * RETRY_PERIOD_MS * 1.2));
    assert.equal(standby.first('elected'), undefined, standby.describe());
    assert.deepEqual(standby.records('reconcile'), [], 'no reconcile on a non-leader');
    assert.ok(leader.records('reconcile').every((r) => r.leader));

    const lease = await client.resource(Leases).get({ namespace, name: LEASE });
    assert.equal(lease.spec?.holderIdentity, leader.first('elected')!.identity);
    assert.equal(lease.spec?.leaseDurationSeconds, 15);
    assert.match(await leader.metrics(), /leader_election_master_status\{name="runtime-leader-test"\} 1/);
    assert.match(await standby.metrics(), /leader_election_master_status\{name="runtime-leader-test"\} 0/);
    assert.match(
      await leader.metrics(),
      /controller_runtime_reconcile_total\{controller="noop",result="success"\} [1-9]/,
    );
  });

  it('SIGKILL the leader: the stand-by takes over within the lease duration (+ retry period)', async () => {
    const killedAt = Date.now();
    leader.kill('SIGKILL');
    assert.equal((await leader.exited).signal, 'SIGKILL');
    const elected = await waitFor(() => standby.first('elected'), { what: 'takeover', timeoutMs: 40_000 });
    const takeoverMs = elected.t! - killedAt;
    console.log(`# takeover after SIGKILL: ${takeoverMs} ms`);
    // Expiry is measured from when the stand-by last saw the lease change (up to one retry period after the last
    // renewal), and it notices at its next try (up to another); with client-go's jitter factor 1.2 a retry period
    // lasts 2 to 4.4 s.
    assert.ok(takeoverMs <= LEASE_DURATION_MS + 2 * RETRY_PERIOD_MS * 2.2 + 1_000, `took ${takeoverMs} ms`);

    await waitFor(() => ['c1', 'c2', 'c3'].every((n) => standby.records('reconcile').some((r) => r.name === n)), {
      what: 'the new leader reconciles everything',
    });
    const electedAt = standby.lines.indexOf(elected);
    assert.ok(
      standby.lines.every((l, i) => l.record !== 'reconcile' || (i > electedAt && l.leader)),
      'every reconcile came after the election',
    );
  });

  it('SIGTERM the leader: it drains, releases the lease and exits 0; a stand-by takes over at once', async () => {
    const next = start();
    await waitFor(() => next.first('serving'), { what: 'new stand-by serving' });
    await waitFor(async () => (await next.get('/readyz')).status === 200, { what: 'new stand-by ready' });
    const terminatedAt = Date.now();
    standby.kill('SIGTERM');
    assert.deepEqual(await standby.exited, { code: 0, signal: null }, standby.describe());
    assert.ok(
      standby.lines.some((l) => l.msg === 'released the lease'),
      standby.describe(),
    );
    const elected = await waitFor(() => next.first('elected'), { what: 'takeover after release' });
    const takeoverMs = elected.t! - terminatedAt;
    console.log(`# takeover after a graceful shutdown: ${takeoverMs} ms`);
    assert.ok(takeoverMs < LEASE_DURATION_MS / 2, `took ${takeoverMs} ms`);
    leader = next;
  });

  it('a leader that loses its lease stops reconciling and exits non-zero', async () => {
    await waitFor(() => leader.records('reconcile').length >= 3, { what: 'leader reconciling' });
    const leases = client.resource(Leases);
    const lease = await leases.get({ namespace, name: LEASE });
    const now = microTime(Date.now());
    await leases.update({
      ...lease,
      spec: { ...lease.spec, holderIdentity: 'intruder', renewTime: now, acquireTime: now },
    });
    const exit = await waitFor(() => leader.exitStatus, { what: 'exit', timeoutMs: 15_000 });
    assert.equal(exit.code, 1, leader.describe());
    assert.ok(
      leader.lines.some((l) => l.msg === 'leader election lost'),
      leader.describe(),
    );
  });
});
