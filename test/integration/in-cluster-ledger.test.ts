// The IPAddressLedgers on the real API server: claims arriving together share ledger writes and still get the
// lowest free addresses, across the boundary of two ledgers' blocks; and a cluster upgraded from a release that wrote
// one IPAddressReservation per address keeps every address, its reservations imported into the ledgers and deleted.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IPAddressReservation } from '../../src/api/index.ts';
import { KubeClient, Namespaces } from '../../src/kube/index.ts';
import type { ControlPlane } from '../../src/local/controlplane.ts';
import type { Manager } from '../../src/runtime/index.ts';
import { privateControlPlane } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  bareIPAddress,
  claimObject,
  createClaim,
  createPool,
  entriesOfPool,
  IPAddressClaims,
  IPAddresses,
  IPAddressLedgers,
  IPAddressReservations,
  startInCluster,
  waitForAddress,
} from './in-cluster-support.ts';

async function counter(mgr: Manager, name: string, match: (labels: Record<string, unknown>) => boolean) {
  const metric = await mgr.registry.getSingleMetric(name)!.get();
  return metric.values.filter((v) => match(v.labels)).reduce((n, v) => n + v.value, 0);
}

describe('in-cluster provider: the ledgers', () => {
  // Alone with its managers: another test file's manager would serve these claims and write these ledgers.
  let cp: ControlPlane;
  let client: KubeClient;
  before(async () => {
    cp = await privateControlPlane();
    client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
  });
  after(async () => {
    client?.close();
    await cp?.stop();
  });
  const namespace = async (name: string) => {
    await client.resource(Namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    return name;
  };

  it('claims created together get the lowest free addresses across two blocks, several per ledger write', async () => {
    let mgr!: Manager;
    const capture = { name: 'capture', setup: (m: Manager) => void (mgr = m) };
    const h = await startInCluster({ before: [capture], kubeconfig: cp.kubeconfigPath });
    try {
      const ns = await namespace('batch');
      await createPool(client, ns, 'p', { addresses: ['10.230.0.200-10.230.1.99'], prefix: 16 });
      const claims = Array.from({ length: 100 }, (_, i) => claimObject(ns, `m-${i}`, 'p'));
      await Promise.all(claims.map((c) => client.resource(IPAddressClaims).create(c)));
      const all = await waitFor(
        async (note) => {
          const { items } = await client.resource(IPAddresses).listAll({ namespace: ns });
          note(`${items.length} IPAddresses`);
          return items.length === claims.length ? items : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 500, what: `${claims.length} IPAddresses` },
      );
      // Exactly the 100 lowest: 56 of the first block, 44 of the next, each once.
      const lowest = [
        ...Array.from({ length: 56 }, (_, i) => `10.230.0.${200 + i}`),
        ...Array.from({ length: 44 }, (_, i) => `10.230.1.${i}`),
      ];
      assert.deepEqual(all.map((a) => a.spec.address).sort(), lowest.sort());

      // Each address has its entry in its block's ledger, for the claim whose IPAddress carries it.
      const entries = (await entriesOfPool(client, 'p')).filter((e) => e.claimRef.namespace === ns);
      assert.equal(entries.length, 100);
      for (const e of entries) {
        assert.equal(all.find((a) => a.metadata.name === e.claimRef.name)?.spec.address, e.address);
        assert.equal(
          e.ledger,
          e.address.startsWith('10.230.0.') ? `ipv4-10-230-0-0-24.ns.${ns}` : `ipv4-10-230-1-0-24.ns.${ns}`,
        );
      }
      // One write served several claims: far fewer ledger writes than claims, each entry written once.
      const writes = await counter(
        mgr,
        'rest_client_requests_total',
        (l) => l.resource === 'ipaddressledgers' && (l.method === 'PATCH' || l.method === 'POST') && l.code !== 409,
      );
      const written = await counter(mgr, 'cluster_ipam_ledger_entries_written_total', () => true);
      assert.equal(written, 100, 'entries written');
      assert.ok(writes <= 50, `${writes} successful ledger writes for 100 claims`);
      const everyWrite = await counter(mgr, 'rest_client_requests_total', (l) =>
        ['POST', 'PATCH', 'PUT', 'DELETE'].includes(String(l.method)),
      );
      console.log(`# 100 claims: ${writes} successful ledger writes, ${everyWrite / 100} writes per claim in all`);
    } finally {
      await h.stop();
    }
  });

  it('an upgrade from reservations keeps every address: they are imported into the ledgers, then deleted', async () => {
    const ns = await namespace('upgrade');
    const pool = await createPool(client, ns, 'p', {
      addresses: ['10.231.0.1-10.231.0.20'],
      prefix: 24,
      addressReuseGracePeriodSeconds: 3600,
    });
    // What the previous release left: a claim with its reservation and IPAddress (bound), one interrupted between
    // its reservation and its IPAddress, and a released address in its grace period whose claim is gone.
    const [bound, interrupted] = await Promise.all(
      ['bound', 'interrupted'].map((m) => createClaim(client, ns, m, 'p')),
    );
    const reservation = (address: string, claim: string, uid: string, releasedAt?: string): IPAddressReservation => ({
      apiVersion: 'ipam.k0rdent.mirantis.com/v1alpha1',
      kind: 'IPAddressReservation',
      metadata: { name: `ipv4-${address.replaceAll('.', '-')}.ns.${ns}` },
      spec: {
        address,
        domain: `namespace/${ns}`,
        poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', namespace: ns, name: 'p' },
        claimRef: { namespace: ns, name: claim, uid },
        ...(releasedAt ? { releasedAt } : {}),
      },
    });
    const released = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    for (const r of [
      reservation('10.231.0.1', 'bound', bound!.metadata.uid!),
      reservation('10.231.0.2', 'interrupted', interrupted!.metadata.uid!),
      reservation('10.231.0.3', 'gone', 'uid-of-a-deleted-claim', released),
    ])
      await client.resource(IPAddressReservations).create(r);
    const ipa = await client
      .resource(IPAddresses)
      .create(bareIPAddress(ns, 'bound', 'p', pool.metadata.uid!, bound!.metadata.uid!, '10.231.0.1'));

    const h = await startInCluster({ kubeconfig: cp.kubeconfigPath });
    try {
      await createClaim(client, ns, 'fresh', 'p');
      assert.equal((await waitForAddress(client, ns, 'bound')).metadata.uid, ipa.metadata.uid, 'IPAddress kept');
      assert.equal((await waitForAddress(client, ns, 'interrupted')).spec.address, '10.231.0.2');
      // Not .1-.3: the reservations counted as holders before their import.
      assert.equal((await waitForAddress(client, ns, 'fresh')).spec.address, '10.231.0.4');

      await waitFor(
        async (note) => {
          const left = (await client.resource(IPAddressReservations).listAll()).items;
          note(`${left.length} reservations left`);
          return left.length === 0;
        },
        { what: 'the reservations to be imported and deleted' },
      );
      const entries = Object.fromEntries(
        (await entriesOfPool(client, 'p'))
          .filter((e) => e.claimRef.namespace === ns)
          .map((e) => [e.address, [e.claimRef.name, e.releasedAt !== undefined]]),
      );
      assert.deepEqual(entries, {
        '10.231.0.1': ['bound', false],
        '10.231.0.2': ['interrupted', false],
        '10.231.0.3': ['gone', true],
        '10.231.0.4': ['fresh', false],
      });
      const ledger = await client.resource(IPAddressLedgers).get({ name: `ipv4-10-231-0-0-24.ns.${ns}` });
      assert.equal(ledger.spec.entries?.['10.231.0.3']?.releasedAt, released, 'still in its grace period');
    } finally {
      await h.stop();
    }
  });
});
