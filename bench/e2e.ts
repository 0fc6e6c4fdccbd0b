// End-to-end throughput of the in-cluster provider on a dedicated local control plane: the manager runs as its own
// process (`cluster-ipam run`), N IPAddressClaims are created at once, and each claim's latency is measured from our
// create call to the watch event of its IPAddress (creationTimestamp has 1 s resolution). The raw API server write
// rate (plain ConfigMaps, same concurrency) is the physical ceiling: a claim costs 4 writes (claim finalizer,
// reservation, IPAddress, claim status). The last line is one JSON object.
//
//   npm run bench:e2e -- [--claims N] [--concurrency C] [--workers W]
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigMaps, KubeClient, Namespaces } from '../src/kube/index.ts';
import { freePort, startControlPlane } from '../src/local/controlplane.ts';
import { IPAddressClaims, IPAddresses, InClusterIPPools } from '../src/api/index.ts';

const { values } = parseArgs({
  options: {
    claims: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    workers: { type: 'string', default: '8' },
  },
});
const claims = Number(values.claims);
const concurrency = Number(values.concurrency);
const workers = Number(values.workers);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', fail);
    child.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

async function parallel(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let i = next++; i < n; i = next++) await fn(i);
    }),
  );
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return Math.round(kb / 1024);
}

const log = (line: string) => console.log(line);
log(`# starting a local control plane`);
const crds = join(root, 'deploy/crds');
const cp = await startControlPlane({
  beforeControllerManager: async (kubeconfig) => {
    await run('kubectl', ['--kubeconfig', kubeconfig, 'apply', '--server-side', '-f', crds]);
    await run('kubectl', ['--kubeconfig', kubeconfig, 'wait', '--for', 'condition=Established', '-f', crds]);
  },
});
const client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
const healthPort = await freePort();
// node --import tsx rather than the tsx CLI: one process, whose peak RSS is the manager's own.
const manager = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    join(root, 'src/cli/main.ts'),
    'run',
    '--kubeconfig',
    cp.kubeconfigPath,
    '--leader-elect=false',
    '--metrics-bind-address',
    '0',
    '--health-probe-bind-address',
    `127.0.0.1:${healthPort}`,
    '--workers',
    String(workers),
    '--log-level',
    'warn',
  ],
  { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
);
const exited = new Promise<void>((ok) => manager.once('exit', () => ok()));

try {
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (manager.exitCode !== null) throw new Error('the manager exited before it was ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  const ns = 'bench';
  await client.resource(Namespaces).create({ metadata: { name: ns } });
  await client.resource(InClusterIPPools).create({
    apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
    kind: 'InClusterIPPool',
    metadata: { namespace: ns, name: 'pool' },
    spec: { addresses: ['10.0.0.0/16'], prefix: 16, gateway: '10.0.0.1' },
  });

  // The watch starts before the first claim, so every IPAddress arrives as an event.
  const allocatedAt = new Map<string, number>();
  let allDone!: () => void;
  const done = new Promise<void>((ok) => (allDone = ok));
  const stopWatch = new AbortController();
  const rv = (await client.resource(IPAddresses).list({ namespace: ns, limit: 1 })).metadata.resourceVersion;
  const watching = client
    .resource(IPAddresses)
    .watch({ namespace: ns, resourceVersion: rv, signal: stopWatch.signal }, (e) => {
      if (e.type !== 'ADDED' || allocatedAt.has(e.object.metadata.name!)) return;
      allocatedAt.set(e.object.metadata.name!, performance.now());
      if (allocatedAt.size === claims) allDone();
    })
    .catch((err: unknown) => {
      if (!stopWatch.signal.aborted) throw err;
    });

  log(`# creating ${claims} claims, ${concurrency} at a time; manager with ${workers} workers`);
  const createdAt: number[] = new Array(claims);
  const started = performance.now();
  await parallel(claims, concurrency, async (i) => {
    createdAt[i] = performance.now();
    await client.resource(IPAddressClaims).create({
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
      kind: 'IPAddressClaim',
      metadata: { namespace: ns, name: `m-${i}` },
      spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'pool' } },
    });
  });
  const createdIn = performance.now() - started;
  await done;
  const finished = Math.max(...allocatedAt.values());
  stopWatch.abort();
  await watching;
  const latencies = createdAt.map((t, i) => allocatedAt.get(`m-${i}`)! - t).sort((a, b) => a - b);
  const seconds = (finished - started) / 1000;
  const addresses = new Set(
    (await client.resource(IPAddresses).listAll({ namespace: ns })).items.map((a) => a.spec.address),
  );
  if (addresses.size !== claims) throw new Error(`${addresses.size} distinct addresses for ${claims} claims`);
  const rss = await peakRssMb(manager.pid!);

  log(`# raw write rate: ${claims} ConfigMaps, ${concurrency} at a time`);
  const rawStarted = performance.now();
  await parallel(claims, concurrency, async (i) => {
    await client.resource(ConfigMaps).create({ metadata: { namespace: ns, name: `cm-${i}` }, data: { i: String(i) } });
  });
  const rawSeconds = (performance.now() - rawStarted) / 1000;

  const result = {
    claims,
    workers,
    concurrency,
    claims_per_s: Math.round(claims / seconds),
    create_s: Math.round(createdIn) / 1000,
    total_s: Math.round(seconds * 1000) / 1000,
    p50_ms: Math.round(percentile(latencies, 50)),
    p99_ms: Math.round(percentile(latencies, 99)),
    max_ms: Math.round(latencies.at(-1)!),
    peak_rss_mb: rss,
    raw_writes_per_s: Math.round(claims / rawSeconds),
    writes_per_claim: 4,
  };
  log(`claims/s: ${result.claims_per_s} (${claims} claims in ${result.total_s} s; created in ${result.create_s} s)`);
  log(`claim to IPAddress latency: p50 ${result.p50_ms} ms, p99 ${result.p99_ms} ms, max ${result.max_ms} ms`);
  log(`manager peak RSS: ${rss} MB`);
  log(
    `raw API server writes/s: ${result.raw_writes_per_s} (ceiling for 4 writes a claim: ~${Math.round(result.raw_writes_per_s / 4)} claims/s)`,
  );
  log(JSON.stringify(result));
} finally {
  manager.kill('SIGTERM');
  await exited;
  client.close();
  await cp.stop();
}
