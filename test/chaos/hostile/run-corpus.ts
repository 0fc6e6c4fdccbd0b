// Runs the hostile-input corpus against a cluster whose manager is running, while a stream of well-formed machine
// claims is served from a pool of its own namespace: every case's expectation, the manager's health between cases,
// and each well-formed claim's time from create to `status.addressRef` (what a machine waits for).
import { randomBytes } from 'node:crypto';
import { IPAddressClaims, InClusterIPPools, type IPAddressClaim } from '../../../src/api/index.ts';
import { KubeClient, Namespaces } from '../../../src/kube/index.ts';
import { Informer } from '../../../src/runtime/index.ts';
import { corpus } from './corpus.ts';
import { kubectlFor, runCase, type Ctx, type HostileCase } from './harness.ts';

export interface CorpusOptions {
  kubeconfig: string;
  /** Leave out the slow cases. */
  quick?: boolean;
  /** Cases run this many at a time (default 4). */
  concurrency?: number;
  poolLabels?: Record<string, string>;
  /** Says what is wrong with the manager (crashed, not ready), undefined while it is fine. */
  managerProblem: () => Promise<string | undefined>;
  /** One well-formed claim every this many ms while the corpus runs (default 250). */
  streamIntervalMs?: number;
  log?: (line: string) => void;
}

export interface CaseResult {
  name: string;
  group: string;
  ok: boolean;
  error?: string;
  ms: number;
}

export interface CorpusResult {
  namespace: string;
  cases: CaseResult[];
  /** Problems of the manager seen during the run (each once). */
  managerProblems: string[];
  stream: {
    claims: number;
    answered: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    /** The slowest claims: ms after the corpus started that each was created, and its latency. */
    slowest: { atMs: number; ms: number }[];
  };
  /** When each case ran, in ms after the corpus started (to match slow claims to what ran meanwhile). */
  timeline: { name: string; fromMs: number; toMs: number }[];
}

export const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** The first network octet of the corpus: cases use 10.<130+i>.0.0/16, away from the other tests' 10.x networks. */
const firstOctet = 130;

export function selectCases(quick: boolean): HostileCase[] {
  return corpus.filter((c) => !(quick && c.slow));
}

