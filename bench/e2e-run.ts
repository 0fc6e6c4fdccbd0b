// One end-to-end run of the in-cluster provider on a fresh local control plane: the manager runs as its own process
// (`cluster-ipam run`, compiled, with the image's memory flags), N IPAddressClaims are created `concurrency` at a
// time, and each claim's latency is measured from our create call to the watch event that shows its
// `status.addressRef` (what a machine waits for). Once the manager is stopped, the contract's ceiling (ceiling-run.ts:
// the four writes a claim needs, with no controller) and the raw write rate (plain ConfigMaps) are measured on the
// same control plane, with its N claims still in it. Writes per claim come from the manager's own request counters,
// CPU and RSS from /proc, the live heap from its /metrics once it is quiet (V8's memory reducer has collected then).
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IPAddressClaims, IPAddresses, InClusterIPPools, type IPAddressClaim } from '../src/api/index.ts';
import { KubeClient, Namespaces } from '../src/kube/index.ts';
import { freePort } from '../src/local/controlplane.ts';
import { Informer } from '../src/runtime/index.ts';
import { privateControlPlane } from '../test/support/cluster.ts';
import { startManagerProcess } from '../test/support/manager-process.ts';
import { contractCeiling, contractWrites, type Ceiling } from './ceiling-run.ts';

export interface RunOptions {
  claims: number;
  concurrency: number;
  /** `--workers` for every controller; absent, each its default (4, and defaultClaimWorkers for IPAddressClaims). */
  workers?: number;
  /** Write a V8 CPU profile of the manager into this directory. */
  profileDir?: string;
  /** Keep the V8 heap snapshot of the manager taken once every claim is answered in this directory. */
  heapSnapshotDir?: string;
  /** Node flags instead of the image's (`--max-semi-space-size=8 --heap-growing-percent=50`), to try others. */
  nodeFlags?: string[];
  /** How many of each write the ceiling sends (default: as many as claims, at most 2,000). */
  ceilingClaims?: number;
  log?: (line: string) => void;
}

export interface RunResult {
  claims: number;
  workers?: number;
  concurrency: number;
  claims_per_s: number;
  raw_writes_per_s: number;
  /** claims_per_s / raw_writes_per_s. */
  ratio_to_raw: number;
  /** The contract's ceiling measured after the run, on the same control plane. */
  ceiling: Ceiling;
  /** claims_per_s / the contract's best claims/s: the share of what the API server allows that is reached. */
  ratio_to_ceiling: number;
  create_s: number;
  total_s: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  writes_per_claim: number;
  writes: Record<string, number>;
  reads_per_claim: number;
  reads: Record<string, number>;
  manager_cpu_ms_per_claim: number;
  /** kube-apiserver + etcd CPU per claim, the creates of the claims included: the work the API server is asked. */
  apiserver_cpu_ms_per_claim: number;
  peak_rss_mb: number;
  /** Peak RSS before the first claim: start-up and an idle manager with one pool. */
  idle_peak_rss_mb: number;
  /** Live V8 heap of the idle manager before the first claim, and after the last answer (heap snapshot). */
  idle_heap_mb: number;
  heap_mb: number;
  /** (heap_mb - idle_heap_mb) / claims. */
  heap_per_claim_kb: number;
  /** One GET of /metrics, of the address-plan page (built), and of the page again (unchanged), once the run is over. */
  metrics_get_ms: number;
  plan_get_ms: number;
  plan_get_again_ms: number;
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function parallel(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < n; i = next++) await fn(i);
    }),
  );
}

export const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

export async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) / 1024);
}

/** User + system CPU of a process, in ms (clock ticks are 100 Hz on Linux). */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * The idle manager's live V8 heap (from its default process metrics): the least heap in use over `ms` of quiet, which
 * V8's memory reducer ends with a full collection (measured this way: 10.2 MB; its heap snapshot: 10.0 MB). Not after
 * a run: the reducer waits longer then (25.1 MB this way at 1,000 claims, 16.5 MB in the heap snapshot).
 */
export async function quietHeapMb(metricsUrl: string, ms = 20_000): Promise<number> {
  let least = Infinity;
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((ok) => setTimeout(ok, 500))) {
    const text = await (await fetch(metricsUrl)).text();
    least = Math.min(least, Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN) / 2 ** 20);
  }
  return Math.round(least * 10) / 10;
}

/**
 * Asks the manager for a heap snapshot (SIGUSR2) and waits until it is written: V8 stops the process while it writes,
 * so the metrics endpoint answering again means the file is complete. Returns its path.
 */
