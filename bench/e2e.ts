// End-to-end throughput and memory of the in-cluster provider (see e2e-run.ts). The last line is one JSON object.
//
//   npm run bench:e2e -- [--claims N] [--concurrency C] [--workers W] [--profile DIR] [--heap-snapshot DIR]
//                        [--node-flags="--max-semi-space-size=4 ..."] [--ceiling-claims N]
import { parseArgs } from 'node:util';
import { buildManager, describeRun, runE2E } from './e2e-run.ts';

const { values } = parseArgs({
  options: {
    claims: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    workers: { type: 'string' },
    profile: { type: 'string' },
    'heap-snapshot': { type: 'string' },
    'node-flags': { type: 'string' },
    'ceiling-claims': { type: 'string' },
  },
});
await buildManager((line) => console.log(line));
const result = await runE2E({
  claims: Number(values.claims),
  concurrency: Number(values.concurrency),
  workers: values.workers === undefined ? undefined : Number(values.workers),
  profileDir: values.profile,
  heapSnapshotDir: values['heap-snapshot'],
  nodeFlags: values['node-flags']?.split(/\s+/).filter(Boolean),
  ceilingClaims: values['ceiling-claims'] ? Number(values['ceiling-claims']) : undefined,
  log: (line) => console.log(line),
});
for (const line of describeRun(result)) console.log(line);
console.log(JSON.stringify(result));