/** Machines claiming from a pool of their own namespace, one every `intervalMs`, timed to their addressRef. */
async function startStream(
  client: KubeClient,
  ns: string,
  intervalMs: number,
  poolLabels: Record<string, string>,
  startedAt: number,
) {
  await client.resource(InClusterIPPools).create({
    apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
    kind: 'InClusterIPPool',
    metadata: { namespace: ns, name: 'steady', labels: poolLabels },
    spec: { addresses: ['10.250.0.0/16'], prefix: 16, gateway: '10.250.0.1' },
  });
  // Timed from a served pool on: the first claims must not measure the pool's own start.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const p = await client.resource(InClusterIPPools).get({ namespace: ns, name: 'steady' });
    if (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
    if (Date.now() > deadline) throw new Error("the well-formed claims' pool did not become Ready within 60 s");
    await new Promise((r) => setTimeout(r, 200));
  }
  const createdAt = new Map<string, number>();
  const answeredAt = new Map<string, number>();
  const seen = (c: IPAddressClaim) => {
    const name = c.metadata.name!;
    if (!answeredAt.has(name) && c.status?.addressRef?.name) answeredAt.set(name, performance.now());
  };
  const informer = new Informer(client.resource(IPAddressClaims), { namespace: ns });
  informer.addEventHandler({ onAdd: seen, onUpdate: (_, c) => seen(c) });
  const stopWatch = new AbortController();
  const watching = informer.run(stopWatch.signal);
  await informer.waitForSync();
  let i = 0;
  let stopped = false;
  const creating = (async () => {
    while (!stopped) {
      const name = `steady-${i++}`;
      const started = performance.now();
      createdAt.set(name, started);
      await client.resource(IPAddressClaims).create({
        apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
        kind: 'IPAddressClaim',
        metadata: { namespace: ns, name },
        spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'steady' } },
      });
      const wait = intervalMs - (performance.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    async stop(settleMs = 30_000) {
      stopped = true;
      await creating;
      const deadline = Date.now() + settleMs;
      while (answeredAt.size < createdAt.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      stopWatch.abort();
      await watching;
      const answered = [...createdAt]
        .filter(([name]) => answeredAt.has(name))
        .map(([name, t]) => ({ at: t, ms: answeredAt.get(name)! - t }));
      const latencies = answered.map((a) => a.ms).sort((a, b) => a - b);
      const slowest = answered
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 3)
        .map((a) => ({ atMs: Math.round(a.at - startedAt), ms: Math.round(a.ms) }));
      return {
        claims: createdAt.size,
        answered: answeredAt.size,
        p50Ms: Math.round(percentile(latencies, 50)),
        p99Ms: Math.round(percentile(latencies, 99)),
        maxMs: Math.round(latencies.at(-1) ?? NaN),
        slowest,
      };
    },
  };
}

export async function runCorpus(opts: CorpusOptions): Promise<CorpusResult> {
  const log = opts.log ?? (() => {});
  const run = randomBytes(3).toString('hex');
  const ns = `hostile-${run}`;
  const kubectl = kubectlFor(opts.kubeconfig);
  const client = KubeClient.load({ kubeconfig: opts.kubeconfig });
  const poolLabels = opts.poolLabels ?? {};
  const cases = selectCases(opts.quick ?? false);
  if (cases.length > 250 - firstOctet) throw new Error(`too many cases for one octet each: ${cases.length}`);
  const managerProblems = new Set<string>();
  const checkManager = async () => {
    const p = await opts.managerProblem();
    if (p) managerProblems.add(p);
  };
  try {
    await client.resource(Namespaces).create({ metadata: { name: ns } });
    await client.resource(Namespaces).create({ metadata: { name: `${ns}-steady` } });
    const startedAt = performance.now();
    const timeline: CorpusResult['timeline'] = [];
    const stream = await startStream(client, `${ns}-steady`, opts.streamIntervalMs ?? 250, poolLabels, startedAt);
    const results: CaseResult[] = new Array(cases.length);
    let next = 0;
    await Promise.all(
      Array.from({ length: opts.concurrency ?? 4 }, async () => {
        for (let i = next++; i < cases.length; i = next++) {
          const c = cases[i]!;
          const ctx: Ctx = {
            kubectl,
            ns,
            run,
            o: firstOctet + i,
            poolLabels,
            cname: (base) => `${base}-${run}-${firstOctet + i}`,
          };
          const started = performance.now();
          try {
            await runCase(c, ctx);
            results[i] = { name: c.name, group: c.group, ok: true, ms: Math.round(performance.now() - started) };
          } catch (err) {
            const error = err instanceof Error ? err.message : String(err);
            results[i] = {
              name: c.name,
              group: c.group,
              ok: false,
              error,
              ms: Math.round(performance.now() - started),
            };
            log(`# FAIL ${c.name}: ${error.slice(0, 2000)}`);
          }
          timeline.push({
            name: c.name,
            fromMs: Math.round(started - startedAt),
            toMs: Math.round(performance.now() - startedAt),
          });
          await checkManager();
        }
      }),
    );
    const streamResult = await stream.stop();
    await checkManager();
    return { namespace: ns, cases: results, managerProblems: [...managerProblems], stream: streamResult, timeline };
  } finally {
    // Cluster-scoped objects of this run (namespaced ones go with the namespaces, deleted by the caller if wanted).
    for (const kind of ['globalinclusterippools.ipam.cluster.x-k8s.io', 'infobloxinstances.ipam.cluster.x-k8s.io']) {
      const r = await kubectl(['get', kind, '-o', 'name']);
      const mine = r.stdout.split('\n').filter((n) => n.includes(`-${run}-`));
      if (mine.length) await kubectl(['delete', '--wait=false', ...mine]);
    }
    const secrets = await kubectl(['get', 'secrets', '-o', 'name'], { namespace: 'default' });
    const mine = secrets.stdout.split('\n').filter((n) => n.includes(`-${run}-`));
    if (mine.length) await kubectl(['delete', ...mine], { namespace: 'default' });
    client.close();
  }
}
