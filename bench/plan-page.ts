// What one GET of the address-plan page (and of /plan.json) costs with many holders: the plan and its rendering
// from objects as the manager's informers hold them, built afresh, then through the manager's cache (PlanCache).
// Timed in this process, no control plane: the time a GET holds the manager's event loop.
//
//   npm run bench:plan-page -- [--holders N] [--pools P]
import { parseArgs } from 'node:util';
import type { IPAddressClaim, IPAddressReservation } from '../src/api/index.ts';
import { ipAddressFor } from '../src/providers/claims.ts';
import type { PoolObject } from '../src/providers/in-cluster/pools.ts';
import { PlanCache, planFromObjects, planRebuildIntervalMs } from '../src/plan-page/serve.ts';
import { renderJSON, renderPage } from '../src/plan-page/render.ts';
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
const sources = { pools, ipAddresses, ledgers: [], reservations, claims, clusterDeployments: [] };

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
// As the manager serves it: a GET of an unchanged plan, and one within a second of a change, send the last build.
const cache = new PlanCache(() => planFromObjects(sources));
const [, firstMs] = timed(() => cache.html());
const [, againMs] = timed(() => cache.html());
cache.invalidate();
const [, changedMs] = timed(() => cache.html());
console.log(
  `GET / through the manager's cache: first ${ms(firstMs)}, unchanged ${ms(againMs)}, ` +
    `changed within ${planRebuildIntervalMs} ms of the last build ${ms(changedMs)}`,
);
