// Failover under load (issue 15): two manager replicas (`cluster-ipam run --leader-elect=true`, separate processes,
// each behind its own ChaosProxy to the API server) serve claims on a namespaced, a global, an IPv6, a shared-domain
// pair and an Infoblox pool (the WAPI simulator), while claims are created and deleted and the leader is SIGKILLed,
// the API server restarted and the leader partitioned from the API server for longer than its lease. Then, once the
// system has settled, the invariants of invariants.ts must hold: no duplicate, no leak, counts equal to the truth,
// nothing stuck, every live claim bound.
//
// Lease timings: the replicas run with a lease of 8 s, renew deadline 5 s, retry 1 s (the `--leader-elect-*` flags; a
// quicker takeover than client-go's 15 s / 10 s / 2 s defaults); a partition lasts longer than the lease.
//
// Standalone: `tsx test/chaos/failover.ts [--quick]`.
import { randomInt } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  GlobalInClusterIPPools,
  IPAddressClaims,
  IPAddresses,
  IPAddressLedgers,
  IPAddressReservations,
  InClusterIPPools,
  addressDomainAnnotation,
  type IPAddressClaim,
  type IPAddressLedger,
  type IPAddressLedgerEntry,
} from '../../src/api/index.ts';
import { startWapiSimulator, type WapiSimulator } from '../../src/infoblox/simulator/index.ts';
import { KubeClient, Leases, Namespaces, isAlreadyExists, isNotFound, type KubeObject } from '../../src/kube/index.ts';
import { freePort, type ControlPlane } from '../../src/local/controlplane.ts';
import { Informer } from '../../src/runtime/index.ts';
import {
  createInstance,
  createPool,
  createSecret,
  managerNamespace,
  simulatorInstanceSpec,
  writeSimulatorCA,
} from '../integration/infoblox-support.ts';
import { privateControlPlane } from '../support/cluster.ts';
import { readyz, startManagerProcess, type ManagerExit, type ManagerProcess } from '../support/manager-process.ts';
import { waitFor } from '../support/wait.ts';
import { checkInvariants, clean, readTruth, type InvariantReport } from './invariants.ts';
import { ChaosProxy, rewriteKubeconfig } from './proxy.ts';
import { emptyResult, type PartResult } from './summary.ts';

const leaseName = 'cluster-ipam-chaos';
/** The replicas' lease (`--leader-elect-lease-duration`); renew deadline 5 s, retry 1 s. */
export const leaseDurationMs = 8_000;
export const wapiUser = 'chaos-admin';
export const wapiPassword = 'chaos-9f3a7c-pw';

export type ChaosStep = 'leader-sigkill' | 'apiserver-restart' | 'partition';

export interface FailoverOptions {
  quick?: boolean;
  /** Claims to create (default 2,400; quick 300). */
  claims?: number;
  /** The faults, in this order (default: three leader kills, one API server restart, one partition, shuffled). */
  steps?: ChaosStep[];
  /** Share of claims deleted while the load runs (default 0.3). */
  deleteShare?: number;
  /** Seconds over which the claims are created (default: about as long as the faults take). */
  loadSeconds?: number;
  /** How long settling may take before the part fails (default 180 s). */
  settleTimeoutMs?: number;
  log?: (line: string) => void;
}

/** One manager replica: its proxy, its process (restarted when it dies by itself, as a Deployment would). */
export class Replica {
  readonly proxy: ChaosProxy;
  identity: string | undefined;
  proc: ManagerProcess | undefined;
  exited: Promise<ManagerExit> = Promise.resolve({ code: 0, signal: null });
  healthPort = 0;
  starts = 0;
  /** Exits we did not cause (lease lost after a partition, crashes), with the last log lines. */
  readonly unexpectedExits: { exit: ManagerExit; tail: string[]; cutOff: boolean }[] = [];
  /** Set while the API server is down (restarting): a replica that cannot reach it may exit. */
  apiDown = false;
  private killedOnPurpose = false;
  private stopping = false;
  private tail: string[] = [];
  private log: WriteStream | undefined;

  constructor(
    readonly name: string,
    apiServer: string,
    private readonly dir: string,
  ) {
    this.proxy = ChaosProxy.to(apiServer);
  }

