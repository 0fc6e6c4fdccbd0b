// The API server's ceiling for the Cluster API IPAM contract, with no controller at all: on a fresh local control
// plane, N of each write a claim needs are sent the way a manager sends them (32 at a time), one kind after the
// other, while informers watch claims, IPAddresses and reservations as a manager's would. From the rate of each
// write, the best claims/s any implementation could reach here (every write back to back, nothing else), without and
// with the uniqueness reservation, and each as a ratio to the raw ConfigMap rate of the same run — what bench:e2e's
// ratio_to_raw should be read against. The last line is one JSON object.
//
//   npm run bench:ceiling -- [--claims N] [--concurrency C]
import { parseArgs } from 'node:util';
import {
  IPAddressClaims,
  IPAddresses,
  IPAddressReservations,
  ipAddressReservationKind,
  type IPAddressClaim,
} from '../src/api/index.ts';
import { ipAddressFor } from '../src/providers/claims.ts';
import { ConfigMaps, KubeClient, Namespaces } from '../src/kube/index.ts';
import { Informer } from '../src/runtime/index.ts';
import { privateControlPlane } from '../test/support/cluster.ts';
import { parallel } from './e2e-run.ts';

const { values } = parseArgs({
  options: {
    claims: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
  },
});
const n = Number(values.claims);
const width = Number(values.concurrency);
const ns = 'ceiling';
const pool = { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'pool' };

console.log('# starting a local control plane');
const cp = await privateControlPlane();
const client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
const stop = new AbortController();
try {
  await client.resource(Namespaces).create({ metadata: { name: ns } });
  const informers = [IPAddressClaims, IPAddresses, IPAddressReservations].map((t) => {
    const i = new Informer(client.resource(t as typeof IPAddressClaims));
    void i.run(stop.signal);
    return i;
  });
  for (const i of informers) await i.waitForSync();

  const claims: IPAddressClaim[] = [];
  const rates: Record<string, number> = {};
  async function measure(what: string, write: (i: number) => Promise<void>): Promise<void> {
    const started = performance.now();
    await parallel(n, width, write);
    rates[what] = n / ((performance.now() - started) / 1000);
    console.log(`# ${what}: ${Math.round(rates[what])}/s`);
  }
  const address = (i: number) => `10.0.${i >> 8}.${i & 255}`;

  // A fresh API server is slower for its first thousand writes: warm it up, then take the raw rate before and after
  // the claim's writes (their mean is the figure).
  const rawRound = (round: string) => async (i: number) => {
    await client
      .resource(ConfigMaps)
      .create({ metadata: { namespace: ns, name: `cm-${round}-${i}` }, data: { i: String(i) } });
  };
  await parallel(n, width, rawRound('warm-up'));
  await measure('configmap POST (raw, before)', rawRound('before'));
  await measure('claim POST', async (i) => {
    claims[i] = await client.resource(IPAddressClaims).create({
      apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
      kind: 'IPAddressClaim',
      metadata: { namespace: ns, name: `c-${i}` },
      spec: { poolRef: pool },
    });
  });
  await measure('claim finalizer PATCH', async (i) => {
    const c = claims[i]!;
    claims[i] = await client.resource(IPAddressClaims).patch(
      { namespace: ns, name: c.metadata.name! },
      {
        metadata: {
          finalizers: ['ipam.cluster.x-k8s.io/ReleaseAddress'],
          resourceVersion: c.metadata.resourceVersion,
        },
      },
    );
  });
  await measure('reservation POST', async (i) => {
    const c = claims[i]!;
    await client.resource(IPAddressReservations).create({
      apiVersion: `${ipAddressReservationKind.group}/${ipAddressReservationKind.version}`,
      kind: 'IPAddressReservation',
      metadata: { name: `ipv4-${address(i).replaceAll('.', '-')}.ns.${ns}` },
      spec: {
        address: address(i),
        domain: `namespace/${ns}`,
        poolRef: { ...pool, namespace: ns },
        claimRef: { namespace: ns, name: c.metadata.name!, uid: c.metadata.uid! },
      },
    });
  });
  const poolObj = {
    apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
    kind: 'InClusterIPPool',
    metadata: { namespace: ns, name: 'pool', uid: '00000000-0000-0000-0000-000000000001' },
  };
  await measure('IPAddress POST', async (i) => {
    await client
      .resource(IPAddresses)
      .create(ipAddressFor(claims[i]!, poolObj, { address: address(i), prefix: 16, gateway: '10.0.0.1' }));
  });
  await measure('claim status PATCH', async (i) => {
    const c = claims[i]!;
    await client.resource(IPAddressClaims).patchStatus(
      { namespace: ns, name: c.metadata.name! },
      {
        metadata: { resourceVersion: c.metadata.resourceVersion },
        status: {
          addressRef: { name: c.metadata.name! },
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              reason: 'AddressAllocated',
              message: `IPAddress ${c.metadata.name} allocated`,
              lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
            },
          ],
        },
      },
    );
  });

  await measure('configmap POST (raw, after)', rawRound('after'));

  const secondsPerClaim = (kinds: string[]) => kinds.reduce((s, k) => s + 1 / rates[k]!, 0);
  const contract = ['claim POST', 'claim finalizer PATCH', 'IPAddress POST', 'claim status PATCH'];
  const best = 1 / secondsPerClaim(contract);
  const bestReserved = 1 / secondsPerClaim([...contract, 'reservation POST']);
  const raw = (rates['configmap POST (raw, before)']! + rates['configmap POST (raw, after)']!) / 2;
  const result = {
    claims: n,
    concurrency: width,
    raw_writes_per_s: Math.round(raw),
    writes_per_s: Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, Math.round(v)])),
    contract_best_claims_per_s: Math.round(best),
    contract_best_ratio_to_raw: Math.round((best / raw) * 1000) / 1000,
    with_reservation_best_claims_per_s: Math.round(bestReserved),
    with_reservation_best_ratio_to_raw: Math.round((bestReserved / raw) * 1000) / 1000,
  };
  console.log(
    `best claims/s with the contract's writes only (claim create, finalizer, IPAddress, status): ` +
      `${result.contract_best_claims_per_s} = ${result.contract_best_ratio_to_raw} × raw; with a reservation per claim: ` +
      `${result.with_reservation_best_claims_per_s} = ${result.with_reservation_best_ratio_to_raw} × raw`,
  );
  console.log(JSON.stringify(result));
} finally {
  stop.abort();
  client.close();
  await cp.stop();
}
