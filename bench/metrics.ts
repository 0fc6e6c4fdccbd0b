// What one Prometheus scrape of the manager's registry costs with N claims in the cache: the runtime's metrics of
// the manager's controllers and the IPAM metrics, whose claim counts are taken from the cache at each scrape. Timed in
// this process, no control plane: the time a GET /metrics holds the manager's event loop.
//
//   npm run bench:metrics -- [--claims N]
import { parseArgs } from 'node:util';
import type { IPAddressClaim } from '../src/api/index.ts';
import { IPAMMetrics } from '../src/controllers/ipam-metrics.ts';
import type { Manager } from '../src/runtime/index.ts';
import { RuntimeMetrics } from '../src/runtime/metrics.ts';

const { values } = parseArgs({ options: { claims: { type: 'string', default: '10000' } } });
for (const n of [0, Number(values.claims)]) {
  const runtime = new RuntimeMetrics();
  for (const c of ['ipaddressclaim', 'inclusterippool', 'globalinclusterippool', 'clusteripam', 'clusteripamclaim']) {
    runtime.controller(c, 8);
  }
  const reasons = ['AddressAllocated', 'AddressAllocated', 'AddressAllocated', 'PoolExhausted'];
  const claims: IPAddressClaim[] = Array.from({ length: n }, (_, i) => ({
    apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
    kind: 'IPAddressClaim',
    metadata: { namespace: 'bench', name: `m-${i}` },
    spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'pool' } },
    status: {
      addressRef: { name: `m-${i}` },
      conditions: [
        {
          type: 'Ready',
          status: i % 4 === 3 ? 'False' : 'True',
          reason: reasons[i % 4]!,
          message: '',
          lastTransitionTime: '2026-12-06T00:00:00Z',
        },
      ],
    },
  }));
  // Only what IPAMMetrics reads of a manager: its registry and the claims' informer.
  new IPAMMetrics({ registry: runtime.registry, informer: () => ({ list: () => claims }) } as unknown as Manager);
  const times: string[] = [];
  for (let round = 0; round < 5; round++) {
    const started = performance.now();
    await runtime.registry.metrics();
    times.push((performance.now() - started).toFixed(1));
  }
  console.log(`${n} claims: one scrape ${times.join(', ')} ms`);
}
