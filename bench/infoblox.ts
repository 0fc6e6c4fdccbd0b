// End-to-end throughput and memory of the ipam-infoblox provider against the WAPI simulator: for each setting of the
// manager's workers (1, and the default), a fresh local control plane and a fresh simulator (in this process), the
// compiled manager with the image's node flags in a process of its own (`cluster-ipam run`, every controller), one
// InfobloxInstance and one InfobloxIPPool on a /16, then N IPAddressClaims created `concurrency` at a time. A claim's
// latency runs from our create call to the watch event showing its `status.addressRef` (what a machine waits for).
// Prints one JSON line per setting (the last lines of the output).
//
//   npm run bench:infoblox -- [--claims N] [--concurrency C] [--claim-workers W,...] [--node-flags="..."]
//
// W is the claim controller's workers: the default (defaultClaimWorkers) runs `cluster-ipam run` as it is; any other
// W runs it with `--workers W`, which sets every controller's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { IPAddresses, InfobloxIPPools } from '../src/api/index.ts';
import { defaultClaimWorkers } from '../src/controllers/ipaddressclaim.ts';
import { startWapiSimulator } from '../src/infoblox/simulator/index.ts';
import { KubeClient, Namespaces } from '../src/kube/index.ts';
import { freePort } from '../src/local/controlplane.ts';
import {
  createInstance,
  createPool,
  createSecret,
  managerNamespace,
  simulatorInstanceSpec,
  writeSimulatorCA,
} from '../test/integration/infoblox-support.ts';
import { startManagerProcess } from '../test/support/manager-process.ts';
import { privateControlPlane } from '../test/support/cluster.ts';
import {
  buildManager,
  compiledManagerCommand,
  heapSnapshot,
  measureClaims,
  peakRssMb,
  percentile,
  quietHeapMb,
  snapshotHeapMb,
} from './e2e-run.ts';

const credentials = { username: 'bench', password: 'bench-password' };

export interface InfobloxRunResult {
  provider: 'ipam-infoblox';
  claims: number;
  claim_workers: number;
  concurrency: number;
  claims_per_s: number;
  create_s: number;
  total_s: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  /** WAPI requests the simulator answered, per claim, by route. */
  wapi_requests_per_claim: number;
  wapi_requests: Record<string, number>;
  writes_per_claim: number;
  writes: Record<string, number>;
  manager_cpu_ms_per_claim: number;
  peak_rss_mb: number;
  /** Peak RSS before the first claim: start-up and an idle manager with one instance and one pool. */
  idle_peak_rss_mb: number;
  /** Live V8 heap of the idle manager, and once every claim is answered (heap snapshot). */
  idle_heap_mb: number;
  heap_mb: number;
}

