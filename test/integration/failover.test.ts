// The chaos suite's failover part, small enough for `npm test`: two `cluster-ipam run` replicas with leader
// election on a private control plane, 100 claims over every pool kind (namespaced, global, IPv6, a shared domain,
// Infoblox on the WAPI simulator) created and partly deleted while the leader is SIGKILLed once; after settling, no
// duplicate, no leak, no stuck finalizer, counts equal to the truth, every live claim bound. The full run
// (`npm run test:chaos`) adds kills, an API server restart and a partition, with 2,400 claims.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runFailover } from '../chaos/failover.ts';

describe('failover under load (small)', () => {
  it('one leader SIGKILL with 100 claims: the other replica takes over and the invariants hold', async () => {
    const r = await runFailover({ claims: 100, steps: ['leader-sigkill'], loadSeconds: 10, log: () => {} });
    const notes = r.notes.join('\n');
    assert.equal(r.passed, true, notes);
    assert.deepEqual(
      { kills: r.leaderKills, claims: r.claims, duplicates: r.duplicates, leaks: r.leaks, stuck: r.stuck },
      { kills: 1, claims: 100, duplicates: 0, leaks: 0, stuck: 0 },
      notes,
    );
    assert.ok(r.p99Ms !== undefined && r.p99Ms > 0, notes);
  });
});
