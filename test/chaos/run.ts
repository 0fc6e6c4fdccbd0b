// `npm run test:chaos` (`tsx test/chaos/run.ts [--quick] [--only part,part]`): runs the chaos suite's parts one
// after the other — failover, appliance, ownership, hostile input, security (each a module of test/chaos that exports
// `run({quick})`; a part whose module is not there is skipped and said so) — prints a human summary and, as the
// very last line, one JSON object with the totals. Exit code 1 if any part failed.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { emptyResult, type PartResult } from './summary.ts';

const here = dirname(fileURLToPath(import.meta.url));

interface PartModule {
  run(opts: { quick?: boolean }): Promise<PartResult>;
}

/** The parts, in the order they run: a name, other names --only accepts, and where its module may be. */
export const parts = [
  { name: 'failover', aliases: [], files: ['failover.ts'] },
  { name: 'appliance', aliases: ['appliance-faults'], files: ['appliance.ts'] },
  { name: 'ownership', aliases: [], files: ['ownership.ts'] },
  { name: 'hostile', aliases: ['hostile-input'], files: ['hostile.ts', 'hostile/index.ts'] },
  { name: 'security', aliases: [], files: ['security.ts'] },
] as const;

export interface Totals {
  passed: boolean;
  claims: number;
  leader_kills: number;
  apiserver_restarts: number;
  partitions: number;
  faults_injected: number;
  faults: Record<string, number>;
  bad_inputs: number;
  duplicates: number;
  leaks: number;
  stuck: number;
  /** The worst p99 (ms) any part measured while its faults or inputs were applied. */
  p99_ms: number | null;
  parts: { part: string; passed: boolean; p99_ms: number | null }[];
  skipped: string[];
}

/** Adds the parts' results up into the summary's JSON object. */
export function totals(results: readonly PartResult[], skipped: readonly string[] = []): Totals {
  const faults: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + v;
  const sum = (f: (r: PartResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const p99s = results.map((r) => r.p99Ms).filter((v): v is number => v !== undefined);
  return {
    passed: results.length > 0 && results.every((r) => r.passed),
    claims: sum((r) => r.claims),
    leader_kills: sum((r) => r.leaderKills),
    apiserver_restarts: sum((r) => r.apiserverRestarts),
    partitions: sum((r) => r.partitions),
    faults_injected: Object.values(faults).reduce((a, b) => a + b, 0),
    faults,
    bad_inputs: sum((r) => r.badInputs),
    duplicates: sum((r) => r.duplicates),
    leaks: sum((r) => r.leaks),
    stuck: sum((r) => r.stuck),
    p99_ms: p99s.length ? Math.max(...p99s) : null,
    parts: results.map((r) => ({ part: r.part, passed: r.passed, p99_ms: r.p99Ms ?? null })),
    skipped: [...skipped],
  };
}

/** The human summary (everything but the JSON line). */
export function summary(results: readonly PartResult[], t: Totals): string[] {
  const lines = ['', '== chaos suite summary =='];
  for (const r of results) {
    lines.push(`-- ${r.part}: ${r.passed ? 'passed' : 'FAILED'}`);
    for (const n of r.notes) lines.push(...n.split('\n').map((l) => `   ${l}`));
  }
  for (const s of t.skipped) lines.push(`-- ${s}: skipped (module not present)`);
  const kinds = Object.entries(t.faults)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  lines.push(
    `load held: ${t.claims} claims`,
    `faults injected: ${t.faults_injected}${kinds ? ` (${kinds})` : ''}; leader kills ${t.leader_kills}, API server restarts ${t.apiserver_restarts}, partitions ${t.partitions}`,
    `bad inputs tried: ${t.bad_inputs}`,
    `duplicates: ${t.duplicates}, leaks: ${t.leaks}, stuck finalizers: ${t.stuck}`,
    `p99 claim→address during faults: ${t.p99_ms === null ? '-' : `${t.p99_ms} ms`}`,
    `result: ${t.passed ? 'PASSED' : 'FAILED'}`,
  );
  return lines;
}

function failed(part: string, err: unknown): PartResult {
  const why = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return { ...emptyResult(part), passed: false, notes: [`FAILED: the part threw: ${why}`] };
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`usage: tsx test/chaos/run.ts [--quick] [--only ${parts.map((p) => p.name).join(',')}]\n`);
    return 0;
  }
  const only = values.only
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = only?.filter((o) => !parts.some((p) => p.name === o || (p.aliases as readonly string[]).includes(o)));
  if (unknown?.length) {
    process.stderr.write(`unknown part(s): ${unknown.join(', ')}; parts: ${parts.map((p) => p.name).join(', ')}\n`);
    return 2;
  }
  const chosen = parts.filter((p) => !only || only.includes(p.name) || p.aliases.some((a) => only.includes(a)));
  const results: PartResult[] = [];
  const skipped: string[] = [];
  for (const part of chosen) {
    const file = part.files.map((f) => join(here, f)).find((f) => existsSync(f));
    if (!file) {
      skipped.push(part.name);
      process.stderr.write(`# ${part.name}: skipped, no ${part.files.join(' or ')} in test/chaos\n`);
      continue;
    }
    const t0 = Date.now();
    process.stderr.write(`# ${part.name}: running${values.quick ? ' (quick)' : ''}\n`);
    let result: PartResult;
    try {
      const mod = (await import(pathToFileURL(file).href)) as PartModule;
      result = await mod.run({ quick: values.quick });
    } catch (err) {
      result = failed(part.name, err);
    }
    process.stderr.write(
      `# ${part.name}: ${result.passed ? 'passed' : 'FAILED'} in ${Math.round((Date.now() - t0) / 1000)}s\n`,
    );
    results.push(result);
  }
  // A part asked for by name that is not there fails the run: "skipped" must not read as "passed".
  const missingAsked = only ? skipped : [];
  const t = totals(results, skipped);
  if (missingAsked.length) t.passed = false;
  for (const line of summary(results, t)) process.stdout.write(`${line}\n`);
  process.stdout.write(`${JSON.stringify(t)}\n`);
  return t.passed ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // Parts leave nothing running, but a stuck handle must not keep a finished run alive.
  process.exit(await main(process.argv.slice(2)));
}