  get kubeconfig(): string {
    return join(this.dir, `${this.name}.kubeconfig`);
  }

  async prepare(kubeconfig: string): Promise<void> {
    await this.proxy.start();
    await rewriteKubeconfig(kubeconfig, this.kubeconfig, this.proxy.url);
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  async start(): Promise<void> {
    this.healthPort = await freePort();
    this.identity = undefined;
    this.killedOnPurpose = false;
    this.starts++;
    this.tail = [];
    this.log ??= createWriteStream(join(this.dir, `${this.name}.log`), { flags: 'a' });
    this.log.write(`--- start ${this.starts} at ${new Date().toISOString()}\n`);
    const proc = startManagerProcess({
      args: [
        '--kubeconfig',
        this.kubeconfig,
        '--namespace',
        managerNamespace,
        '--leader-elect=true',
        '--leader-election-id',
        leaseName,
        `--leader-elect-lease-duration=${leaseDurationMs}ms`,
        '--leader-elect-renew-deadline=5s',
        '--leader-elect-retry-period=1s',
        '--metrics-bind-address',
        '0',
        '--health-probe-bind-address',
        `127.0.0.1:${this.healthPort}`,
        '--webhook-bind-address',
        '0',
        '--controllers',
        'ipaddressclaim,inclusterippool,infobloxinstance,infobloxippool',
        '--kcm',
        'absent',
        '--log-level',
        'info',
      ],
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child = proc.child;
    this.proc = proc;
    const remember = (line: string) => {
      this.log?.write(`${line}\n`);
      this.tail.push(line);
      if (this.tail.length > 40) this.tail.shift();
    };
    createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(line);
      if (!this.identity && line.includes('"msg":"starting"')) {
        try {
          this.identity = (JSON.parse(line) as { identity?: string }).identity;
        } catch {
          /* not JSON */
        }
      }
    });
    createInterface({ input: child.stderr! }).on('line', remember);
    this.exited = proc.exited;
    void this.exited.then((exit) => {
      if (this.proc !== proc || this.killedOnPurpose || this.stopping) return;
      const cutOff = this.proxy.isPartitioned || this.apiDown;
      this.unexpectedExits.push({ exit, tail: this.tail.slice(-15), cutOff });
      // Restarted as a Deployment restarts a pod (its first back-off is 10 s; 1 s here keeps the run short).
      setTimeout(() => {
        if (this.proc === proc && !this.stopping) void this.start();
      }, 1000);
    });
  }

  async kill(): Promise<void> {
    if (!this.proc || !this.running) return;
    this.killedOnPurpose = true;
    await this.proc.kill();
  }

  async ready(): Promise<boolean> {
    return this.running && readyz(this.healthPort);
  }

  lastLines(): string[] {
    return this.tail.slice(-15);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.proc?.stop(15_000);
    await this.proxy.close();
    await new Promise<void>((ok) => (this.log ? this.log.end(() => ok()) : ok()));
  }
}

/** The replica holding the lease (by the Lease, as the API server has it) once it is ready, other than `except`. */
export function awaitLeader(
  api: KubeClient,
  replicas: readonly Replica[],
  what: string,
  except?: Replica,
  timeoutMs = 90_000,
): Promise<Replica> {
  return waitFor(
    async () => {
      const lease = await api.resource(Leases).get({ namespace: managerNamespace, name: leaseName });
      const id = lease.spec?.holderIdentity;
      const r = id ? replicas.find((x) => x.identity === id && x.running) : undefined;
      return r && r !== except && (await r.ready()) ? r : undefined;
    },
    { what, timeoutMs, intervalMs: 250 },
  );
}

/**
 * What a part with two replicas runs on: a private control plane, the WAPI simulator (with `wapiUser`), two manager
 * replicas behind their proxies, and `dir` for their logs (kept when the part fails).
 */
export class Bench {
  readonly replicas: Replica[] = [];
  private cp: ControlPlane | undefined;
  private client: KubeClient | undefined;
  private sim: WapiSimulator | undefined;

  constructor(readonly dir: string) {}