async function runInfoblox(opts: {
  claims: number;
  concurrency: number;
  claimWorkers: number;
  nodeFlags?: string[];
  log: (line: string) => void;
}): Promise<InfobloxRunResult> {
  const { claims, concurrency, claimWorkers, log } = opts;
  log(`# starting a local control plane and the WAPI simulator`);
  const cp = await privateControlPlane();
  const sim = await startWapiSimulator({ ...credentials, seed: { network: [{ network: '10.0.0.0/16' }] } });
  const dir = mkdtempSync(join(tmpdir(), 'bench-infoblox-'));
  const caFile = writeSimulatorCA(sim, dir);
  const client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
  const [healthPort, metricsPort] = [await freePort(), await freePort()];
  const manager = startManagerProcess({
    command: compiledManagerCommand({ nodeFlags: opts.nodeFlags, snapshotDir: dir }),
    args: [
      '--kubeconfig',
      cp.kubeconfigPath,
      '--namespace',
      managerNamespace,
      '--leader-elect=false',
      '--metrics-bind-address',
      `127.0.0.1:${metricsPort}`,
      '--health-probe-bind-address',
      `127.0.0.1:${healthPort}`,
      '--log-level',
      'warn',
      ...(claimWorkers === defaultClaimWorkers ? [] : ['--workers', String(claimWorkers)]),
    ],
  });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  try {
    await manager.waitReady(healthPort);
    const ns = 'bench';
    await client.resource(Namespaces).create({ metadata: { name: ns } });
    await client.resource(Namespaces).create({ metadata: { name: managerNamespace } });
    await createSecret(client, 'wapi', credentials);
    await createInstance(client, 'sim', simulatorInstanceSpec(sim, { secret: 'wapi', caFile }));
    await createPool(client, ns, 'pool', {
      instance: { name: 'sim' },
      subnets: [{ cidr: '10.0.0.0/16', gateway: '10.0.255.254' }],
    });
    for (;;) {
      const pool = await client.resource(InfobloxIPPools).get({ namespace: ns, name: 'pool' });
      const ready = pool.status?.conditions?.find((c) => c.type === 'Ready');
      if (ready?.status === 'True') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const idleHeap = await quietHeapMb(metricsUrl);
    const idleRss = await peakRssMb(manager.child.pid!);

    log(
      `# creating ${claims} Infoblox claims, ${concurrency} at a time; claim controller with ${claimWorkers} workers`,
    );
    sim.requests.reset();
    const poolRef = { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InfobloxIPPool', name: 'pool' };
    const run = await measureClaims(client, ns, poolRef, {
      claims,
      concurrency,
      managerPid: manager.child.pid!,
      metricsUrl,
    });
    const wapi = structuredClone(sim.requests.counters);
    const { latencies, seconds, writes } = run;

    const addresses = new Set(
      (await client.resource(IPAddresses).listAll({ namespace: ns })).items.map((a) => a.spec.address),
    );
    if (addresses.size !== claims) throw new Error(`${addresses.size} distinct addresses for ${claims} claims`);
    const records = sim.state.hostRecords();
    if (records.length !== claims || new Set(records.map((r) => r.name)).size !== claims) {
      throw new Error(`${records.length} host records for ${claims} claims`);
    }
    const totalWrites = Object.values(writes).reduce((a, b) => a + b, 0);
    const rss = await peakRssMb(manager.child.pid!);
    const heap = await snapshotHeapMb(await heapSnapshot(manager.child, dir, metricsUrl));
    return {
      provider: 'ipam-infoblox',
      claims,
      claim_workers: claimWorkers,
      concurrency,
      claims_per_s: Math.round((claims / seconds) * 10) / 10,
      create_s: Math.round(run.createdIn) / 1000,
      total_s: Math.round(seconds * 1000) / 1000,
      p50_ms: Math.round(percentile(latencies, 50)),
      p99_ms: Math.round(percentile(latencies, 99)),
      max_ms: Math.round(latencies.at(-1)!),
      wapi_requests_per_claim: Math.round((wapi.total / claims) * 100) / 100,
      wapi_requests: wapi.byRoute,
      writes_per_claim: Math.round((totalWrites / claims) * 100) / 100,
      writes,
      manager_cpu_ms_per_claim: Math.round((run.managerCpuMs / claims) * 100) / 100,
      peak_rss_mb: rss,
      idle_peak_rss_mb: idleRss,
      idle_heap_mb: idleHeap,
      heap_mb: heap,
    };
  } finally {
    await manager.stop(null);
    client.close();
    await sim.close();
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const { values } = parseArgs({
  options: {
    claims: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    'claim-workers': { type: 'string', default: `1,${defaultClaimWorkers}` },
    'node-flags': { type: 'string' },
  },
});
await buildManager((line) => console.log(line));
const results: InfobloxRunResult[] = [];
for (const claimWorkers of values['claim-workers'].split(',').map(Number)) {
  const r = await runInfoblox({
    claims: Number(values.claims),
    concurrency: Number(values.concurrency),
    claimWorkers,
    nodeFlags: values['node-flags']?.split(/\s+/).filter(Boolean),
    log: (line) => console.log(line),
  });
  console.log(
    `# ${r.claim_workers} claim workers: ${r.claims_per_s} claims/s (${r.claims} in ${r.total_s} s); ` +
      `claim to status.addressRef p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms; ${r.wapi_requests_per_claim} WAPI ` +
      `requests and ${r.writes_per_claim} API writes per claim; manager CPU ${r.manager_cpu_ms_per_claim} ms/claim; ` +
      `peak RSS ${r.peak_rss_mb} MB (idle ${r.idle_peak_rss_mb} MB), live heap ${r.heap_mb} MB (idle ${r.idle_heap_mb} MB)`,
  );
  results.push(r);
}
for (const r of results) console.log(JSON.stringify(r));