export async function heapSnapshot(manager: ChildProcess, dir: string, metricsUrl: string): Promise<string> {
  const before = new Set(await readdir(dir));
  manager.kill('SIGUSR2');
  for (;;) {
    const written = (await readdir(dir)).filter((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (
      written.length &&
      (await fetch(metricsUrl)
        .then((r) => r.ok)
        .catch(() => false))
    ) {
      return join(dir, written[0]!);
    }
    await new Promise((ok) => setTimeout(ok, 200));
  }
}

/**
 * The live heap in a heap snapshot (taken after a full collection), in MB: the sum of its nodes' self sizes, read as a
 * stream (a snapshot at 10,000 claims is ~100 MB of JSON).
 */
export async function snapshotHeapMb(file: string): Promise<number> {
  let header = '';
  let fields = 0;
  let selfAt = 0;
  let index = 0;
  let number = '';
  let total = 0;
  for await (const chunk of createReadStream(file, { encoding: 'utf8' })) {
    let text = chunk as string;
    if (!fields) {
      header += text;
      const start = header.indexOf('"nodes":[');
      if (start < 0) continue;
      const meta = JSON.parse(`${header.slice(0, start).replace(/,\s*$/, '')}}`) as {
        snapshot: { meta: { node_fields: string[] } };
      };
      fields = meta.snapshot.meta.node_fields.length;
      selfAt = meta.snapshot.meta.node_fields.indexOf('self_size');
      text = header.slice(start + '"nodes":['.length);
    }
    for (const ch of text) {
      if (ch >= '0' && ch <= '9') number += ch;
      else if (ch === ',' || ch === ']') {
        if (index++ % fields === selfAt) total += Number(number);
        number = '';
        if (ch === ']') return Math.round((total / 2 ** 20) * 10) / 10;
      }
    }
  }
  throw new Error(`no nodes in ${file}`);
}

/** The time of one GET of `url`, body read, in ms. */
async function getMs(url: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(url);
  await res.text();
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return Math.round((performance.now() - started) * 10) / 10;
}

/** etcd and kube-apiserver of the control plane started in `dir`. */
async function controlPlanePids(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(dir) && /\0(etcd|kube-apiserver)\0/.test(`\0${cmdline}`)) pids.push(Number(entry));
  }
  return pids;
}

async function totalCpuMs(pids: number[]): Promise<number> {
  let ms = 0;
  for (const pid of pids) ms += await cpuMs(pid).catch(() => 0);
  return ms;
}

/** Requests by method and resource, from the manager's rest_client_requests_total. */
export async function requestsByResource(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^rest_client_requests_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    const key = `${labels.method} ${labels.resource}`;
    out[key] = (out[key] ?? 0) + Number(m[2]);
  }
  return out;
}

/** The node flags of bin/cluster-ipam.mjs and the image's entrypoint. */
export const imageNodeFlags = ['--max-semi-space-size=8', '--heap-growing-percent=50'];

/**
 * `cluster-ipam run` as the image runs it: the compiled manager (`buildManager`) with the image's node flags (or
 * `nodeFlags`), a heap snapshot on SIGUSR2 written to `snapshotDir` (`heapSnapshot`), a CPU profile in `profileDir`.
 */
export function compiledManagerCommand(opts: {
  nodeFlags?: string[];
  profileDir?: string;
  snapshotDir: string;
}): string[] {
  return [
    ...(opts.nodeFlags ?? imageNodeFlags),
    ...(opts.profileDir ? ['--cpu-prof', '--cpu-prof-dir', opts.profileDir] : []),
    '--heapsnapshot-signal=SIGUSR2',
    `--diagnostic-dir=${opts.snapshotDir}`,
    join(root, 'dist/cli/main.js'),
    'run',
  ];
}

/** Compiles the manager (`npm run build`) so runs measure what production runs. */
export async function buildManager(log: (line: string) => void = () => {}): Promise<void> {
  log('# building the manager (npm run build)');
  await new Promise<void>((ok, fail) => {
    const child = spawn(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: root,
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`npm run build exited ${code}`))));
  });
}

export interface ClaimsRun {
  createdIn: number;
  /** From the first create to the last answer. */
  seconds: number;
  /** Per claim, create call to the event showing its status.addressRef, sorted. */
  latencies: number[];
  /** The manager's writes meanwhile, by method and resource (counted once the claims are answered). */
  writes: Record<string, number>;
  /** Its GETs (reads and the watches' lists) meanwhile, by resource. */
  reads: Record<string, number>;
  managerCpuMs: number;
  /** CPU of `otherPids` meanwhile. */
  otherCpuMs: number;
}

/**
 * Creates `claims` IPAddressClaims (`m-<i>`) of `poolRef` in `ns`, `concurrency` at a time, and measures each one's
 * latency to its `status.addressRef`, the whole run, and what the manager wrote and spent meanwhile.
 */
