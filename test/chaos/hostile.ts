// Chaos suite part "hostile-input": the corpus of malformed and hostile manifests (test/chaos/hostile/) against a
// control plane of its own and the manager as its own process (`cluster-ipam run`, with the pools' webhook registered
// as in production), while well-formed machine claims stream in. Reports every case's expectation, the manager's
// health throughout (/readyz, still running), its peak RSS (VmHWM from /proc) and the p99 of a well-formed claim's
// time to status.addressRef. Standalone: `node --import tsx test/chaos/hostile.ts [--quick]`.
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { freePort } from '../../src/local/controlplane.ts';
import { privateControlPlane } from '../support/cluster.ts';
import { readyz, startManagerProcess } from '../support/manager-process.ts';
import { runCorpus } from './hostile/run-corpus.ts';
import { emptyResult, type PartResult } from './summary.ts';

/** Resident set size now and at its peak (VmRSS, VmHWM), in MB. */
async function rssMb(pid: number): Promise<{ now: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { now: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}

/** The bound the manager's peak RSS must stay under while the corpus runs. */
const rssBoundMb = 512;

export async function run(opts: { quick?: boolean } = {}): Promise<PartResult> {
  const result = emptyResult('hostile-input');
  const log = (line: string) => console.log(line);
  const cp = await privateControlPlane();
  const [health, metrics, webhook] = [await freePort(), await freePort(), await freePort()];
  const manager = startManagerProcess({
    args: [
      '--kubeconfig',
      cp.kubeconfigPath,
      '--namespace',
      'default',
      '--leader-elect=false',
      '--health-probe-bind-address',
      `127.0.0.1:${health}`,
      '--metrics-bind-address',
      `127.0.0.1:${metrics}`,
      '--webhook-bind-address',
      `127.0.0.1:${webhook}`,
      '--webhook-url',
      `https://127.0.0.1:${webhook}`,
      '--log-level',
      'error',
    ],
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  manager.child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-20_000)));
  const exit = () =>
    manager.running
      ? undefined
      : `the manager exited (${manager.child.signalCode ?? manager.child.exitCode}): ${stderr.slice(-2000)}`;
  const ready = () => readyz(health, 5000);
  let peakSeen = 0;
  const sample = setInterval(() => {
    if (manager.child.pid && manager.running) {
      rssMb(manager.child.pid).then(
        (r) => (peakSeen = Math.max(peakSeen, r.now)),
        () => {},
      );
    }
  }, 500);
  try {
    await manager.waitReady(health, { exitMessage: () => exit()! });
    const baseline = await rssMb(manager.child.pid!);
    log(`# hostile input: manager ready, RSS ${baseline.now} MB`);
    const corpus = await runCorpus({
      kubeconfig: cp.kubeconfigPath,
      quick: opts.quick,
      concurrency: 4,
      streamIntervalMs: 200,
      managerProblem: async () =>
        exit() ?? ((await ready()) ? undefined : 'the manager answered /readyz with an error'),
      log,
    });
    const rss = await rssMb(manager.child.pid!);
    const failed = corpus.cases.filter((c) => !c.ok);
    result.badInputs = corpus.cases.length;
    result.claims = corpus.stream.claims;
    result.p99Ms = corpus.stream.p99Ms;
    result.passed =
      failed.length === 0 &&
      corpus.managerProblems.length === 0 &&
      corpus.stream.answered === corpus.stream.claims &&
      rss.peak < rssBoundMb;
    const groups = new Map<string, number>();
    for (const c of corpus.cases) groups.set(c.group, (groups.get(c.group) ?? 0) + 1);
    result.notes.push(
      `${corpus.cases.length} hostile inputs (${[...groups].map(([g, n]) => `${g} ${n}`).join(', ')}): ` +
        `${corpus.cases.length - failed.length} met their expectation`,
      ...failed.map((c) => `FAILED ${c.group}: ${c.name}: ${c.error}`),
      `manager: ${corpus.managerProblems.length === 0 ? 'never stopped, /readyz ok throughout' : corpus.managerProblems.join('; ')}`,
      `manager RSS: ${baseline.now} MB ready, peak ${Math.max(rss.peak, peakSeen)} MB (bound ${rssBoundMb} MB), ${rss.now} MB at the end`,
      `well-formed claims meanwhile: ${corpus.stream.answered}/${corpus.stream.claims} answered, ` +
        `p50 ${corpus.stream.p50Ms} ms, p99 ${corpus.stream.p99Ms} ms, max ${corpus.stream.maxMs} ms`,
      ...corpus.stream.slowest.map((c) => {
        const during = corpus.timeline.filter((t) => t.fromMs <= c.atMs + c.ms && t.toMs >= c.atMs);
        return `slow well-formed claim: created ${c.atMs} ms into the run, ${c.ms} ms to its address; cases running: ${during.map((t) => t.name).join(' | ')}`;
      }),
    );
  } catch (err) {
    result.passed = false;
    result.notes.push(`hostile input did not complete: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    clearInterval(sample);
    await manager.stop();
    await cp.stop();
  }
  return result;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await run({ quick: process.argv.includes('--quick') });
  for (const n of r.notes) console.log(n);
  console.log(
    JSON.stringify({ part: r.part, passed: r.passed, bad_inputs: r.badInputs, claims: r.claims, p99_ms: r.p99Ms }),
  );
  process.exit(r.passed ? 0 : 1);
}
