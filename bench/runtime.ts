// Throughput of the controller runtime against a dedicated local control plane: how fast the informer ingests
// watch events while ConfigMaps are created as fast as the API server takes them, how fast it relists, and how
// many no-op reconciles per second the work queue and workers sustain. The last line is one JSON object.
import { ConfigMaps, KubeClient, Namespaces } from '../src/kube/index.ts';
import { startControlPlane } from '../src/local/controlplane.ts';
import { Controller, Informer, RuntimeMetrics } from '../src/runtime/index.ts';

const objects = Number(process.env.BENCH_OBJECTS ?? 5_000);
const writers = 32;
const reconcileKeys = 100_000;
const workers = 4;

const seconds = (from: bigint): number => Number(process.hrtime.bigint() - from) / 1e9;
const rate = (n: number, s: number): number => Math.round(n / s);

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 1));
}

/** Events/s the informer ingests while `writers` clients create `objects` ConfigMaps (padded to ~1 KiB each). */
async function ingest(client: KubeClient, ns: string, stop: AbortSignal) {
  const informer = new Informer(client.resource(ConfigMaps), { namespace: ns });
  let firstEvent = 0n;
  let lastEvent = 0n;
  informer.addEventHandler({
    onAdd: () => {
      lastEvent = process.hrtime.bigint();
      if (!firstEvent) firstEvent = lastEvent;
    },
  });
  const run = informer.run(stop);
  await informer.waitForSync();
  const cms = client.resource(ConfigMaps);
  const before = (await cms.list({ namespace: ns, limit: 1 })).metadata.resourceVersion;
  const payload = 'x'.repeat(1000);
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      for (let i = next++; i < objects; i = next++) {
        await cms.create({ metadata: { namespace: ns, name: `cm-${i}` }, data: { payload } });
      }
    }),
  );
  const written = seconds(start);
  const writtenAt = process.hrtime.bigint();
  await until(() => informer.size === objects);
  const caughtUp = Number(lastEvent - writtenAt) / 1e6;
  return {
    run,
    figures: {
      objects,
      createsPerSecond: rate(objects, written),
      ingestEventsPerSecond: rate(objects, Number(lastEvent - firstEvent) / 1e9),
      lagAfterLastWriteMs: Math.max(0, Math.round(caughtUp)),
      replayEventsPerSecond: await replay(client, ns, before!),
    },
  };
}

/**
 * The same events again, as fast as the server sends them: a watch from the resourceVersion before the writes is
 * replayed from the watch cache, so this is what one watch stream decodes when the client, not the server, is
 * the bottleneck.
 */
async function replay(client: KubeClient, ns: string, resourceVersion: string): Promise<number> {
  const ac = new AbortController();
  let events = 0;
  const start = process.hrtime.bigint();
  await client.resource(ConfigMaps).watch({ namespace: ns, resourceVersion, signal: ac.signal }, () => {
    if (++events === objects) ac.abort();
  });
  return rate(events, seconds(start));
}

/** A fresh informer listing everything (pages of 500) until synced. */
async function relist(client: KubeClient, ns: string, stop: AbortSignal) {
  const informer = new Informer(client.resource(ConfigMaps), { namespace: ns });
  const start = process.hrtime.bigint();
  const run = informer.run(stop);
  await informer.waitForSync();
  const s = seconds(start);
  return {
    run,
    figures: { objects: informer.size, seconds: Math.round(s * 1000) / 1000, objectsPerSecond: rate(informer.size, s) },
  };
}

/** No-op reconciles/s for `reconcileKeys` keys enqueued directly, with metrics on. */
async function reconciles() {
  const metrics = new RuntimeMetrics();
  let done = 0;
  const controller = new Controller({
    name: 'bench',
    workers,
    metrics: metrics.controller('bench', workers),
    reconcile: () => {
      done++;
    },
  });
  for (let i = 0; i < reconcileKeys; i++) controller.enqueue({ namespace: 'ns', name: `key-${i}` });
  const stop = new AbortController();
  const start = process.hrtime.bigint();
  const run = controller.start(stop.signal);
  await until(() => done === reconcileKeys);
  const s = seconds(start);
  stop.abort();
  await run;
  return { keys: reconcileKeys, workers, seconds: Math.round(s * 1000) / 1000, reconcilesPerSecond: rate(done, s) };
}

const cp = await startControlPlane({ gc: false, log: (line) => console.log(`# ${line}`) });
const client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
const stop = new AbortController();
try {
  const ns = 'bench';
  await client.resource(Namespaces).create({ metadata: { name: ns } });
  const watch = await ingest(client, ns, stop.signal);
  console.log(`# watch ingest: ${JSON.stringify(watch.figures)}`);
  const listed = await relist(client, ns, stop.signal);
  console.log(`# relist: ${JSON.stringify(listed.figures)}`);
  const loop = await reconciles();
  console.log(`# reconcile loop: ${JSON.stringify(loop)}`);
  stop.abort();
  await Promise.all([watch.run, listed.run]);
  console.log(JSON.stringify({ watch: watch.figures, relist: listed.figures, reconcile: loop }));
} finally {
  stop.abort();
  client.close();
  await cp.stop();
}