  /** The control plane and the simulator, seeded with `seed`. */
  async start(seed: unknown) {
    const cp = (this.cp = await privateControlPlane());
    const api = (this.client = KubeClient.load({ kubeconfig: cp.kubeconfigPath }));
    const sim = (this.sim = await startWapiSimulator({ username: wapiUser, password: wapiPassword, seed }));
    const simAccess = { url: sim.url, username: wapiUser, password: wapiPassword, ca: sim.caPem };
    return { cp, api, sim, simAccess };
  }

  /** Both replicas, started (the credentials Secret in `managerNamespace` is for the caller to make). */
  async startReplicas(): Promise<void> {
    for (const name of ['replica-a', 'replica-b']) {
      const r = new Replica(name, this.cp!.server, this.dir);
      await r.prepare(this.cp!.kubeconfigPath);
      this.replicas.push(r);
    }
    for (const r of this.replicas) await r.start();
  }

  async stop(result: PartResult): Promise<void> {
    for (const r of this.replicas) await r.stop().catch(() => {});
    this.client?.close();
    await this.sim?.close();
    await this.cp?.stop();
    if (result.passed) return rm(this.dir, { recursive: true, force: true });
    for (const r of this.replicas) result.notes.push(`${r.name} last lines:\n${r.lastLines().join('\n')}`);
    result.notes.push(`${result.part}: replica logs kept in ${this.dir}`);
  }
}

async function retrying<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (signal?.aborted || attempt > 200) throw new Error(`${what}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** Math.min(attempt, 5))));
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export function percentile(values: number[], p: number): number | undefined {
  if (!values.length) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface Target {
  namespace: string;
  kind: 'InClusterIPPool' | 'GlobalInClusterIPPool' | 'InfobloxIPPool';
  pool: string;
}

const nsA = 'chaos-a';
const nsB = 'chaos-b';
const sharedDomain = 'chaos-shared';

/** The pools under load, and which (namespace, pool) a claim goes to, round robin. */
const targets: Target[] = [
  { namespace: nsA, kind: 'InClusterIPPool', pool: 'v4' },
  { namespace: nsA, kind: 'GlobalInClusterIPPool', pool: 'chaos-global' },
  { namespace: nsB, kind: 'GlobalInClusterIPPool', pool: 'chaos-global' },
  { namespace: nsA, kind: 'InClusterIPPool', pool: 'v6' },
  { namespace: nsA, kind: 'InClusterIPPool', pool: 'shared' },
  { namespace: nsB, kind: 'InClusterIPPool', pool: 'shared' },
  { namespace: nsB, kind: 'InfobloxIPPool', pool: 'ib' },
];

async function createWorld(client: KubeClient, sim: WapiSimulator, caFile: string): Promise<void> {
  for (const name of [managerNamespace, nsA, nsB]) {
    await client.resource(Namespaces).create({ metadata: { name } });
  }
  await createSecret(client, 'infoblox-credentials', { username: wapiUser, password: wapiPassword });
  await createInstance(client, 'sim', simulatorInstanceSpec(sim, { caFile }));
  const pool = (
    namespace: string,
    name: string,
    addresses: string[],
    prefix: number,
    gateway: string,
    domain?: string,
  ) =>
    client.resource(InClusterIPPools).create({
      apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
      kind: 'InClusterIPPool',
      metadata: { namespace, name, ...(domain ? { annotations: { [addressDomainAnnotation]: domain } } : {}) },
      spec: { addresses, prefix, gateway },
    });
  await pool(nsA, 'v4', ['10.10.0.0/20'], 20, '10.10.0.1');
  await pool(nsA, 'v6', ['fd00:10::1-fd00:10::ffff'], 64, 'fd00:10::ffff:ffff');
  // One flat network over two namespaces: both pools in one named domain, the same addresses.
  await pool(nsA, 'shared', ['10.40.0.0/21'], 21, '10.40.0.1', sharedDomain);
  await pool(nsB, 'shared', ['10.40.0.0/21'], 21, '10.40.0.1', sharedDomain);
  await client.resource(GlobalInClusterIPPools).create({
    apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
    kind: 'GlobalInClusterIPPool',
    metadata: { name: 'chaos-global' },
    spec: { addresses: ['10.20.0.0/20'], prefix: 20, gateway: '10.20.0.1' },
  });
  await createPool(client, nsB, 'ib', {
    instance: { name: 'sim' },
    subnets: [{ cidr: '10.30.0.0/20', gateway: '10.30.0.1' }],
  });
}

/**
 * What the suite sees through its own watches: claim latencies (create call to the first event showing
 * status.addressRef), and a short history of every claim, IPAddress, ledger entry and (legacy) reservation, printed
 * for the claims a failed invariant names.
 */
class Observer {
  readonly createdAt = new Map<string, number>();
  readonly boundAt = new Map<string, number>();
  readonly deleted = new Set<string>();
  private readonly history = new Map<string, string[]>();
  private readonly informers: Informer<KubeObject>[] = [];
  private readonly stop = new AbortController();
  private running: Promise<unknown> | undefined;

  constructor(
    client: KubeClient,
    private readonly t0: number,
  ) {
    const claims = new Informer(client.resource(IPAddressClaims), {});
    const seen = (c: IPAddressClaim) => {
      const k = `${c.metadata.namespace}/${c.metadata.name}`;
      if (!this.boundAt.has(k) && c.status?.addressRef?.name) this.boundAt.set(k, Date.now());
    };
    claims.addEventHandler({ onAdd: seen, onUpdate: (_, c) => seen(c) });
    this.informers.push(
      claims as unknown as Informer<KubeObject>,
      new Informer(client.resource(IPAddresses), {}) as unknown as Informer<KubeObject>,
      new Informer(client.resource(IPAddressReservations), {}) as unknown as Informer<KubeObject>,
    );
    for (const [i, informer] of this.informers.entries()) {
      const kind = ['IPAddressClaim', 'IPAddress', 'IPAddressReservation'][i]!;
      const note = (what: string, o: KubeObject) => this.note(kind, what, o);
      informer.addEventHandler({
        onAdd: (o) => note('add', o),
        onUpdate: (_, o) => note('update', o),
        onDelete: (o) => note('delete', o),
      });
    }
    // The ledgers: each entry that came, changed or went is noted in its claim's history.
    const ledgers = new Informer(client.resource(IPAddressLedgers), {});
    ledgers.addEventHandler({
      onAdd: (l) => this.noteEntries(undefined, l),
      onUpdate: (old, l) => this.noteEntries(old, l),
      onDelete: (l) => this.noteEntries(l, undefined),
    });
    this.informers.push(ledgers as unknown as Informer<KubeObject>);
  }

  /** The entries a ledger event added (`reserved`, `released`), changed or removed (`dropped`). */
  private noteEntries(old: IPAddressLedger | undefined, now: IPAddressLedger | undefined): void {
    const l = (now ?? old)!;
    const before: Record<string, IPAddressLedgerEntry> = old?.spec.entries ?? {};
    const after: Record<string, IPAddressLedgerEntry> = now?.spec.entries ?? {};
    for (const address of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const [was, is] = [before[address], after[address]];
      if (JSON.stringify(was) === JSON.stringify(is)) continue;
      const e = (is ?? was)!;
      const what = !is ? 'dropped' : is.releasedAt ? 'released' : 'reserved';
      const line = [
        `${((Date.now() - this.t0) / 1000).toFixed(2)}s`,
        what,
        `ledger ${l.metadata.name} entry`,
        `rv=${l.metadata.resourceVersion}`,
        `fence=${l.spec.fence ?? ''}`,
        `address=${address}`,
        `claim=${e.claimRef.uid.slice(0, 8)}`,
        was && is && was.claimRef.uid !== is.claimRef.uid ? `(was claim=${was.claimRef.uid.slice(0, 8)})` : '',
        now ? '' : 'ledger deleted',
      ]
        .filter(Boolean)
        .join(' ');
      const claims = [was, is].flatMap((x) => (x ? [`${x.claimRef.namespace}/${x.claimRef.name}`] : []));
      for (const claim of new Set(claims)) this.record(claim, line);
    }
  }

  private note(kind: string, what: string, o: KubeObject): void {
    const m = o.metadata;
    const spec = (o as { spec?: { address?: string; claimRef?: { name?: string; uid?: string } } }).spec;
    const status = (o as { status?: { addressRef?: { name?: string } } }).status;
    const name =
      kind === 'IPAddressReservation'
        ? `${spec?.claimRef && 'namespace' in spec.claimRef ? spec.claimRef.namespace : ''}/${spec?.claimRef?.name}`
        : `${m.namespace}/${m.name}`;
    const line = [
      `${((Date.now() - this.t0) / 1000).toFixed(2)}s`,
      what,
      kind === 'IPAddressReservation' ? `reservation ${m.name}` : kind,
      `uid=${m.uid?.slice(0, 8)}`,
      `rv=${m.resourceVersion}`,
      m.deletionTimestamp ? 'deleting' : '',
      m.finalizers?.length ? `finalizers=${m.finalizers.map((f) => f.split('/').pop()).join(',')}` : '',
      m.ownerReferences?.length
        ? `owners=${m.ownerReferences.map((r) => `${r.kind}:${r.uid.slice(0, 8)}`).join(',')}`
        : '',
      spec?.address ? `address=${spec.address}` : '',
      spec?.claimRef?.uid ? `claim=${spec.claimRef.uid.slice(0, 8)}` : '',
      status?.addressRef?.name ? `bound` : '',
    ]
      .filter(Boolean)
      .join(' ');
    this.record(name, line);
  }

  private record(name: string, line: string): void {
    const list = this.history.get(name) ?? [];
    list.push(line);
    this.history.set(name, list);
  }

  /** The history of the claims (namespace/name) named in `problems`. */
  historyOf(problems: readonly string[], max = 8): string[] {
    const names = new Set<string>();
    for (const p of problems) for (const m of p.matchAll(/\b(chaos-[ab]\/c-\d+)\b/g)) names.add(m[1]!);
    return [...names]
      .slice(0, max)
      .flatMap((n) => [`history of ${n}:`, ...(this.history.get(n) ?? []).map((l) => `  ${l}`)]);
  }

  async start(): Promise<void> {
    this.running = Promise.all(this.informers.map((i) => i.run(this.stop.signal)));
    for (const i of this.informers) await i.waitForSync();
  }

  async close(): Promise<void> {
    this.stop.abort();
    await this.running?.catch(() => {});
  }

  /** ms from create to address of the claims created within [from, to] and bound (not deleted first). */
  between(from: number, to: number): number[] {
    const out: number[] = [];
    for (const [k, t] of this.createdAt) {
      const bound = this.boundAt.get(k);
      if (t >= from && t <= to && bound !== undefined) out.push(bound - t);
    }
    return out;
  }
}

export async function runFailover(opts: FailoverOptions = {}): Promise<PartResult> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const result = emptyResult('failover');
  const claimCount = opts.claims ?? (opts.quick ? 300 : 2400);
  const steps =
    opts.steps ??
    shuffle<ChaosStep>(['leader-sigkill', 'leader-sigkill', 'leader-sigkill', 'apiserver-restart', 'partition']);
  const deleteShare = opts.deleteShare ?? 0.3;
  const loadSeconds = opts.loadSeconds ?? Math.max(20, steps.length * 22);
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  const say = (line: string) => log(`# failover ${elapsed()}: ${line}`);
  const fail = (line: string) => {
    result.passed = false;
    result.notes.push(`FAILED: ${line}`);
    say(`FAILED: ${line}`);
  };
  const fault = (kind: string) => (result.faults[kind] = (result.faults[kind] ?? 0) + 1);

  const bench = new Bench(await mkdtemp(join(tmpdir(), 'chaos-failover-')));
  const { dir, replicas } = bench;
  let latencies: Observer | undefined;
  let stopLeaseLog = async () => {};
  try {
    say(`starting a control plane, the WAPI simulator and two replicas (logs in ${dir})`);
    const { cp, api, sim, simAccess } = await bench.start({ network: [{ network: '10.30.0.0/20' }] });
    await createWorld(api, sim, writeSimulatorCA(sim, dir));
    await bench.startReplicas();

    const leader = (what: string, except?: Replica, timeoutMs = 90_000) =>
      awaitLeader(api, replicas, what, except, timeoutMs);
    const first = await leader('a first leader');
    await waitFor(async () => (await Promise.all(replicas.map((r) => r.ready()))).every(Boolean), {
      what: 'both replicas ready',
      timeoutMs: 60_000,
    });
    say(`${first.name} leads; ${claimCount} claims over ${loadSeconds}s; faults: ${steps.join(', ')}`);

    // The lease's holder over time, for the timeline of a failure.
    let watchingLease = true;
    const leaseLog = (async () => {
      let last: string | undefined;
      while (watchingLease) {
        const id = await api
          .resource(Leases)
          .get({ namespace: managerNamespace, name: leaseName })
          .then(
            (l) => l.spec?.holderIdentity ?? '',
            () => undefined,
          );
        if (id !== undefined && id !== last) {
          const r = replicas.find((x) => x.identity === id);
          say(`lease held by ${r ? `${r.name} (start ${r.starts})` : id || 'nobody'}`);
          last = id;
        }
        await sleep(500);
      }
    })();
    stopLeaseLog = async () => {
      watchingLease = false;
      await leaseLog;
    };
    latencies = new Observer(api, started);
    await latencies.start();
    const lat = latencies;

    // The load: claims created at an even pace, a share of them deleted a little later (some before they are bound).
    const loadDone = new AbortController();
    const deletes: Promise<void>[] = [];
    const create = async (i: number) => {
      const t = targets[i % targets.length]!;
      const name = `c-${i}`;
      const k = `${t.namespace}/${name}`;
      lat.createdAt.set(k, Date.now());
      await retrying(`create ${k}`, async () => {
        try {
          await api.resource(IPAddressClaims).create({
            apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
            kind: 'IPAddressClaim',
            metadata: { namespace: t.namespace, name },
            spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: t.kind, name: t.pool } },
          });
        } catch (err) {
          if (!isAlreadyExists(err)) throw err; // an earlier attempt got through
        }
      });
      result.claims++;
      if (Math.random() < deleteShare) {
        deletes.push(
          (async () => {
            await sleep(randomInt(0, 15_000));
            await retrying(`delete ${k}`, async () => {
              try {
                await api.resource(IPAddressClaims).delete({ namespace: t.namespace, name });
              } catch (err) {
                if (!isNotFound(err)) throw err;
              }
            });
            lat.deleted.add(k);
          })(),
        );
      }
    };
    const loadStart = Date.now();
    const load = (async () => {
      const pending: Promise<void>[] = [];
      for (let i = 0; i < claimCount; i++) {
        const due = loadStart + (i * loadSeconds * 1000) / claimCount;
        if (due > Date.now()) await sleep(due - Date.now());
        pending.push(create(i));
        // Bounded concurrency: an API server restart must not pile up thousands of retrying creates.
        if (pending.length >= 64) await Promise.all(pending.splice(0, pending.length));
      }
      await Promise.all(pending);
      await Promise.all(deletes);
      loadDone.abort();
    })();

