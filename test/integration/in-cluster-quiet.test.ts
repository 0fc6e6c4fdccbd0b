// A bound claim that is reconciled again (an unrelated annotation, a resync, a restart) costs reads at most: the
// manager's own request counters show no write to claims, IPAddresses, ledgers, reservations or Events.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Manager } from '../../src/runtime/index.ts';
import { Namespaces } from '../../src/kube/index.ts';
import type { ControlPlane } from '../../src/local/controlplane.ts';
import { privateControlPlane } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  createClaim,
  createPool,
  entriesOfPool,
  IPAddressClaims,
  IPAddresses,
  startInCluster,
  waitForAddress,
  type Harness,
} from './in-cluster-support.ts';

// Reservations: written by older releases only, never by this one (watched all the same).
const watched = [
  'ipaddressclaims',
  'ipaddressclaims/status',
  'ipaddresses',
  'ipaddressledgers',
  'ipaddressreservations',
  'events',
];

async function counter(
  mgr: Manager,
  name: string,
  match: (labels: Partial<Record<string, string | number>>) => boolean,
) {
  const metric = await mgr.registry.getSingleMetric(name)!.get();
  return metric.values.filter((v) => match(v.labels)).reduce((n, v) => n + v.value, 0);
}

describe('in-cluster provider: a bound claim is quiet', () => {
  let h: Harness;
  let mgr: Manager;
  let cp: ControlPlane;
  before(async () => {
    // Alone with its manager: another test file's manager could answer the claim and do the writes.
    cp = await privateControlPlane();
    const capture = { name: 'capture', setup: (m: Manager) => void (mgr = m) };
    // Entries whose IPAddress is seen are dropped by the sweep's tidy after staleAfterMs (30 s by default): 2 s here,
    // so that the claim below is at rest (its address held by its IPAddress alone) soon.
    h = await startInCluster({
      workers: 2,
      before: [capture],
      kubeconfig: cp.kubeconfigPath,
      provider: { staleAfterMs: 2_000 },
    });
  });
  after(async () => {
    await h?.stop();
    await cp?.stop();
  });

  it('re-reconciling a bound claim writes nothing', async () => {
    const ns = 'quiet';
    await h.client.resource(Namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await createPool(h.client, ns, 'p', { addresses: ['10.223.0.0/24'], prefix: 24 });
    await createClaim(h.client, ns, 'm-0', 'p');
    await waitForAddress(h.client, ns, 'm-0');
    const writes = () =>
      counter(mgr, 'rest_client_requests_total', (l) => l.method !== 'GET' && watched.includes(String(l.resource)));
    const reconciles = () =>
      counter(mgr, 'controller_runtime_reconcile_total', (l) => l.controller === 'ipaddressclaim');
    assert.ok((await writes()) >= 4, 'the allocation itself was counted');
    // At rest: the claim's ledger entry was dropped (its IPAddress seen), the ledger's fence raised past it.
    await waitFor(async (note) => note(await entriesOfPool(h.client, ns, 'p')).length === 0, {
      what: "the claim's ledger entry to be dropped",
    });
    const ledgerWrites = await counter(
      mgr,
      'rest_client_requests_total',
      (l) => l.method !== 'GET' && l.resource === 'ipaddressledgers',
    );
    assert.ok(ledgerWrites >= 1, 'the ledger writes were counted (so are any below)');
    // Settled: the claim's own last write has come back through the watch and been reconciled.
    let last = -1;
    await waitFor(
      async () => {
        const now = await writes();
        const same = now === last;
        last = now;
        return same;
      },
      { intervalMs: 500, what: 'writes to settle' },
    );

    const before = await writes();
    const reconciledBefore = await reconciles();
    for (let i = 0; i < 3; i++) {
      await h.client
        .resource(IPAddressClaims)
        .patch({ namespace: ns, name: 'm-0' }, { metadata: { annotations: { 'example.com/touch': String(i) } } });
      await waitFor(async () => (await reconciles()) >= reconciledBefore + i + 1, { what: `reconcile ${i + 1}` });
    }
    assert.equal(await writes(), before, 'writes during re-reconciles of a bound claim');
  });

  it('exposes what an operator alerts on: addresses per pool, claims by state, allocation time', async () => {
    const ns = 'metrics';
    await h.client.resource(Namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await createPool(h.client, ns, 'small', { addresses: ['10.223.1.1-10.223.1.2'], prefix: 24 });
    for (const m of ['a', 'b', 'c']) await createClaim(h.client, ns, m, 'small');
    // Two of the three get the two addresses (whichever reconciles first), the third waits.
    await waitFor(
      async () =>
        (await h.client.resource(IPAddresses).listAll({ namespace: ns })).items.length === 2 ? true : undefined,
      { what: 'two IPAddresses' },
    );
    const pool = (state: string) =>
      counter(mgr, 'cluster_ipam_pool_addresses', (l) => l.namespace === ns && l.name === 'small' && l.state === state);
    await waitFor(async () => (await pool('free')) === 0 && (await pool('used')) === 2, { what: 'pool gauges' });
    assert.equal(await pool('total'), 2);
    await waitFor(
      async () =>
        (await counter(mgr, 'cluster_ipam_claims', (l) => l.state === 'pending' && l.reason === 'PoolExhausted')) === 1,
      { what: 'the exhausted claim counted as pending' },
    );
    assert.ok((await counter(mgr, 'cluster_ipam_claims', (l) => l.state === 'bound')) >= 2);
    const observed = await counter(
      mgr,
      'cluster_ipam_allocation_duration_seconds',
      (l) => l.pool_kind === 'InClusterIPPool',
    );
    assert.ok(observed > 0, 'allocation time observed');
  });
});
