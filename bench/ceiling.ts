// The API server's ceiling for the Cluster API IPAM contract on a fresh local control plane, with no controller at
// all (ceiling-run.ts): the best claims/s any implementation could reach here, without and with the uniqueness
// reservation, and each as a ratio to the raw ConfigMap rate of the same run — what bench:e2e's ratio_to_raw should
// be read against. The last line is one JSON object.
//
//   npm run bench:ceiling -- [--claims N] [--concurrency C]
import { parseArgs } from 'node:util';
import { KubeClient } from '../src/kube/index.ts';
import { privateControlPlane } from '../test/support/cluster.ts';
import { contractCeiling } from './ceiling-run.ts';

const { values } = parseArgs({
  options: {
    claims: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
  },
});

console.log('# starting a local control plane');
const cp = await privateControlPlane();
const client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
try {
  const result = await contractCeiling(client, {
    ns: 'ceiling',
    claims: Number(values.claims),
    concurrency: Number(values.concurrency),
    warmUp: true,
    log: (line) => console.log(line),
  });
  console.log(
    `best claims/s with the contract's writes only (claim create, finalizer, IPAddress, status): ` +
      `${result.contract_best_claims_per_s} = ${result.contract_best_ratio_to_raw} × raw; with a reservation per claim: ` +
      `${result.with_reservation_best_claims_per_s} = ${result.with_reservation_best_ratio_to_raw} × raw`,
  );
  console.log(JSON.stringify(result));
} finally {
  client.close();
  await cp.stop();
}