    // The faults, one after the other, each at a random moment, each awaited until a leader serves again.
    const chaosStart = Date.now();
    for (const step of steps) {
      await sleep(randomInt(2_000, 8_000));
      if (step === 'leader-sigkill') {
        const victim = await leader('a leader to kill');
        say(`SIGKILL the leader ${victim.name}`);
        await victim.kill();
        fault('leader-sigkill');
        result.leaderKills++;
        await victim.start();
        const next = await leader('a new leader after the kill', undefined, 90_000);
        say(`${next.name} leads`);
      } else if (step === 'apiserver-restart') {
        say('restarting the API server');
        for (const r of replicas) r.apiDown = true;
        await cp.restartAPIServer().finally(() => replicas.forEach((r) => (r.apiDown = false)));
        fault('apiserver-restart');
        result.apiserverRestarts++;
        const next = await leader('a leader after the API server restart');
        say(`API server back; ${next.name} leads`);
      } else {
        const victim = await leader('a leader to partition');
        const cutAt = Date.now();
        say(`partitioning the leader ${victim.name} from the API server`);
        victim.proxy.partition('blackhole');
        fault('partition');
        result.partitions++;
        // Longer than the lease, and until the other replica has taken over.
        await leader('the other replica to take over during the partition', victim, 90_000);
        const hold = cutAt + leaseDurationMs + 3_000 - Date.now();
        if (hold > 0) await sleep(hold);
        victim.proxy.heal();
        say(`healed after ${((Date.now() - cutAt) / 1000).toFixed(1)}s; ${victim.name} must come back as a stand-by`);
        // Not wedged: it (or its restart, if it exited on losing the lease) is ready again.
        await waitFor(() => victim.ready(), {
          what: `${victim.name} ready after the partition`,
          timeoutMs: 90_000,
        }).catch((err: Error) =>
          fail(`wedged replica after the partition: ${err.message}\n${victim.lastLines().join('\n')}`),
        );
      }
    }
    const chaosEnd = Date.now();
    await load;
    say(`load done: ${result.claims} claims created, ${lat.deleted.size} deleted; settling`);

