import assert from 'node:assert/strict';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import {
  ConfigMaps,
  CustomResourceDefinitions,
  WatchIdleError,
  resourceType,
  type ConfigMap,
  type CustomResourceDefinition,
} from '../kube/index.ts';
import { ClusterDeployments, type ClusterDeployment } from '../api/index.ts';
import { Informer, lastAppliedAnnotation, objectKey, splitKey } from './informer.ts';
import { FakeListWatch, gone, until } from './testing.ts';

function cm(namespace: string, name: string, data: Record<string, string> = {}): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace, name }, data };
}

interface Seen {
  adds: string[];
  updates: string[];
  deletes: string[];
}

function recordEvents(informer: Informer<ConfigMap>): Seen {
  const seen: Seen = { adds: [], updates: [], deletes: [] };
  informer.addEventHandler({
    onAdd: (o) => seen.adds.push(objectKey(o)),
    onUpdate: (_old, o) => seen.updates.push(objectKey(o)),
    onDelete: (o) => seen.deletes.push(objectKey(o)),
  });
  return seen;
}

const fastRetry = { backoff: { initialMs: 1, maxMs: 2 } };

describe('Informer', () => {
  let server: FakeListWatch<ConfigMap>;
  let stop: AbortController;
  let run: Promise<void> | undefined;

  beforeEach(() => {
    server = new FakeListWatch(ConfigMaps);
    stop = new AbortController();
    run = undefined;
  });
  afterEach(async () => {
    stop.abort();
    await run;
  });

  function start(informer: Informer<ConfigMap>): void {
    run = informer.run(stop.signal);
  }

  it('lists, syncs, then watches from the list resourceVersion with bookmarks and a 5-10 min timeout', async () => {
    server.upsert(cm('a', 'one'));
    server.upsert(cm('b', 'two'));
    const informer = new Informer(server.client(), { idleTimeoutMs: 1234 });
    const seen = recordEvents(informer);
    start(informer);
    assert.equal(await informer.waitForSync(), true);
    assert.deepEqual(seen.adds.sort(), ['a/one', 'b/two']);
    await until(() => server.activeWatches === 1, 'watch');
    const w = server.watchCalls[0]!;
    assert.equal(w.resourceVersion, '102');
    assert.equal(w.allowWatchBookmarks, true);
    assert.ok(w.timeoutSeconds! >= 300 && w.timeoutSeconds! <= 600);
    assert.equal(w.idleTimeoutMs, 1234);
  });

  it('applies watch events; bookmarks move the resourceVersion the next watch resumes from', async () => {
    const informer = new Informer(server.client(), fastRetry);
    const seen = recordEvents(informer);
    start(informer);
    await until(() => server.activeWatches === 1, 'watch');
    server.upsert(cm('a', 'x', { v: '1' }));
    server.upsert(cm('a', 'x', { v: '2' }));
    server.upsert(cm('a', 'y'));
    server.remove('a/y');
    assert.deepEqual(seen, { adds: ['a/x', 'a/y'], updates: ['a/x'], deletes: ['a/y'] });
    assert.equal(informer.get('a/x')?.data?.v, '2');
    assert.equal(informer.get({ namespace: 'a', name: 'y' }), undefined);
    const rv = server.bookmark();
    server.endWatches(); // the server's timeoutSeconds ran out
    await until(() => server.watchCalls.length === 2, 'second watch');
    assert.equal(server.watchCalls[1]!.resourceVersion, rv);
    assert.equal(server.listCalls, 1, 'a clean watch end does not relist');
  });

  it('on 410 relists and synthesises the adds, updates and deletes it missed, and nothing for unchanged objects', async () => {
    server.upsert(cm('a', 'same'));
    server.upsert(cm('a', 'changed', { v: '1' }));
    server.upsert(cm('a', 'deleted'));
    const informer = new Informer(server.client(), fastRetry);
    start(informer);
    await informer.waitForSync();
    await until(() => server.activeWatches === 1, 'watch');
    const seen = recordEvents(informer);
    seen.adds.length = 0; // the replay of existing objects to a new handler
    // Changes the informer does not see, then the server says the watch's resourceVersion is too old.
    server.upsert(cm('a', 'changed', { v: '2' }), true);
    server.remove('a/deleted', true);
    server.upsert(cm('a', 'added'), true);
    server.endWatches(gone());
    await until(() => server.listCalls === 2 && server.activeWatches === 1, 'relist and rewatch');
    assert.deepEqual(seen, { adds: ['a/added'], updates: ['a/changed'], deletes: ['a/deleted'] });
    assert.deepEqual(informer.list().map(objectKey).sort(), [...server.objects.keys()].sort());
    assert.equal(informer.get('a/changed')?.data?.v, '2');
    assert.equal(informer.stats.expired, 1);
  });

  it('retries every kind of failure with backoff and never gives up', async () => {
    server.listErrors.push(new Error('connection refused'), new Error('connection reset'));
    server.watchErrors.push(new Error('EOF'), gone(), new Error('boom'));
    server.upsert(cm('a', 'x'));
    const informer = new Informer(server.client(), fastRetry);
    start(informer);
    await informer.waitForSync();
    await until(() => server.activeWatches === 1, 'a watch after all the failures');
    assert.equal(server.listCalls, 4, 'two failed lists, the first good one, the relist after the 410');
    assert.equal(informer.get('a/x')?.metadata.name, 'x');
  });

  it('a watch the idle watchdog ended is restarted at once from the same resourceVersion, without a relist', async () => {
    const informer = new Informer(server.client(), { backoff: { initialMs: 60_000, maxMs: 60_000 } });
    start(informer);
    await until(() => server.activeWatches === 1, 'watch');
    server.endWatches(new WatchIdleError('silent'));
    await until(() => server.activeWatches === 1 && server.watchCalls.length === 2, 'rewatch without backoff');
    assert.equal(server.watchCalls[1]!.resourceVersion, server.watchCalls[0]!.resourceVersion);
    assert.equal(server.listCalls, 1);
    assert.equal(informer.stats.idleRestarts, 1);
  });

  it('a watch the server closes at once without events counts as a failure (no hot loop)', async () => {
    const informer = new Informer(server.client(), { backoff: { initialMs: 50, maxMs: 50, jitter: 0 } });
    start(informer);
    await until(() => server.activeWatches === 1, 'watch');
    const t0 = Date.now();
    server.endWatches();
    await until(() => server.activeWatches === 1 && server.watchCalls.length === 2, 'rewatch');
    assert.ok(Date.now() - t0 >= 45, 'waited for the backoff');
  });

  it('isolates handlers: a throwing or rejecting handler is logged, the others and the informer carry on', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const informer = new Informer(server.client(), fastRetry);
      informer.addEventHandler({
        onAdd: () => {
          throw new Error('handler bug');
        },
      });
      informer.addEventHandler({ onAdd: async () => Promise.reject(new Error('async handler bug')) });
      const seen = recordEvents(informer);
      start(informer);
      await until(() => server.activeWatches === 1, 'watch');
      server.upsert(cm('a', 'x'));
      server.upsert(cm('a', 'y'));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(seen.adds, ['a/x', 'a/y']);
      assert.equal(server.activeWatches, 1, 'the watch survived');
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('keeps secondary indexes and the namespace index up to date', async () => {
    server.upsert({ ...cm('a', 'c1'), metadata: { namespace: 'a', name: 'c1', labels: { pool: 'p1' } } });
    const informer = new Informer(server.client(), fastRetry);
    informer.addIndex('byPool', (o) => (o.metadata.labels?.pool ? [o.metadata.labels.pool] : []));
    start(informer);
    await informer.waitForSync();
    await until(() => server.activeWatches === 1, 'watch');
    server.upsert({ ...cm('b', 'c2'), metadata: { namespace: 'b', name: 'c2', labels: { pool: 'p1' } } });
    assert.deepEqual(informer.byIndex('byPool', 'p1').map(objectKey).sort(), ['a/c1', 'b/c2']);
    server.upsert({ ...cm('a', 'c1'), metadata: { namespace: 'a', name: 'c1', labels: { pool: 'p2' } } });
    assert.deepEqual(informer.byIndex('byPool', 'p1').map(objectKey), ['b/c2']);
    assert.deepEqual(informer.byIndex('byPool', 'p2').map(objectKey), ['a/c1']);
    server.upsert({ ...cm('b', 'c3'), metadata: { namespace: 'b', name: 'c3', labels: { pool: 'p1' } } });
    assert.deepEqual(informer.byIndex('byPool', 'p1').map(objectKey), ['b/c2', 'b/c3']);
    server.remove('b/c3');
    server.upsert({ ...cm('b', 'c2'), metadata: { namespace: 'b', name: 'c2', labels: { pool: 'p1', x: '1' } } });
    assert.deepEqual(informer.byIndex('byPool', 'p1').map(objectKey), ['b/c2'], 'an update under the same value');
    server.remove('b/c2');
    assert.deepEqual(informer.byIndex('byPool', 'p1'), []);
    assert.deepEqual(informer.list('a').map(objectKey), ['a/c1']);
    assert.equal(informer.list('b').length, 0);
    // An index added late is built from what is already cached.
    informer.addIndex('byName', (o) => [o.metadata.name!]);
    assert.deepEqual(informer.byIndex('byName', 'c1').map(objectKey), ['a/c1']);
    assert.throws(() => informer.addIndex('byName', () => []), /already exists/);
    assert.throws(() => informer.byIndex('nope', 'x'), /no index/);
  });

  it('hands out frozen objects, so an accidental in-place edit throws instead of corrupting the cache', async () => {
    server.upsert(cm('a', 'x', { v: '1' }));
    const informer = new Informer(server.client(), fastRetry);
    start(informer);
    await informer.waitForSync();
    const obj = informer.get('a/x')!;
    assert.throws(() => {
      obj.data!.v = '2';
    }, TypeError);
    const copy = structuredClone(obj);
    copy.data!.v = '2';
    assert.equal(informer.get('a/x')!.data!.v, '1');
  });

  it('keeps everything of an object but its managedFields and last-applied copy, nested objects frozen too', async () => {
    const obj = cm('a', 'y', { v: '1' });
    obj.metadata.managedFields = [{ manager: 'kubectl', operation: 'Apply' }];
    obj.metadata.finalizers = ['example.com/keep'];
    obj.metadata.labels = { team: 'a' };
    obj.metadata.annotations = { [lastAppliedAnnotation]: JSON.stringify(obj), note: 'kept' };
    server.upsert(obj);
    const informer = new Informer(server.client(), fastRetry);
    start(informer);
    await informer.waitForSync();
    const got = informer.get('a/y')!;
    assert.equal(got.metadata.managedFields, undefined);
    assert.deepEqual(got.metadata.finalizers, ['example.com/keep']);
    assert.deepEqual(got.metadata.labels, { team: 'a' });
    assert.deepEqual(got.metadata.annotations, { note: 'kept' });
    assert.equal(got.data!.v, '1');
    assert.ok(Object.isFrozen(got.metadata) && Object.isFrozen(got.metadata.finalizers) && Object.isFrozen(got.data));
  });

  it("keeps what the kind says is read: of a ClusterDeployment's status, the IPAMReady condition alone", async () => {
    const kcm = new FakeListWatch(ClusterDeployments);
    const condition = (type: string) => ({ type, status: 'True', reason: 'R', message: '', lastTransitionTime: 't' });
    const deployment = (name: string) =>
      ({
        metadata: { namespace: 'a', name },
        spec: { template: 't', config: { x: 1 } },
        status: { conditions: [condition('Ready'), condition('IPAMReady')], services: [{ name: 's' }] },
      }) as unknown as ClusterDeployment;
    kcm.upsert(deployment('listed'));
    const informer = new Informer(kcm.client(), fastRetry);
    const stop = new AbortController();
    const running = informer.run(stop.signal);
    try {
      await informer.waitForSync();
      kcm.upsert(deployment('watched'));
      await until(() => informer.get('a/watched') !== undefined, 'the watched one');
      for (const name of ['listed', 'watched']) {
        const got = informer.get(`a/${name}`)!;
        assert.deepEqual(got.status, { conditions: [condition('IPAMReady')] }, name);
        assert.deepEqual(got.spec, { template: 't', config: { x: 1 } }, name);
      }
    } finally {
      stop.abort();
      await running;
    }
  });

  it('keeps every value of every field but managedFields, however values repeat within and across objects', async () => {
    // What reconcilers, the plan page, the status CLI and writes read must come out of the cache as the API server
    // sent it: interning and sharing equal strings must never change a value, drop a field or merge two fields.
    const informer = new Informer(server.client(), fastRetry);
    start(informer);
    await informer.waitForSync();
    await until(() => server.activeWatches === 1, 'watch');
    const stamp = fc.constantFrom('2026-12-06T00:40:22Z', '2026-12-06T00:40:23Z');
    const word = fc.constantFrom('m-1', 'Ready', 'True', 'a', 'bench', '', 'IPAddress m-1 allocated');
    const value = fc.oneof(stamp, word, fc.string(), fc.integer(), fc.boolean(), fc.constant(null));
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        value,
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(
          fc.constantFrom('name', 'type', 'status', 'reason', 'message', 'lastTransitionTime', 'kind', 'uid', 'x'),
          tie('node'),
          { maxKeys: 4, noNullPrototype: true },
        ),
      ),
    })).node;
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({ creationTimestamp: stamp, finalizers: fc.array(word, { maxLength: 2 }), uid: word }),
        tree,
        tree,
        async (meta, spec, status) => {
          const name = `o-${n++}`;
          const sent = {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { namespace: 'a', name, ...meta, managedFields: [{ manager: 'kubectl' }] },
            spec,
            status,
          } as ConfigMap;
          server.upsert(sent);
          const got = informer.get(`a/${name}`)!;
          const { managedFields: _, ...metadata } = sent.metadata;
          assert.deepEqual(
            { ...got, metadata: { ...got.metadata, resourceVersion: undefined } },
            {
              ...sent,
              metadata: { ...metadata, resourceVersion: undefined },
            },
          );
        },
      ),
    );
  });

  it('waitForSync returns false when aborted before the first list', async () => {
    server.listErrors.push(new Error('down'));
    const informer = new Informer(server.client(), { backoff: { initialMs: 60_000, maxMs: 60_000 } });
    start(informer);
    const ac = new AbortController();
    const waiting = informer.waitForSync(ac.signal);
    ac.abort();
    assert.equal(await waiting, false);
    assert.equal(informer.hasSynced(), false);
  });

  describe('waitForResourceVersion', () => {
    /** The promise, and whether it has settled once everything that can run now has run. */
    const watching = <T>(p: Promise<T>) => {
      let settled = false;
      void p.then(() => (settled = true));
      return { p, settled: async () => (await new Promise((resolve) => setImmediate(resolve)), settled) };
    };

    it('is true at once when the store is current to the version or past it', async () => {
      server.upsert(cm('a', 'x'));
      const informer = new Informer(server.client(), fastRetry);
      start(informer);
      await informer.waitForSync();
      const rv = server.objects.get('a/x')!.metadata.resourceVersion!;
      // A zero timeout: true only if there is nothing to wait for.
      assert.equal(await informer.waitForResourceVersion(rv, 0), true);
      assert.equal(await informer.waitForResourceVersion('7', 0), true);
      assert.equal(await informer.waitForResourceVersion(String(BigInt(rv) + 1n), 0), false);
    });

    it('resolves once an event brings the version, after the handlers have seen it', async () => {
      const informer = new Informer(server.client(), fastRetry);
      const seen = recordEvents(informer);
      start(informer);
      await until(() => server.activeWatches === 1, 'watch');
      const listed = BigInt(server.watchCalls[0]!.resourceVersion!);
      const seenWhenTrue: string[] = [];
      const wait = watching(
        informer.waitForResourceVersion(String(listed + 2n), 60_000).then((ok) => {
          seenWhenTrue.push(...seen.adds);
          return ok;
        }),
      );
      server.upsert(cm('a', 'x'));
      assert.equal(await wait.settled(), false, 'one version short');
      server.upsert(cm('a', 'y'));
      assert.equal(await wait.p, true);
      assert.deepEqual(seenWhenTrue, ['a/x', 'a/y'], 'what the handlers keep is current too');
    });

    it('resolves when a bookmark brings the version', async () => {
      const informer = new Informer(server.client(), fastRetry);
      start(informer);
      await until(() => server.activeWatches === 1, 'watch');
      const listed = BigInt(server.watchCalls[0]!.resourceVersion!);
      const wait = watching(informer.waitForResourceVersion(String(listed + 1n), 60_000));
      assert.equal(await wait.settled(), false);
      assert.equal(server.bookmark(), String(listed + 1n));
      assert.equal(await wait.p, true);
    });

    it('resolves when a relist after 410 brings the version, and when the first list does', async () => {
      const informer = new Informer(server.client(), fastRetry);
      const early = watching(informer.waitForResourceVersion('100', 60_000));
      assert.equal(await early.settled(), false, 'nothing listed yet');
      start(informer);
      assert.equal(await early.p, true);
      await until(() => server.activeWatches === 1, 'watch');
      server.upsert(cm('a', 'missed'), true); // the watch does not show it
      const rv = server.objects.get('a/missed')!.metadata.resourceVersion!;
      const wait = watching(informer.waitForResourceVersion(rv, 60_000));
      assert.equal(await wait.settled(), false);
      server.endWatches(gone());
      assert.equal(await wait.p, true);
      assert.ok(informer.get('a/missed'), 'the store has it');
    });

    it('is false when the time runs out, or the signal aborts, before the version comes', async () => {
      const informer = new Informer(server.client(), fastRetry);
      start(informer);
      await until(() => server.activeWatches === 1, 'watch');
      const t0 = Date.now();
      assert.equal(await informer.waitForResourceVersion('1000', 50), false);
      assert.ok(Date.now() - t0 >= 45, 'waited the time given');
      const ac = new AbortController();
      const wait = watching(informer.waitForResourceVersion('1000', 60_000, ac.signal));
      assert.equal(await wait.settled(), false);
      ac.abort();
      assert.equal(await wait.p, false);
      assert.equal(await informer.waitForResourceVersion('1000', 60_000, ac.signal), false, 'aborted already');
      // Waiters that gave up are gone: later events are applied as ever.
      server.upsert(cm('a', 'x'));
      assert.ok(informer.get('a/x'));
    });

    it('is false at once for a version that is not a number', async () => {
      const informer = new Informer(server.client(), fastRetry);
      start(informer);
      await informer.waitForSync();
      for (const rv of ['', 'abc', '12a', '-5', '1.5']) {
        const wait = watching(informer.waitForResourceVersion(rv, 60_000));
        assert.equal(await wait.settled(), true, JSON.stringify(rv));
        assert.equal(await wait.p, false, JSON.stringify(rv));
      }
    });
  });

  it('splitKey inverts objectKey', () => {
    assert.deepEqual(splitKey('ns/name'), { namespace: 'ns', name: 'name' });
    assert.deepEqual(splitKey('cluster-scoped'), { namespace: '', name: 'cluster-scoped' });
  });
});

