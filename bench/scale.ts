// How the in-cluster provider scales: bench:e2e at 1,000 and 5,000 claims (and 10,000 with --large), each on a
// fresh control plane, one JSON line per size, then how throughput at the largest size compares with the smallest.
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
const [first, last] = [results[0]!, results.at(-1)!];
console.log(
  `# throughput at ${last.claims} claims is ${Math.round((last.claims_per_s / first.claims_per_s) * 100)} % of that at ${first.claims}`,
);