    // Settling: await the invariants (a claim deleted in a crash window may need the 30 s orphan sweep).
    let report: InvariantReport | undefined;
    await waitFor(
      async () => {
        report = checkInvariants(await readTruth(api, simAccess));
        return clean(report) && (await leader('a leader', undefined, 5_000)) ? report : undefined;
      },
      { what: 'the invariants to hold after settling', timeoutMs: opts.settleTimeoutMs ?? 180_000, intervalMs: 3_000 },
    ).catch(() => undefined);
    report = checkInvariants(await readTruth(api, simAccess));
    const live = (await api.resource(IPAddressClaims).listAll()).items.length;
    result.duplicates = report.duplicates;
    result.leaks = report.leaks;
    result.stuck = report.stuck;
    const during = lat.between(chaosStart, chaosEnd);
    const p99 = percentile(during, 99);
    if (p99 !== undefined) result.p99Ms = Math.round(p99);
    const all = lat.between(0, Date.now());
    result.notes.push(
      `failover: ${result.claims} claims over 7 pool targets (namespaced, global x2 namespaces, IPv6, shared domain x2, Infoblox), ${lat.deleted.size} deleted meanwhile, ${live} live at the end`,
      `failover: faults ${Object.entries(result.faults)
        .map(([k, v]) => `${k} x${v}`)
        .join(', ')} (lease ${leaseDurationMs / 1000} s)`,
      `failover: claim→address during faults p50 ${Math.round(percentile(during, 50) ?? 0)} ms, p99 ${result.p99Ms ?? '-'} ms, max ${Math.round(Math.max(0, ...during))} ms (${during.length} claims); whole run p99 ${Math.round(percentile(all, 99) ?? 0)} ms`,
      `failover: after settling: duplicates ${report.duplicates}, leaks ${report.leaks}, count mismatches ${report.countMismatches}, stuck ${report.stuck}, unbound ${report.unbound}`,
    );
    for (const r of replicas) {
      for (const e of r.unexpectedExits) {
        result.notes.push(
          `failover: ${r.name} exited by itself (code ${e.exit.code}, signal ${e.exit.signal}) and was restarted`,
        );
        // Losing the lease, or failing to start while cut off from the API server, ends the process by design.
        const why = e.cutOff || e.tail.some((l) => l.includes('leader election lost'));
        if (!why) fail(`${r.name} exited without losing the lease:\n${e.tail.join('\n')}`);
      }
    }
    if (!clean(report)) {
      fail(`invariants after settling:\n  ${report.problems.join('\n  ')}`);
      result.notes.push(...lat.historyOf(report.problems));
    }
    return result;
  } catch (err) {
    fail(`${(err as Error).stack ?? String(err)}`);
    return result;
  } finally {
    await stopLeaseLog();
    await latencies?.close();
    await bench.stop(result);
  }
}

/** The chaos suite's entry point for this part. */
export function run(opts: { quick?: boolean }): Promise<PartResult> {
  return runFailover(opts);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run({ quick: process.argv.includes('--quick') });
  for (const n of r.notes) console.log(n);
  console.log(JSON.stringify({ ...r, notes: undefined }));
  process.exit(r.passed ? 0 : 1);
}
