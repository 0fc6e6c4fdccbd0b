// The ledger path under injected faults, against the real API server. Two managers serve the same claims, so their
// compare-and-swap writes of the namespace's IPAddressLedger conflict (409) often; on top of that, the managers'
// ledger client loses the answer of writes (create or patch) that were committed (a dropped connection after the
// request), has writes refused before they reach the server (429: outcome unknown to the manager), or refused
// outright (403: nothing written), and fails reads (503). Whatever happens, no address is handed out twice, every
// claim ends with an address, and no stray entry is left: entries are in flight only (dropped once their IPAddress
// is seen), and those of lost answers that went unused go with their claim's release or the sweep.
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
  IPAddressLedgers,
  entriesSettle,
  startInCluster,
  suffix,
  waitForAddress,
  wrapClient,
  type Harness,
} from './in-cluster-support.ts';

interface Faults {
  lostWrites: number;
  refusedWrites: number;
  deniedWrites: number;
  failedGets: number;
}

/**
 * Wraps the manager's ledger client: of the writes (create or patch), every 5th is refused with 429 and every 7th
 * with 403 before reaching the server, every 3rd other one is committed and its answer lost; 2 of every 3 GETs fail
 * with 503. The first three writes are one of each (lost, 429, 403): the claims share the writes, so a run may need
 * few of them, and each fault must happen in every run.
 */
function injectFaults(faults: Faults) {
  let writes = 0;
  let gets = 0;
  return wrapClient(IPAddressLedgers, (real, faulty) => {
    const faultyWrite =
      <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        const n = ++writes;
        if (n === 2 || n % 5 === 0) {
          faults.refusedWrites++;
          throw new ApiError(429, { message: 'injected: too many requests', reason: 'TooManyRequests' } as never, 'X');
        }
        if (n === 3 || n % 7 === 0) {
          faults.deniedWrites++;
          throw new ApiError(403, { message: 'injected: denied', reason: 'Forbidden' } as never, 'X');
        }
        const written = await write(...args);
        if (n === 1 || n % 3 === 0) {
          faults.lostWrites++;
          throw new Error('injected: socket hang up after the write was committed');
        }
        return written;
      };
    faulty.create = faultyWrite(real.create.bind(real));
    faulty.patch = faultyWrite(real.patch.bind(real));
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

describe('in-cluster provider: injected faults on the ledger path', () => {
  const running: Harness[] = [];
  after(async () => {
    for (const h of running) await h.stop();
  });

  it('never hands out an address twice, every claim ends with an address, and no stray ledger entry is left', async () => {
    // Alone with its managers: another test file's manager would answer claims without faults (and these faulty
    // managers would serve the other files' claims).
    const cp = await privateControlPlane();
    after(() => cp.stop());
    const ns = 'faults';
    const faults: Faults = { lostWrites: 0, refusedWrites: 0, deniedWrites: 0, failedGets: 0 };
    const faulty = injectFaults(faults);
    // The fault injector must wrap the client before the provider takes its ledger client.
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
    // Every claim says so: Ready, with its IPAddress.
    await waitFor(
      async (note) => {
        const { items } = await a.client.resource(IPAddressClaims).listAll({ namespace: ns });
        const waiting = items.filter(
          (c) => c.status?.addressRef?.name !== c.metadata.name || conditionOf(c, 'Ready')?.status !== 'True',
        );
        note(waiting.map((c) => `${c.metadata.name}: ${conditionOf(c, 'Ready')?.message ?? 'no Ready condition'}`));
        return items.length === claims.length && waiting.length === 0;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'every claim to be Ready with its IPAddress' },
    );
    assert.ok(
      faults.lostWrites > 0 && faults.failedGets > 0 && faults.refusedWrites > 0 && faults.deniedWrites > 0,
      JSON.stringify(faults),
    );

    // Settled: no entry left but those of claims whose IPAddress carries its address (in flight until a write or the
    // sweep drops them); entries of lost answers that went unused (the claim took another address, or the other
    // manager answered it) were deleted by the claim's release or the sweep.
    await entriesSettle(a.client, ns, pool, all, 60_000);
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
