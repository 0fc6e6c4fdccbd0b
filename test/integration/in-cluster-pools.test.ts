// InClusterIPPool / GlobalInClusterIPPool reconciliation: counts, ProtectPool, Ready with the validation errors and
// warnings (gateway outside the subnet, overlapping pools) also as Events, a shrink reported as outOfRange, a grown
// pool serving its waiting claims at once. No admission webhook runs here: in-cluster-admission.test.ts has it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testNamespace, ownControlPlane } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  createClaim,
  createPool,
  eventsFor,
  IPAddressClaims,
  InClusterIPPools,
  readyOf,
  startInCluster,
  waitForAddress,
  waitForReason,
  waitGone,
  type Harness,
} from './in-cluster-support.ts';
import type { PoolObject } from '../../src/providers/in-cluster/pools.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

describe('in-cluster provider: pools', () => {
  let h: Harness;
  before(async () => {
    h = await startInCluster();
  });
  after(async () => {
    await h?.stop();
  });

  const pool = (ns: string, name: string) => h.client.resource(InClusterIPPools).get({ namespace: ns, name });
  const poolWhen = (ns: string, name: string, ok: (p: PoolObject) => boolean, what: string) =>
    waitFor(
      async () => {
        const p = await pool(ns, name);
        return ok(p) ? p : undefined;
      },
      { what },
    );

  it('counts its addresses, and a deleted pool waits for them under ProtectPool', async () => {
    const ns = await testNamespace('ic-pool-counts');
    // 10.203.0.0 is the network address of the subnet 10.203.0.0/24: 7 usable.
    await createPool(
      h.client,
      ns,
      'p',
      { addresses: ['10.203.0.0/29'], prefix: 24 },
      {
        // lets the deletion through an admission webhook, if a manager of another test file serves one
        'ipam.cluster.x-k8s.io/skip-validate-delete-webhook': 'true',
      },
    );
    const empty = await poolWhen(ns, 'p', (p) => readyOf(p)?.status === 'True', 'Ready');
    assert.deepEqual(empty.status?.ipAddresses, {
      total: 7,
      used: 0,
      free: 7,
      outOfRange: 0,
      totalHuman: '7',
      freeHuman: '7',
    });
    assert.equal(readyOf(empty)?.reason, 'PoolReady');
    assert.equal(readyOf(empty)?.observedGeneration, empty.metadata.generation);

    for (const m of ['m0', 'm1', 'm2']) await createClaim(h.client, ns, m, 'p');
    for (const m of ['m0', 'm1', 'm2']) await waitForAddress(h.client, ns, m);
    const used = await poolWhen(ns, 'p', (p) => p.status?.ipAddresses?.used === 3, 'three addresses counted');
    assert.deepEqual(used.status?.ipAddresses, {
      total: 7,
      used: 3,
      free: 4,
      outOfRange: 0,
      totalHuman: '7',
      freeHuman: '4',
    });
    assert.ok(used.metadata.finalizers?.includes('ipam.cluster.x-k8s.io/ProtectPool'));

    await h.client.resource(InClusterIPPools).delete({ namespace: ns, name: 'p' });
    const deleting = await poolWhen(ns, 'p', (p) => readyOf(p)?.reason === 'Deleting', 'Deleting');
    assert.match(readyOf(deleting)!.message, /waiting for 3 allocated addresses to be released/);
    await createClaim(h.client, ns, 'late', 'p');
    const late = await waitForReason(h.client, ns, 'late', 'PoolNotReady');
    assert.match(readyOf(late)!.message, /InClusterIPPool .*\/p is being deleted/);
    for (const m of ['m0', 'm1', 'm2', 'late'])
      await h.client.resource(IPAddressClaims).delete({ namespace: ns, name: m });
    await waitGone(() => pool(ns, 'p'), 'the pool');
  });

  it('reports warnings without refusing: a gateway outside the subnet, overlapping pools', async () => {
    const ns = await testNamespace('ic-pool-warn');
    await createPool(h.client, ns, 'far-gw', { addresses: ['10.203.1.0/25'], prefix: 25, gateway: '10.203.1.129' });
    const warned = await poolWhen(ns, 'far-gw', (p) => readyOf(p)?.reason === 'PoolReadyWithWarnings', 'warning');
    assert.equal(readyOf(warned)!.status, 'True');
    assert.match(readyOf(warned)!.message, /spec\.gateway: 10\.203\.1\.129 is outside the subnet 10\.203\.1\.0\/25/);
    await waitFor(async () => (await eventsFor(h.client, ns, 'far-gw')).some((e) => e.reason === 'PoolWarnings'), {
      what: 'a PoolWarnings event',
    });

    await createPool(h.client, ns, 'a', { addresses: ['10.203.2.0-10.203.2.100'], prefix: 24 });
    await createPool(h.client, ns, 'b', { addresses: ['10.203.2.50-10.203.2.150'], prefix: 24 });
    for (const [self, other] of [
      ['a', 'b'],
      ['b', 'a'],
    ] as const) {
      const p = await poolWhen(
        ns,
        self,
        (x) => /overlaps/.test(readyOf(x)?.message ?? ''),
        `${self} to report the overlap`,
      );
      assert.match(
        readyOf(p)!.message,
        new RegExp(`overlaps InClusterIPPool ${ns}/${other} at 10\\.203\\.2\\.50-10\\.203\\.2\\.100`),
      );
    }
  });

  it('a shrink under live allocations shows as outOfRange; growing the pool serves waiting claims at once', async () => {
    const ns = await testNamespace('ic-pool-resize');
    await createPool(h.client, ns, 'p', { addresses: ['10.203.3.10-10.203.3.11'], prefix: 24 });
    await createClaim(h.client, ns, 'm0', 'p');
    await createClaim(h.client, ns, 'm1', 'p');
    await waitForAddress(h.client, ns, 'm0');
    await waitForAddress(h.client, ns, 'm1');
    await createClaim(h.client, ns, 'm2', 'p');
    await waitForReason(h.client, ns, 'm2', 'PoolExhausted');

    await h.client.resource(InClusterIPPools).patch(
      { namespace: ns, name: 'p' },
      {
        spec: { addresses: ['10.203.3.10-10.203.3.12'] },
      },
    );
    assert.equal((await waitForAddress(h.client, ns, 'm2', 5_000)).spec.address, '10.203.3.12');

    // Without the webhook nothing refuses a shrink: the pool reports the address it no longer holds.
    await h.client
      .resource(InClusterIPPools)
      .patch(
        { namespace: ns, name: 'p' },
        {
          metadata: { annotations: {} },
          spec: { addresses: ['10.203.3.10-10.203.3.11'] },
        },
      )
      .catch((err: Error) => {
        // A manager of another test file may serve the webhook for every pool: then the shrink is refused.
        assert.match(err.message, /10\.203\.3\.12/);
      });
    const p = await pool(ns, 'p');
    if (p.spec.addresses.length === 1 && p.spec.addresses[0] === '10.203.3.10-10.203.3.11') {
      const shrunk = await poolWhen(ns, 'p', (x) => x.status?.ipAddresses?.outOfRange === 1, 'outOfRange 1');
      assert.deepEqual(shrunk.status?.ipAddresses, {
        total: 2,
        used: 2,
        free: 0,
        outOfRange: 1,
        totalHuman: '2',
        freeHuman: '0',
      });
    }
  });
});
