// How the in-cluster provider scales: bench:e2e at 1,000 and 5,000 claims (and 10,000 with --large), each on a
// fresh control plane, one JSON line per size, then a table of the figures per claim across sizes (flat is the goal:
// issue 22) and how throughput at the largest size compares with the smallest.
//
//   npm run bench:scale -- [--large] [--concurrency C] [--workers W]
import { parseArgs } from 'node:util';
import { buildManager, describeRun, runE2E, type RunResult } from './e2e-run.ts';

const { values } = parseArgs({
  options: {
    large: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '32' },
    workers: { type: 'string' },
  },
});
const sizes = values.large ? [1000, 5000, 10_000] : [1000, 5000];
await buildManager((line) => console.log(line));
const results: RunResult[] = [];
for (const claims of sizes) {
  const r = await runE2E({
    claims,
    concurrency: Number(values.concurrency),
    workers: values.workers === undefined ? undefined : Number(values.workers),
    log: (line) => console.log(line),
  });
  for (const line of describeRun(r)) console.log(`# ${line}`);
  console.log(JSON.stringify(r));
  results.push(r);
}
console.log(
  '# | claims | claims/s | contract ceiling | ratio | p50 / p99 | peak RSS (idle) | manager CPU/claim | writes/claim | heap/claim |',
);
console.log('# |---|---|---|---|---|---|---|---|---|');
for (const r of results) {
  console.log(
    `# | ${r.claims} | ${r.claims_per_s} | ${r.ceiling.contract_best_claims_per_s} | ${r.ratio_to_ceiling} | ` +
      `${(r.p50_ms / 1000).toFixed(1)} / ${(r.p99_ms / 1000).toFixed(1)} s | ${r.peak_rss_mb} MB (${r.idle_peak_rss_mb} MB) | ` +
      `${r.manager_cpu_ms_per_claim} ms | ${r.writes_per_claim} | ${r.heap_per_claim_kb} KB |`,
  );
}
const [first, last] = [results[0]!, results.at(-1)!];
console.log(
  `# throughput at ${last.claims} claims is ${Math.round((last.claims_per_s / first.claims_per_s) * 100)} % of that at ${first.claims}`,
);
