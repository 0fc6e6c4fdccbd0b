// Writes against the real API server: status subresource with optimistic concurrency (409, and recovery through
// the controller's requeue), conditions, finalizers, events, server-side apply, and the
// manager's probes and metrics. A test CRD of our own with a status subresource.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CustomResourceDefinitions,
  Events,
  KubeClient,
  isAlreadyExists,
  isConflict,
  isNotFound,
  resourceType,
  type Condition,
  type KubeObject,
} from '../../src/kube/index.ts';
import {
  Manager,
  addFinalizer,
  findCondition,
  metaTime,
  removeFinalizer,
  setCondition,
} from '../../src/runtime/index.ts';
import { testKubeconfig, testNamespace } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';

interface Widget extends KubeObject {
  spec?: { value?: number };
  status?: { observedValue?: number; conditions?: Condition[] };
}

const GROUP = 'runtime-test.cluster-ipam.dev';
const Widgets = resourceType<Widget>({
  group: GROUP,
  version: 'v1',
  kind: 'Widget',
  plural: 'widgets',
  namespaced: true,
});

const crd = {
  metadata: { name: `widgets.${GROUP}` },
  spec: {
    group: GROUP,
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', properties: { value: { type: 'integer' } } },
              status: {
                type: 'object',
                properties: {
                  observedValue: { type: 'integer' },
                  conditions: {
                    type: 'array',
                    items: {
                      type: 'object',
                      required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
                      properties: {
                        type: { type: 'string' },
                        status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
                        observedGeneration: { type: 'integer' },
                        lastTransitionTime: { type: 'string', format: 'date-time' },
                        reason: { type: 'string' },
                        message: { type: 'string' },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

let client: KubeClient;
let namespace: string;
const widgets = () => client.resource(Widgets);

async function createWidget(name: string, value: number): Promise<Widget> {
  // Server-side apply creates it: the content type and field manager work for custom resources.
  return widgets().apply({ metadata: { namespace, name }, spec: { value } }, { force: true });
}

before(async () => {
  const kubeconfig = await testKubeconfig();
  client = KubeClient.load({ kubeconfig });
  namespace = await testNamespace('runtime-status');
  await client
    .resource(CustomResourceDefinitions)
    .create(crd)
    .catch((err: unknown) => {
      if (!isAlreadyExists(err)) throw err;
    });
  await waitFor(() => widgets().list({ namespace }), { what: 'the Widget CRD served' });
});

after(() => client?.close());

describe('status writes on a real API server', () => {
  it('a stale update of status gets 409', async () => {
    const stale = await createWidget('w1', 1);
    const bumped = await widgets().patch({ namespace, name: 'w1' }, { spec: { value: 2 } });
    assert.equal(bumped.metadata.generation, 2);

    const err = await widgets()
      .updateStatus({ ...stale, status: { observedValue: 1 } })
      .catch((e: unknown) => e);
    assert.ok(isConflict(err), String(err));
    assert.match((err as Error).message, /the object has been modified/);
  });

  it('finalizers: a stale add gets 409; add, delete, remove completes the deletion', async () => {
    const stale = await createWidget('w2', 1);
    await widgets().patch({ namespace, name: 'w2' }, { metadata: { labels: { touched: 'yes' } } });
    assert.ok(isConflict(await addFinalizer(widgets(), stale, 'test/finalizer').catch((e: unknown) => e)));

    const fresh = await addFinalizer(widgets(), await widgets().get({ namespace, name: 'w2' }), 'test/finalizer');
    assert.deepEqual(fresh.metadata.finalizers, ['test/finalizer']);
    const deleting = await widgets().delete({ namespace, name: 'w2' }, { preconditions: { uid: fresh.metadata.uid } });
    assert.ok(deleting?.metadata.deletionTimestamp, 'held by the finalizer');
    await removeFinalizer(widgets(), deleting!, 'test/finalizer');
    assert.ok(
      isNotFound(
        await widgets()
          .get({ namespace, name: 'w2' })
          .catch((e: unknown) => e),
      ),
    );
  });
});

describe('a controller on a real API server', () => {
  const stop = new AbortController();
  let mgr: Manager;
  let running: Promise<void>;
  const reconciles = new Map<string, number>();

  before(async () => {
    mgr = new Manager({
      client,
      metricsBindAddress: '127.0.0.1:0',
      healthProbeBindAddress: '127.0.0.1:0',
      workers: 2,
    });
    const cache = mgr.informer(Widgets, { namespace });
    const events = mgr.eventRecorder('runtime-test');
    mgr.addController({
      name: 'widgets',
      for: Widgets,
      scope: { namespace },
      reconcile: async (req) => {
        const cached = cache.get(req);
        if (!cached) return;
        const n = (reconciles.get(req.name) ?? 0) + 1;
        reconciles.set(req.name, n);
        if (n === 1) {
          // Another writer changes the object between our read and our write.
          await widgets().patch(req, { metadata: { annotations: { 'other-writer': 'was-here' } } });
        }
        const status = {
          observedValue: cached.spec?.value,
          conditions: setCondition(
            cached.status?.conditions,
            { type: 'Ready', status: 'True', reason: 'Observed', message: `value ${cached.spec?.value}` },
            cached.metadata.generation,
          ),
        };
        if (JSON.stringify(status) === JSON.stringify(cached.status)) return;
        // A plain optimistic write: a 409 fails the reconcile and the queue retries it with backoff.
        const written = await widgets().updateStatus({ ...structuredClone(cached), status });
        events.event(written, 'Normal', 'Observed', `observed value ${cached.spec?.value}`);
      },
    });
    running = mgr.start(stop.signal);
  });

  after(async () => {
    stop.abort();
    await running;
  });

  it('serves /healthz, /readyz once synced, and /metrics', async () => {
    const { health } = await mgr.serving;
    assert.equal((await fetch(`http://${health}/healthz`)).status, 200);
    await waitFor(async () => (await fetch(`http://${health}/readyz`)).status === 200, { what: 'ready' });
    // An informer started later (as the Cluster kind's, on the first claim naming a Cluster) that cannot list does
    // not take the replica out of service: its controller waits for it, the probe does not.
    const unserved = resourceType<Widget>({ ...Widgets, group: 'nosuch.example.com', plural: 'nosuchwidgets' });
    const late = mgr.informer(unserved, { namespace });
    assert.equal(late.hasSynced(), false);
    assert.equal((await fetch(`http://${health}/readyz`)).status, 200);
  });

  it('a reconcile whose status write hits a 409 is requeued and recovers; conditions keep their transition time', async () => {
    await createWidget('w3', 7);
    const done = await waitFor(
      async () => {
        const w = await widgets().get({ namespace, name: 'w3' });
        return w.status?.observedValue === 7 ? w : undefined;
      },
      { what: 'status written' },
    );
    assert.equal(done.metadata.annotations?.['other-writer'], 'was-here');
    assert.ok(reconciles.get('w3')! >= 2, 'retried after the conflict');
    const { metrics } = await mgr.serving;
    const text = await (await fetch(`http://${metrics}/metrics`)).text();
    assert.match(text, /controller_runtime_reconcile_errors_total\{controller="widgets"\} [1-9]/);
    assert.match(text, /workqueue_retries_total\{controller="widgets",name="widgets"\} [1-9]/);
    for (const name of [
      'controller_runtime_reconcile_total',
      'controller_runtime_reconcile_time_seconds',
      'controller_runtime_active_workers',
      'workqueue_depth',
      'workqueue_adds_total',
      'workqueue_queue_duration_seconds',
      'workqueue_work_duration_seconds',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
    }

    const ready = findCondition(done.status?.conditions, 'Ready')!;
    assert.equal(ready.observedGeneration, 1);
    // Times have whole seconds: let one pass, so a wrongly refreshed transition time would show.
    await waitFor(() => metaTime(new Date()) !== ready.lastTransitionTime, { what: 'the next second' });
    await widgets().patch({ namespace, name: 'w3' }, { spec: { value: 8 } });
    const again = await waitFor(
      async () => {
        const w = await widgets().get({ namespace, name: 'w3' });
        return w.status?.observedValue === 8 ? w : undefined;
      },
      { what: 'status updated' },
    );
    const readyAgain = findCondition(again.status?.conditions, 'Ready')!;
    assert.equal(readyAgain.observedGeneration, 2);
    assert.equal(readyAgain.lastTransitionTime, ready.lastTransitionTime, 'status stayed True');
    assert.equal(readyAgain.message, 'value 8');

    // The reconcile records its event after the status write the test saw: await it rather than read once.
    const observed = await waitFor(
      async () => {
        await mgr.eventRecorder('runtime-test').flush();
        const events = await client.resource(Events).list({ namespace });
        const mine = events.items.filter((e) => e.involvedObject.name === 'w3' && e.reason === 'Observed');
        return mine.length >= 2 ? mine : undefined;
      },
      { what: 'the events of both reconciles' },
    );
    assert.deepEqual(observed.map((e) => e.message).sort(), ['observed value 7', 'observed value 8']);
    assert.equal(observed[0]!.source?.component, 'runtime-test');
  });
});
