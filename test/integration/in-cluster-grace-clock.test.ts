// The grace period of a released address runs on the manager's clock, from when it saw the release: a releasedAt
// written by a replica whose clock is two hours behind (as if released two hours ago) does not end a one-hour grace
// period at once. The claim waiting for the address is told it comes free an hour from now.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { metaTime } from '../../src/runtime/index.ts';
import { testNamespace, ownControlPlane } from '../support/cluster.ts';
import {
  createClaim,
  createPool,
  IPAddressClaims,
  IPAddressLedgers,
  entriesOfPool,
  ledgerOf,
  startInCluster,
  suffix,
  waitForAddress,
  waitForReason,
  waitGone,
  type Harness,
} from './in-cluster-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

describe('in-cluster provider: grace periods and other hosts’ clocks', () => {
  let h: Harness;
  before(async () => {
    h = await startInCluster();
  });
  after(async () => h?.stop());

  it('counts the grace period from when the release was seen, not from a releasedAt written by a skewed clock', async () => {
    const ns = await testNamespace('ic-grace-clock');
    const pool = `grace-${suffix()}`;
    await createPool(h.client, ns, pool, {
      addresses: ['10.208.0.1'],
      prefix: 24,
      addressReuseGracePeriodSeconds: 3600,
    });
    await createClaim(h.client, ns, 'first', pool);
    assert.equal((await waitForAddress(h.client, ns, 'first')).spec.address, '10.208.0.1');

    // Released by another replica whose clock is two hours behind: its entry in the ledger says so.
    const claim = await h.client.resource(IPAddressClaims).get({ namespace: ns, name: 'first' });
    const started = Date.now();
    const released = ledgerOf(ns, pool, { '10.208.0.1': ['first', claim.metadata.uid!] }).spec.entries!['10.208.0.1'];
    await h.client.resource(IPAddressLedgers).patch(
      { name: `ns.${ns}` },
      {
        spec: { entries: { '10.208.0.1': { ...released, releasedAt: metaTime(new Date(started - 2 * 3600_000)) } } },
      },
    );
    await h.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'first' });
    await waitGone(() => h.client.resource(IPAddressClaims).get({ namespace: ns, name: 'first' }), 'claim first');

    await createClaim(h.client, ns, 'second', pool);
    const waiting = await waitForReason(h.client, ns, 'second', 'PoolExhausted');
    const message = waiting.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '';
    const free = /the first at (\S+)$/.exec(message)?.[1];
    assert.ok(free, message);
    assert.ok(
      Date.parse(free) >= started + 3600_000 - 1000,
      `comes free at ${free}, started ${metaTime(new Date(started))}`,
    );
    const [entry] = await entriesOfPool(h.client, ns, pool);
    assert.ok(entry?.releasedAt, 'the released entry is still there');
  });
});
