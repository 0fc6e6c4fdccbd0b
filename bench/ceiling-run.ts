// The API server's ceiling for the Cluster API IPAM contract, with no controller at all: N of each write a claim
// needs are sent the way a manager sends them (`concurrency` at a time), one kind after the other, while informers
// watch claims, IPAddresses and reservations as a manager's would. From the rate of each write, the best claims/s any
// implementation could reach on this API server (every write back to back, nothing else): the contract's four
// writes combined harmonically, and the same with the uniqueness reservation. bench:ceiling runs it on a fresh
// control plane, bench:e2e and bench:scale on the control plane of their run once the manager is stopped.
import {
  IPAddressClaims,
  IPAddresses,
  IPAddressReservations,
  ipAddressReservationKind,
  type IPAddressClaim,
  type IPAddressReservation,
} from '../src/api/index.ts';
import { ConfigMaps, Namespaces, type KubeClient } from '../src/kube/index.ts';
import { ipAddressFor } from '../src/providers/claims.ts';
import { Informer } from '../src/runtime/index.ts';
import { parallel } from './e2e-run.ts';

export interface Ceiling {
  claims: number;
  concurrency: number;
  /** Raw ConfigMap creates/s. */
  raw_writes_per_s: number;
  writes_per_s: Record<string, number>;
  contract_best_claims_per_s: number;
  contract_best_ratio_to_raw: number;
  with_reservation_best_claims_per_s: number;
  with_reservation_best_ratio_to_raw: number;
}

/** The reservation the in-cluster provider makes for `claim` (of a pool in its namespace) on `address`. */
export function reservationOf(claim: IPAddressClaim, address: string): IPAddressReservation {
  const ns = claim.metadata.namespace!;
  return {
    apiVersion: `${ipAddressReservationKind.group}/${ipAddressReservationKind.version}`,
    kind: 'IPAddressReservation',
    metadata: { name: `ipv4-${address.replaceAll('.', '-')}.ns.${ns}` },
    spec: {
      address,
      domain: `namespace/${ns}`,
      poolRef: { ...claim.spec.poolRef, namespace: ns },
      claimRef: { namespace: ns, name: claim.metadata.name!, uid: claim.metadata.uid! },
    },
  };
}

/** The contract's four writes, as named in `writes_per_s`. */
export const contractWrites = ['claim POST', 'claim finalizer PATCH', 'IPAddress POST', 'claim status PATCH'];

/**
 * Measures the ceiling in namespace `ns` (created here). `warmUp`: a first round of ConfigMaps, for a fresh API
 * server, which is slower for its first thousand writes. The raw rate is the mean of a round before and one after.
 */
export async function contractCeiling(
  client: KubeClient,
  opts: { ns: string; claims: number; concurrency: number; warmUp?: boolean; log?: (line: string) => void },
): Promise<Ceiling> {
  const { ns, claims: n, concurrency: width } = opts;
  const log = opts.log ?? (() => {});
  const pool = { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'pool' };
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
      log(`# ${what}: ${Math.round(rates[what])}/s`);
    }
    const address = (i: number) => `10.0.${i >> 8}.${i & 255}`;

    const rawRound = (round: string) => async (i: number) => {
      await client
        .resource(ConfigMaps)
        .create({ metadata: { namespace: ns, name: `cm-${round}-${i}` }, data: { i: String(i) } });
    };
    if (opts.warmUp) await parallel(n, width, rawRound('warm-up'));
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
      await client.resource(IPAddressReservations).create(reservationOf(claims[i]!, address(i)));
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
    const best = 1 / secondsPerClaim(contractWrites);
    const bestReserved = 1 / secondsPerClaim([...contractWrites, 'reservation POST']);
    const raw = (rates['configmap POST (raw, before)']! + rates['configmap POST (raw, after)']!) / 2;
    return {
      claims: n,
      concurrency: width,
      raw_writes_per_s: Math.round(raw),
      writes_per_s: Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, Math.round(v)])),
      contract_best_claims_per_s: Math.round(best * 10) / 10,
      contract_best_ratio_to_raw: Math.round((best / raw) * 1000) / 1000,
      with_reservation_best_claims_per_s: Math.round(bestReserved * 10) / 10,
      with_reservation_best_ratio_to_raw: Math.round((bestReserved / raw) * 1000) / 1000,
    };
  } finally {
    stop.abort();
  }
}