export async function measureClaims(
  client: KubeClient,
  ns: string,
  poolRef: { apiGroup: string; kind: string; name: string },
  opts: { claims: number; concurrency: number; managerPid: number; metricsUrl: string; otherPids?: number[] },
): Promise<ClaimsRun> {
  const { claims, concurrency, managerPid, metricsUrl } = opts;
  // Followed with the project's informer (it re-watches and relists if the API server drops a slow watcher under
  // this load), started before the first claim so every answer arrives as an event.
  const answeredAt = new Map<string, number>();
  let allDone!: () => void;
  const done = new Promise<void>((ok) => (allDone = ok));
  const stopWatch = new AbortController();
  const informer = new Informer(client.resource(IPAddressClaims), { namespace: ns });
  const seen = (c: IPAddressClaim) => {
    const name = c.metadata.name!;
    if (answeredAt.has(name) || !c.status?.addressRef?.name) return;
    answeredAt.set(name, performance.now());
    if (answeredAt.size === claims) allDone();
  };
  informer.addEventHandler({ onAdd: seen, onUpdate: (_, c) => seen(c) });
  const watching = informer.run(stopWatch.signal);
  await informer.waitForSync();

  const requestsBefore = await requestsByResource(metricsUrl);
  const cpuBefore = await cpuMs(managerPid);
  const otherBefore = await totalCpuMs(opts.otherPids ?? []);
  const createdAt: number[] = new Array(claims);
  const started = performance.now();
  await parallel(claims, concurrency, async (i) => {
    createdAt[i] = performance.now();
    await client.resource(IPAddressClaims).create({
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
      kind: 'IPAddressClaim',
      metadata: { namespace: ns, name: `m-${i}` },
      spec: { poolRef },
    });
  });
  const createdIn = performance.now() - started;
  await done;
  const finished = Math.max(...answeredAt.values());
  const managerCpuMs = (await cpuMs(managerPid)) - cpuBefore;
  const otherCpuMs = (await totalCpuMs(opts.otherPids ?? [])) - otherBefore;
  stopWatch.abort();
  await watching;
  const requestsAfter = await requestsByResource(metricsUrl);
  const writes: Record<string, number> = {};
  const reads: Record<string, number> = {};
  for (const [k, v] of Object.entries(requestsAfter)) {
    const n = v - (requestsBefore[k] ?? 0);
    if (n <= 0) continue;
    if (k.startsWith('GET ')) reads[k.slice(4)] = n;
    else writes[k] = n;
  }
  return {
    createdIn,
    seconds: (finished - started) / 1000,
    latencies: createdAt.map((t, i) => answeredAt.get(`m-${i}`)! - t).sort((a, b) => a - b),
    writes,
    reads,
    managerCpuMs,
    otherCpuMs,
  };
}

