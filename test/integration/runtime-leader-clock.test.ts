// Leader election judged by the clock, against the real API server, with the races held open deterministically:
// - the event loop stalls past the renew deadline (the renew loop's timer cannot run): writes queued behind the stall,
//   and writes made right after it, are refused, and the manager reports the loss;
// - a stand-by whose GET of the Lease answers late counts the holder's lease from when the answer arrived, as
//   client-go does, so it does not take over early by the GET's delay.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import {
  ConfigMaps,
  KubeClient,
  Leases,
  isNotFound,
  isWriteRefused,
  type Lease,
  type ResourceClient,
} from '../../src/kube/index.ts';
import { LeaderElectionLostError, LeaderElector, Manager, microTime } from '../../src/runtime/index.ts';
import { testKubeconfig, testNamespace } from '../support/cluster.ts';

let namespace: string;
let direct: KubeClient;

before(async () => {
  namespace = await testNamespace('leader-clock');
  direct = KubeClient.load({ kubeconfig: await testKubeconfig() });
});

after(() => direct.close());

/** Blocks the event loop for `ms`, as a long synchronous computation does (without spinning a core). */
function stallEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

async function exists(name: string): Promise<boolean> {
  return direct
    .resource(ConfigMaps)
    .get({ namespace, name })
    .then(
      () => true,
      (err: unknown) => (isNotFound(err) ? false : Promise.reject(err)),
    );
}

describe('leader election by the clock', () => {
  it('a leader whose event loop stalled past the renew deadline lets no write out, pending or new', async () => {
    const client = KubeClient.load({ kubeconfig: await testKubeconfig() });
    const renewDeadlineMs = 2_000;
    const mgr = new Manager({
      client,
      leaderElection: { namespace, id: 'stalled', leaseDurationMs: 3_000, renewDeadlineMs, retryPeriodMs: 500 },
    });
    const stop = new AbortController();
    const done = mgr.start(stop.signal);
    done.catch(() => {});
    try {
      await mgr.elected;
      const cms = mgr.client.resource(ConfigMaps);
      await cms.create({ metadata: { namespace, name: 'while-leading' } });

      // Issued just before the stall: its request is sent from a continuation that runs only after it.
      const pending = cms.create({ metadata: { namespace, name: 'pending' } }).catch((err: unknown) => err);
      stallEventLoop(renewDeadlineMs + 1_000);
      const late = cms.create({ metadata: { namespace, name: 'after-stall' } }).catch((err: unknown) => err);

      for (const [name, outcome] of [
        ['pending', await pending],
        ['after-stall', await late],
      ] as const) {
        assert.ok(isWriteRefused(outcome), `${name}: expected a refused write, got ${String(outcome)}`);
        assert.equal(outcome.inFlight, false);
        assert.ok(outcome.cause instanceof LeaderElectionLostError, String(outcome.cause));
        assert.match(String(outcome.cause), /not renewed within 2000 ms/);
        assert.equal(await exists(name), false, `the API server has no ConfigMap ${name}`);
      }
      assert.equal(await exists('while-leading'), true);
      await assert.rejects(done, LeaderElectionLostError);
      assert.equal(mgr.isLeader(), false);
    } finally {
      stop.abort();
      await done.catch(() => {});
      client.close();
    }
  });

  it('a stand-by whose GET answers late counts the lease from the answer, not from when it asked', async () => {
    const leaseDurationSeconds = 3;
    const getDelayMs = 4_000;
    const name = 'slow-get';
    const held = microTime(Date.now());
    await direct.resource(Leases).create({
      metadata: { namespace, name },
      spec: { holderIdentity: 'gone', leaseDurationSeconds, acquireTime: held, renewTime: held },
    });
    const client = KubeClient.load({ kubeconfig: await testKubeconfig() });
    const leases = client.resource(Leases);
    // The API server answers at once; the answer reaches the stand-by getDelayMs later (a slow network, a proxy).
    const slow = new Proxy(leases, {
      get(target, prop, receiver) {
        if (prop !== 'get') return Reflect.get(target, prop, receiver) as unknown;
        return async (...args: Parameters<typeof leases.get>) => {
          const lease = await target.get(...args);
          await delay(getDelayMs);
          return lease;
        };
      },
    }) as ResourceClient<Lease>;
    const standby = new LeaderElector({
      client: slow,
      namespace,
      name,
      identity: 'standby',
      // An attempt (GET, then PUT) may take up to renewDeadline: longer than the slow GET.
      leaseDurationMs: 8_000,
      renewDeadlineMs: 6_000,
      retryPeriodMs: 500,
    });
    try {
      const asked = Date.now();
      assert.equal(await standby.acquire(AbortSignal.timeout(60_000)), true);
      const lease = await direct.resource(Leases).get({ namespace, name });
      assert.equal(lease.spec?.holderIdentity, 'standby');
      // The holder was first seen when the first GET answered, no earlier than asked + getDelayMs: its lease runs
      // at least leaseDurationSeconds from then.
      const tookOver = Date.parse(lease.spec!.acquireTime!);
      const earliest = asked + getDelayMs + leaseDurationSeconds * 1000;
      assert.ok(tookOver >= earliest, `took over ${earliest - tookOver} ms before the holder's lease ran out`);
    } finally {
      client.close();
    }
  });
});
