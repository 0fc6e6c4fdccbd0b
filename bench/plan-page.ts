// What one GET of the address-plan page (and of /plan.json) costs with many holders: the plan and its rendering
// from objects as the manager's informers hold them, built afresh at once, then through the manager's cache
// (PlanCache), which runs them in slices: how long the event loop waited meanwhile, and the longest step in CPU time
// (what a slice can hold the event loop for). In this process, no control plane.
//
//   npm run bench:plan-page -- [--holders N] [--pools P]
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { IPAddressClaim, IPAddressReservation } from '../src/api/index.ts';
import { ipAddressFor } from '../src/providers/claims.ts';
import type { PoolObject } from '../src/providers/in-cluster/pools.ts';
import { PlanCache, planFromObjects, planFromObjectsSteps, planRebuildIntervalMs } from '../src/plan-page/serve.ts';
import { renderJSON, renderJSONSteps, renderPage, renderPageSteps } from '../src/plan-page/render.ts';
import type { Steps } from '../src/plan-page/steps.ts';
import { reservationOf } from './ceiling-run.ts';

const { values } = parseArgs({
  options: { holders: { type: 'string', default: '10000' }, pools: { type: 'string', default: '1' } },
});
const holders = Number(values.holders);
const poolCount = Number(values.pools);
const ns = 'bench';
// P pools of one namespace (one address domain), each a /16 of its own, the holders spread over them.
const pools: PoolObject[] = Array.from({ length: poolCount }, (_, p) => ({
  apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
  kind: 'InClusterIPPool',
  metadata: { namespace: ns, name: `pool-${p}`, uid: `00000000-0000-0000-0000-${String(p).padStart(12, '0')}` },
  spec: { addresses: [`10.${p}.0.0/16`], prefix: 16, gateway: `10.${p}.0.1` },
}));
const claims: IPAddressClaim[] = [];
const reservations: IPAddressReservation[] = [];
const ipAddresses = [];
for (let i = 0; i < holders; i++) {
  const pool = pools[i % poolCount]!;
  const n = Math.floor(i / poolCount) + 2;
  const address = `10.${i % poolCount}.${n >> 8}.${n & 255}`;
  const poolRef = { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: pool.metadata.name! };
  const claim: IPAddressClaim = {
    apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
    kind: 'IPAddressClaim',
    metadata: { namespace: ns, name: `m-${i}`, uid: `claim-${i}`, labels: { 'cluster.x-k8s.io/cluster-name': 'c1' } },
    spec: { poolRef },
    status: { addressRef: { name: `m-${i}` } },
  };
  claims.push(claim);
  ipAddresses.push(ipAddressFor(claim, pool, { address, prefix: 16, gateway: `10.${i % poolCount}.0.1` }));
  reservations.push(reservationOf(claim, address));
}
const sources = { pools, ipAddresses, reservations, claims, clusterDeployments: [], ledgers: [] };

function timed<T>(fn: () => T): [T, number] {
  const started = performance.now();
  const out = fn();
  return [out, performance.now() - started];
}
const ms = (n: number) => `${n.toFixed(n < 10 ? 1 : 0)} ms`;
for (let round = 0; round < 3; round++) {
  const [plan, planMs] = timed(() => planFromObjects(sources));
  const [html, pageMs] = timed(() => renderPage(plan, new Date().toISOString()));
  const [json, jsonMs] = timed(() => renderJSON(plan, new Date().toISOString()));
  console.log(
    `${holders} holders in ${poolCount} pool(s), built afresh: plan ${ms(planMs)}, page ${ms(pageMs)} ` +
      `(${(html.length / 2 ** 20).toFixed(1)} MB), JSON ${ms(jsonMs)} (${(json.length / 2 ** 20).toFixed(1)} MB)`,
  );
}
// As the manager serves it: built in slices, the longest the event loop waited meanwhile; then a GET of an unchanged
// plan, and one within a second of a change, which send the last build.
const cache = new PlanCache(() => planFromObjectsSteps(sources));
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
const started = performance.now();
await Promise.all([cache.html(), cache.json()]);
const firstMs = performance.now() - started;
delay.disable();
const [, againMs] = await timedAsync(() => cache.html());
cache.invalidate();
const [, changedMs] = await timedAsync(() => cache.html());
console.log(
  `GET / and /plan.json through the manager's cache: first ${ms(firstMs)} (the event loop waited at most ` +
    `${ms(delay.max / 1e6)} meanwhile), unchanged ${ms(againMs)}, changed within ${planRebuildIntervalMs} ms of the ` +
    `last build ${ms(changedMs)}`,
);

// The longest step in CPU time: a slice runs whole steps, so this (not the wall clock of a busy machine) is what a
// build can hold the event loop for beyond the slice.
function longestStepMs<T>(steps: Steps<T>): [T, number] {
  let longest = 0;
  for (;;) {
    const before = process.cpuUsage();
    const r = steps.next();
    const spent = process.cpuUsage(before);
    longest = Math.max(longest, (spent.user + spent.system) / 1000);
    if (r.done) return [r.value, longest];
  }
}
const [plan, planStep] = longestStepMs(planFromObjectsSteps(sources));
const [, pageStep] = longestStepMs(renderPageSteps(plan, new Date().toISOString()));
const [, jsonStep] = longestStepMs(renderJSONSteps(plan, new Date().toISOString()));
console.log(`longest step in CPU time: plan ${ms(planStep)}, page ${ms(pageStep)}, JSON ${ms(jsonStep)}`);

async function timedAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const at = performance.now();
  const out = await fn();
  return [out, performance.now() - at];
}
