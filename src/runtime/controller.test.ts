import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ConfigMaps, Secrets, type ConfigMap, type KubeObject, type Secret } from '../kube/index.ts';
import { Controller, TerminalError, requestFor, requestForOwner, type Reconciler, type Request } from './controller.ts';
import { Informer } from './informer.ts';
import { RuntimeMetrics } from './metrics.ts';
import { controllerRef } from './ownerrefs.ts';
import { ItemExponentialFailureRateLimiter } from './ratelimiter.ts';
import { FakeListWatch, until } from './testing.ts';

function cm(name: string, extra: Partial<ConfigMap['metadata']> = {}): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'ns', name, uid: `uid-${name}`, ...extra } };
}

const fast = { backoff: { initialMs: 1, maxMs: 2 } };

describe('Controller', () => {
  let primary: FakeListWatch<ConfigMap>;
  let stop: AbortController;
  let running: Promise<unknown>[];

  beforeEach(() => {
    primary = new FakeListWatch(ConfigMaps);
    stop = new AbortController();
    running = [];
  });
  afterEach(async () => {
    stop.abort();
    await Promise.all(running);
  });

  function informerOf<T extends KubeObject>(server: FakeListWatch<T>): Informer<T> {
    const informer = new Informer(server.client(), fast);
    running.push(informer.run(stop.signal));
    return informer;
  }

  function startController(reconcile: Reconciler, opts: { workers?: number; metrics?: RuntimeMetrics } = {}) {
    const controller = new Controller({
      name: 'test',
      reconcile,
      workers: opts.workers,
      rateLimiter: new ItemExponentialFailureRateLimiter<string>(1, 8),
      metrics: opts.metrics?.controller('test', opts.workers ?? 1),
    });
    return controller;
  }

  it('waits for the caches, then reconciles every object, never one key on two workers at once', async () => {
    for (let i = 0; i < 20; i++) primary.upsert(cm(`c${i}`));
    const informer = informerOf(primary);
    const inFlight = new Set<string>();
    const done = new Map<string, number>();
    let syncedAtFirstReconcile: boolean | undefined;
    const controller = startController(
      async (req) => {
        syncedAtFirstReconcile ??= informer.hasSynced();
        const key = `${req.namespace}/${req.name}`;
        assert.ok(!inFlight.has(key));
        inFlight.add(key);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight.delete(key);
        done.set(key, (done.get(key) ?? 0) + 1);
      },
      { workers: 4 },
    ).watch(informer, requestFor);
    running.push(controller.start(stop.signal));
    await until(() => done.size === 20 && primary.activeWatches === 1, 'all reconciled');
    assert.equal(syncedAtFirstReconcile, true);
    // Updates while running: each changed key is reconciled again.
    primary.upsert(cm('c3', { labels: { x: 'y' } }));
    await until(() => done.get('ns/c3') === 2, 'c3 again');
  });

  it('requeues errors with per-item backoff until they succeed; terminal errors are not retried', async () => {
    primary.upsert(cm('flaky'));
    primary.upsert(cm('broken'));
    const metrics = new RuntimeMetrics();
    const calls = { flaky: 0, broken: 0 };
    const controller = startController(
      (req) => {
        if (req.name === 'broken') {
          calls.broken++;
          throw new TerminalError('spec is invalid');
        }
        if (++calls.flaky < 4) throw new Error('transient');
      },
      { metrics },
    ).watch(informerOf(primary), requestFor);
    running.push(controller.start(stop.signal));
    await until(() => calls.flaky === 4, 'flaky succeeded');
    assert.equal(controller.queue.numRequeues('ns/flaky'), 0, 'forgotten after success');
    await until(() => controller.queue.len() === 0);
    assert.equal(calls.broken, 1);
    const text = await metrics.registry.metrics();
    assert.match(text, /controller_runtime_reconcile_total\{controller="test",result="error"\} 4/);
    assert.match(text, /controller_runtime_reconcile_total\{controller="test",result="success"\} 1/);
    assert.match(text, /controller_runtime_reconcile_errors_total\{controller="test"\} 4/);
    assert.match(text, /controller_runtime_terminal_reconcile_errors_total\{controller="test"\} 1/);
    assert.match(text, /workqueue_retries_total\{controller="test",name="test"\} 3/);
    assert.match(text, /controller_runtime_reconcile_time_seconds_count\{controller="test"\} 5/);
  });

  it('requeueAfter reconciles the key again later', async () => {
    primary.upsert(cm('periodic'));
    let calls = 0;
    const controller = startController(() => (++calls < 3 ? { requeueAfter: 5 } : undefined)).watch(
      informerOf(primary),
      requestFor,
    );
    running.push(controller.start(stop.signal));
    await until(() => calls === 3, 'three reconciles');
  });

  it('maps owned objects to their controller and related objects through a map function', async () => {
    const owner = primary.upsert(cm('owner'));
    const secrets = new FakeListWatch<Secret>(Secrets);
    const seen: Request[] = [];
    const controller = startController((req) => {
      seen.push(req);
    })
      .watch(informerOf(secrets), requestForOwner(ConfigMaps))
      .watch(informerOf(new FakeListWatch<Secret>(Secrets)), () => [{ namespace: 'elsewhere', name: 'mapped' }]);
    running.push(controller.start(stop.signal));
    await until(() => secrets.activeWatches === 1, 'watching secrets');
    secrets.upsert({ metadata: { namespace: 'ns', name: 's1', ownerReferences: [controllerRef(owner)] } });
    secrets.upsert({
      metadata: {
        namespace: 'ns',
        name: 's2',
        ownerReferences: [{ ...controllerRef(owner), apiVersion: 'apps/v1', name: 'other-group' }],
      },
    });
    secrets.upsert({ metadata: { namespace: 'ns', name: 's3' } });
    await until(() => seen.length === 1, 'owner reconciled');
    assert.deepEqual(seen, [{ namespace: 'ns', name: 'owner' }]);
    const mapper = requestForOwner(ConfigMaps);
    assert.deepEqual(mapper({ metadata: { namespace: 'ns', name: 'x' } }), []);
  });

  it('stop drains: in-flight reconciles finish, nothing new starts, handlers are detached', async () => {
    primary.upsert(cm('slow'));
    const informer = informerOf(primary);
    let release!: () => void;
    let started = 0;
    let finished = 0;
    const controller = startController(async () => {
      started++;
      await new Promise<void>((resolve) => (release = resolve));
      finished++;
    }).watch(informer, requestFor);
    const ctl = new AbortController();
    const run = controller.start(ctl.signal);
    await until(() => started === 1 && primary.activeWatches === 1, 'reconcile started');
    primary.upsert(cm('later'));
    ctl.abort();
    let stopped = false;
    void run.then(() => (stopped = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stopped, false, 'waits for the in-flight reconcile');
    release();
    await run;
    assert.equal(finished, 1);
    assert.equal(started, 1, 'the key queued before the stop did not start');
    assert.equal(controller.queue.len(), 1);
    primary.upsert(cm('after-stop'));
    assert.equal(controller.queue.len(), 1, 'events after the stop are not queued');
  });
});