export async function runE2E(opts: RunOptions): Promise<RunResult> {
  const { claims, concurrency, workers } = opts;
  const log = opts.log ?? (() => {});
  log(`# starting a local control plane`);
  const cp = await privateControlPlane();
  const client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
  const [healthPort, metricsPort, uiPort] = [await freePort(), await freePort(), await freePort()];
  const snapshotDir = resolve(opts.heapSnapshotDir ?? (await mkdtemp(join(tmpdir(), 'bench-heap-'))));
  // The manager as it runs in production: compiled JavaScript, its own process (its CPU and peak RSS alone).
  const manager = startManagerProcess({
    command: compiledManagerCommand({ nodeFlags: opts.nodeFlags, profileDir: opts.profileDir, snapshotDir }),
    args: [
      '--kubeconfig',
      cp.kubeconfigPath,
      '--leader-elect=false',
      '--metrics-bind-address',
      `127.0.0.1:${metricsPort}`,
      '--health-probe-bind-address',
      `127.0.0.1:${healthPort}`,
      '--ui-bind-address',
      `127.0.0.1:${uiPort}`,
      ...(workers === undefined ? [] : ['--workers', String(workers)]),
      '--log-level',
      'warn',
    ],
  });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;

  try {
    await manager.waitReady(healthPort);
    const ns = 'bench';
    await client.resource(Namespaces).create({ metadata: { name: ns } });
    await client.resource(InClusterIPPools).create({
      apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
      kind: 'InClusterIPPool',
      metadata: { namespace: ns, name: 'pool' },
      spec: { addresses: ['10.0.0.0/16'], prefix: 16, gateway: '10.0.0.1' },
    });
    const idleHeap = await quietHeapMb(metricsUrl);
    const idleRss = await peakRssMb(manager.child.pid!);

    log(`# creating ${claims} claims, ${concurrency} at a time; manager with ${workers ?? 'default'} workers`);
    const serverPids = await controlPlanePids(cp.dir);
    const run = await measureClaims(
      client,
      ns,
      { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'pool' },
      {
        claims,
        concurrency,
        managerPid: manager.child.pid!,
        metricsUrl,
        otherPids: serverPids,
      },
    );
    const { createdIn, seconds, latencies, writes, reads } = run;
    const addresses = new Set(
      (await client.resource(IPAddresses).listAll({ namespace: ns })).items.map((a) => a.spec.address),
    );
    if (addresses.size !== claims) throw new Error(`${addresses.size} distinct addresses for ${claims} claims`);
    const rss = await peakRssMb(manager.child.pid!);
    const snapshot = await heapSnapshot(manager.child, snapshotDir, metricsUrl);
    const heap = await snapshotHeapMb(snapshot);
    if (opts.heapSnapshotDir) log(`# heap snapshot: ${snapshot}`);
    else await rm(snapshotDir, { recursive: true });
    // What one GET costs the manager with every claim held (after the snapshot: the page keeps its last build).
    const metricsGetMs = await getMs(metricsUrl);
    const planGetMs = await getMs(`http://127.0.0.1:${uiPort}/`);
    const planGetAgainMs = await getMs(`http://127.0.0.1:${uiPort}/`);
    await manager.stop(null); // a CPU profile is written on the way out: however long it takes

    const ceilingClaims = opts.ceilingClaims ?? Math.min(claims, 2000);
    log(`# the contract's ceiling and the raw write rate, no controller: ${ceilingClaims} of each write`);
    const ceiling = await contractCeiling(client, { ns: 'ceiling', claims: ceilingClaims, concurrency, log });
    const claimsPerS = claims / seconds;
    const totalWrites = Object.values(writes).reduce((a, b) => a + b, 0);
    return {
      claims,
      workers,
      concurrency,
      claims_per_s: Math.round(claimsPerS * 10) / 10,
      raw_writes_per_s: ceiling.raw_writes_per_s,
      ratio_to_raw: Math.round((claimsPerS / ceiling.raw_writes_per_s) * 1000) / 1000,
      ceiling,
      ratio_to_ceiling: Math.round((claimsPerS / ceiling.contract_best_claims_per_s) * 100) / 100,
      create_s: Math.round(createdIn) / 1000,
      total_s: Math.round(seconds * 1000) / 1000,
      p50_ms: Math.round(percentile(latencies, 50)),
      p99_ms: Math.round(percentile(latencies, 99)),
      max_ms: Math.round(latencies.at(-1)!),
      writes_per_claim: Math.round((totalWrites / claims) * 100) / 100,
      writes,
      reads_per_claim: Math.round((Object.values(reads).reduce((a, b) => a + b, 0) / claims) * 100) / 100,
      reads,
      manager_cpu_ms_per_claim: Math.round((run.managerCpuMs / claims) * 100) / 100,
      apiserver_cpu_ms_per_claim: Math.round((run.otherCpuMs / claims) * 100) / 100,
      peak_rss_mb: rss,
      idle_peak_rss_mb: idleRss,
      idle_heap_mb: idleHeap,
      heap_mb: heap,
      heap_per_claim_kb: Math.round(((heap - idleHeap) * 1024 * 100) / claims) / 100,
      metrics_get_ms: metricsGetMs,
      plan_get_ms: planGetMs,
      plan_get_again_ms: planGetAgainMs,
    };
  } finally {
    await manager.stop(null);
    client.close();
    await cp.stop();
  }
}

/** The human summary of a run. */
export function describeRun(r: RunResult): string[] {
  const c = r.ceiling;
  return [
    `claims/s: ${r.claims_per_s} (${r.claims} claims in ${r.total_s} s; created in ${r.create_s} s)`,
    `contract ceiling, same run: ${c.contract_best_claims_per_s} claims/s (create / finalizer / IPAddress / status: ` +
      `${contractWrites.map((w) => c.writes_per_s[w]).join(' / ')} writes/s); claims/s ÷ ceiling = ${r.ratio_to_ceiling}`,
    `raw API server writes/s: ${r.raw_writes_per_s}; claims/s ÷ raw writes/s = ${r.ratio_to_raw}`,
    `claim to status.addressRef: p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, max ${r.max_ms} ms`,
    `writes per claim (manager's own counters): ${r.writes_per_claim} — ${JSON.stringify(r.writes)}`,
    `reads per claim (GETs, watches included): ${r.reads_per_claim} — ${JSON.stringify(r.reads)}`,
    `API server + etcd CPU: ${r.apiserver_cpu_ms_per_claim} ms per claim; manager CPU: ${r.manager_cpu_ms_per_claim} ms per claim`,
    `memory: peak RSS ${r.peak_rss_mb} MB (idle ${r.idle_peak_rss_mb} MB); live heap ${r.heap_mb} MB (idle ` +
      `${r.idle_heap_mb} MB): ${r.heap_per_claim_kb} KB per claim`,
    `one GET once every claim is held: /metrics ${r.metrics_get_ms} ms; address-plan page ${r.plan_get_ms} ms, ` +
      `unchanged ${r.plan_get_again_ms} ms`,
  ];
}