describe('Informer of an optional kind', () => {
  const Widgets = resourceType<ConfigMap>({
    group: 'example.com',
    version: 'v1',
    kind: 'Widget',
    plural: 'widgets',
    namespaced: true,
    optional: true,
  });
  const widget = (name: string): ConfigMap => ({ metadata: { namespace: 'a', name } });
  const crd = (established: boolean, version = 'v1'): CustomResourceDefinition => ({
    metadata: { name: 'widgets.example.com' },
    spec: { group: 'example.com', versions: [{ name: version, served: true, storage: true }] },
    status: { conditions: [{ type: 'Established', status: established ? 'True' : 'False' }] },
  });
  let server: FakeListWatch<ConfigMap>;
  let crds: FakeListWatch<CustomResourceDefinition>;
  let stop: AbortController;
  let run: Promise<void> | undefined;
  let logs: { msg: string }[];
  const logger = () => pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });

  beforeEach(() => {
    server = new FakeListWatch(Widgets);
    server.served = false;
    crds = new FakeListWatch(CustomResourceDefinitions);
    stop = new AbortController();
    run = undefined;
    logs = [];
  });
  afterEach(async () => {
    stop.abort();
    await run;
  });

  it('absent: synced and empty after one log line; its CRD being established brings the objects as adds', async () => {
    // Polling alone would take a minute: only the CRD watch can make this quick.
    const informer = new Informer(server.client(), {
      crds: crds.client(),
      absentBackoff: { initialMs: 60_000, maxMs: 60_000 },
      logger: logger(),
    });
    const seen: string[] = [];
    informer.addEventHandler({ onAdd: (o) => seen.push(objectKey(o)) });
    run = informer.run(stop.signal);
    assert.equal(await informer.waitForSync(), true);
    assert.equal(informer.isServed(), false);
    assert.equal(informer.size, 0);
    await until(() => crds.activeWatches === 1, 'a watch of the CRD');
    assert.equal(crds.watchCalls[0]!.fieldSelector, 'metadata.name=widgets.example.com');
    assert.deepEqual(
      logs.map((l) => l.msg),
      ['Widget (example.com/v1) is not served; following it once its CRD is installed'],
    );

    server.served = true;
    server.upsert(widget('w1'));
    crds.upsert(crd(false)); // created, not yet established: keep waiting
    crds.upsert(crd(true, 'v2')); // another version only: keep waiting
    assert.equal(server.listCalls, 1);
    crds.upsert(crd(true));
    await until(() => informer.isServed() && server.activeWatches === 1, 'listed and watching');
    assert.deepEqual(seen, ['a/w1']);
    server.upsert(widget('w2'));
    assert.deepEqual(seen, ['a/w1', 'a/w2']);
    assert.equal(logs.at(-1)!.msg, 'Widget (example.com/v1) is served now; following it');
  });

  it('without access to CRDs it polls with backoff, quietly', async () => {
    crds.watchErrors.push(...Array.from({ length: 100 }, () => new Error('forbidden')));
    const informer = new Informer(server.client(), {
      crds: crds.client(),
      absentBackoff: { initialMs: 5, maxMs: 10 },
      logger: logger(),
    });
    run = informer.run(stop.signal);
    await informer.waitForSync();
    await until(() => server.listCalls >= 3, 'polling');
    assert.equal(informer.isServed(), false);
    assert.equal(logs.length, 1, 'one line, however many polls');
    server.upsert(widget('w1'));
    server.served = true;
    await until(() => informer.get('a/w1') !== undefined, 'picked up by a poll');
  });

  it('a kind that goes away empties the store with delete events and is followed again', async () => {
    server.served = true;
    server.upsert(widget('w1'));
    const informer = new Informer(server.client(), {
      ...fastRetry,
      crds: crds.client(),
      absentBackoff: { initialMs: 60_000, maxMs: 60_000 },
      logger: logger(),
    });
    const deletes: string[] = [];
    informer.addEventHandler({ onDelete: (o) => deletes.push(objectKey(o)) });
    run = informer.run(stop.signal);
    await informer.waitForSync();
    await until(() => server.activeWatches === 1, 'watch');
    server.served = false;
    server.endWatches();
    await until(() => !informer.isServed(), 'noticed');
    assert.deepEqual(deletes, ['a/w1']);
    assert.equal(informer.size, 0);
    assert.equal(informer.hasSynced(), true);
    assert.equal(
      logs.at(-1)!.msg,
      'Widget (example.com/v1) is no longer served; following it again once its CRD is installed',
    );
    server.served = true;
    await until(() => crds.activeWatches === 1, 'a watch of the CRD');
    crds.upsert(crd(true));
    await until(() => informer.get('a/w1') !== undefined, 'back');
  });

  it('a required kind that answers 404 is retried and never counts as synced', async () => {
    const required = new FakeListWatch({ ...Widgets, optional: false });
    required.served = false;
    const informer = new Informer(required.client(), fastRetry);
    run = informer.run(stop.signal);
    await until(() => required.listCalls >= 3, 'retries');
    assert.equal(informer.hasSynced(), false);
    assert.equal(informer.isServed(), true);
  });
});
