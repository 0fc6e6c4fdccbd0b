// The reservation path under injected faults, against the real API server: creates that are committed but whose
// answer is lost (a dropped connection after the POST), creates refused by overload (429), and GETs that fail after
// a 409 (503). Two managers serve the same claims, so 409s are frequent. Whatever happens, no address is handed
// out twice, every claim ends with an address, and every reservation belongs to the IPAddress of its claim.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { IPAddress } from '../../src/api/index.ts';
import { ApiError, Namespaces } from '../../src/kube/index.ts';
import { privateControlPlane } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  claimObject,
  conditionOf,
  createPool,
  InClusterIPPools,
  IPAddressClaims,
  IPAddresses,
  IPAddressReservations,
  reservationsSettle,
  startInCluster,
  suffix,
  waitForAddress,
  wrapClient,
  type Harness,
} from './in-cluster-support.ts';

interface Faults {
  lostCreates: number;
  refusedCreates: number;
  failedGets: number;
}

/**
 * Wraps the manager's reservation client: every 3rd create is committed and its answer lost, every 5th is refused
 * with 429 before reaching the server, and 2 of every 3 GETs fail with 503.
 */
function injectFaults(faults: Faults) {
  let creates = 0;
  let gets = 0;
  return wrapClient(IPAddressReservations, (real, faulty) => {
    faulty.create = async (obj, opts) => {
      creates++;
      if (creates % 5 === 0) {
        faults.refusedCreates++;
        throw new ApiError(429, { message: 'injected: too many requests', reason: 'TooManyRequests' } as never, 'POST');
      }
      const created = await real.create(obj, opts);
      if (creates % 3 === 0) {
        faults.lostCreates++;
        throw new Error('injected: socket hang up after the create was committed');
      }
      return created;
    };
    faulty.get = async (key, opts) => {
      if (++gets % 3 !== 0) {
        faults.failedGets++;
        throw new ApiError(
          503,
          { message: 'injected: service unavailable', reason: 'ServiceUnavailable' } as never,
          'GET',
        );
      }
      return real.get(key, opts);
    };
  });
}

describe('in-cluster provider: injected faults on the reservation path', () => {
  const running: Harness[] = [];
  after(async () => {
    for (const h of running) await h.stop();
  });

  it('never hands out an address twice, and every claim ends with one reservation of its own', async () => {
    // Alone with its managers: another test file's manager would answer claims without faults (and these faulty
    // managers would serve the other files' claims).
    const cp = await privateControlPlane();
    after(() => cp.stop());
    const ns = 'faults';
    const faults: Faults = { lostCreates: 0, refusedCreates: 0, failedGets: 0 };
    const faulty = injectFaults(faults);
    // The fault injector must wrap the client before the provider takes its reservation client.
    const opts = { provider: { staleAfterMs: 1000 }, before: [faulty], kubeconfig: cp.kubeconfigPath };
    const [a, b] = [await startInCluster(opts), await startInCluster(opts)];
    running.push(a, b);
    await a.client.resource(Namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const pool = `faults-${suffix()}`;
    await createPool(a.client, ns, pool, { addresses: ['10.221.0.0/24'], prefix: 24 });
    const claims = Array.from({ length: 60 }, (_, i) => claimObject(ns, `m-${i}`, pool));
    await Promise.all(claims.map((c) => a.client.resource(IPAddressClaims).create(c)));

    const all = await waitFor(
      async () => {
        const { items } = await a.client.resource(IPAddresses).listAll({ namespace: ns });
        return items.length === claims.length ? items : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: `${claims.length} IPAddresses` },
    );
    const addresses = all.map((i: IPAddress) => i.spec.address);
    assert.equal(new Set(addresses).size, addresses.length, `duplicate addresses: ${addresses.sort().join(' ')}`);
    assert.ok(faults.lostCreates > 0 && faults.failedGets > 0 && faults.refusedCreates > 0, JSON.stringify(faults));

    // Settled: one reservation per claim, each the one of the IPAddress of the claim it names (lost creates that
    // went unused were released by the sweep).
    await reservationsSettle(a.client, ns, pool, all, 60_000);
    // They would serve the next test's claims too.
    for (const h of running.splice(0)) await h.stop();
  });

  it('fails closed when the pool cannot be read to tell whether it is paused', async () => {
    // Alone with its manager: any other manager on the control plane would read the pool and serve the claim.
    const cp = await privateControlPlane();
    after(() => cp.stop());
    let failPoolReads = true;
    const faulty = wrapClient(InClusterIPPools, (real, wrapped) => {
      wrapped.get = async (key, opts) => {
        if (failPoolReads)
          throw new ApiError(403, { message: 'injected: forbidden', reason: 'Forbidden' } as never, 'GET');
        return real.get(key, opts);
      };
    });
    const h = await startInCluster({ workers: 2, before: [faulty], kubeconfig: cp.kubeconfigPath });
    running.push(h);
    const ns = 'pause-unread';
    await h.client.resource(Namespaces).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    const pool = `p-${suffix()}`;
    await createPool(h.client, ns, pool, { addresses: ['10.221.1.0/24'], prefix: 24 });
    await h.client.resource(IPAddressClaims).create(claimObject(ns, 'm-0', pool));
    const unknown = await waitFor(
      async () => {
        const c = await h.client.resource(IPAddressClaims).get({ namespace: ns, name: 'm-0' });
        const p = conditionOf(c, 'Paused');
        return p?.status === 'Unknown' ? p : undefined;
      },
      { what: 'Paused=Unknown' },
    );
    assert.match(unknown.message ?? '', new RegExp(`cannot read InClusterIPPool ${pool}.*injected: forbidden`));
    assert.equal(
      (await h.client.resource(IPAddresses).listAll({ namespace: ns })).items.length,
      0,
      'nothing allocated while the pool cannot be read',
    );
    failPoolReads = false;
    assert.equal((await waitForAddress(h.client, ns, 'm-0', 60_000)).spec.address, '10.221.1.1');
    const c = await h.client.resource(IPAddressClaims).get({ namespace: ns, name: 'm-0' });
    assert.equal(conditionOf(c, 'Paused')?.status, 'False');
  });
});
