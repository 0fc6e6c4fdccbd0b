// The informer against a real kube-apiserver that restarts, a network that breaks, and a real 410 Gone: nothing
// is missed, the cache ends equal to a fresh LIST. A dedicated control plane, since the API server is restarted.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigMaps, KubeClient, Namespaces, type ConfigMap } from '../../src/kube/index.ts';
import { startControlPlane, type ControlPlane } from '../../src/local/controlplane.ts';
import { Informer, objectKey } from '../../src/runtime/index.ts';
import { waitFor } from '../support/wait.ts';
import { TcpProxy } from './fixtures/tcp-proxy.ts';

const ns = 'watch-test';
let cp: ControlPlane;
let direct: KubeClient;
let proxy: TcpProxy;
let proxied: KubeClient;
const stop = new AbortController();
const runs: Promise<void>[] = [];

interface Seen {
  adds: string[];
  updates: string[];
  deletes: string[];
}

function informerWithLog(client: KubeClient, opts: { idleTimeoutMs?: number } = {}) {
  const informer = new Informer(client.resource(ConfigMaps), {
    namespace: ns,
    backoff: { initialMs: 100, maxMs: 1_000 },
    ...opts,
  });
  const seen: Seen = { adds: [], updates: [], deletes: [] };
  informer.addEventHandler({
    onAdd: (o) => seen.adds.push(o.metadata.name!),
    onUpdate: (_old, o) => seen.updates.push(o.metadata.name!),
    onDelete: (o) => seen.deletes.push(o.metadata.name!),
  });
  runs.push(informer.run(stop.signal));
  return { informer, seen };
}

/** The informer's view (key → resourceVersion) equals a fresh LIST from the API server. */
async function matchesServer(informer: Informer<ConfigMap>): Promise<boolean> {
  const { items } = await direct.resource(ConfigMaps).listAll({ namespace: ns });
  const server = items.map((o) => `${objectKey(o)}@${o.metadata.resourceVersion}`).sort();
  const cache = informer
    .list()
    .map((o) => `${objectKey(o)}@${o.metadata.resourceVersion}`)
    .sort();
  return JSON.stringify(server) === JSON.stringify(cache);
}

const cms = () => direct.resource(ConfigMaps);
const create = (name: string) => cms().create({ metadata: { namespace: ns, name }, data: { v: '1' } });
const update = (name: string) => cms().patch({ namespace: ns, name }, { data: { v: '2' } });
const remove = (name: string) => cms().delete({ namespace: ns, name });

before(async () => {
  cp = await startControlPlane({ gc: false });
  direct = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
  proxy = await TcpProxy.start({ host: '127.0.0.1', port: Number(new URL(cp.server).port) });
  proxied = KubeClient.load({ kubeconfig: await proxy.kubeconfig(cp.kubeconfigPath, join(cp.dir, 'proxied')) });
  await direct.resource(Namespaces).create({ metadata: { name: ns } });
});

after(async () => {
  stop.abort();
  await Promise.all(runs);
  proxied?.close();
  direct?.close();
  await proxy?.close();
  await cp?.stop();
});

describe('informer against a real API server', () => {
  let main: ReturnType<typeof informerWithLog>;

  it('a watch survives an API server restart and sees what happens after it', async () => {
    main = informerWithLog(proxied);
    await main.informer.waitForSync();
    for (const name of ['c1', 'c2', 'c3', 'c4', 'c5']) await create(name);
    await waitFor(() => main.informer.size === 5, { what: '5 objects cached' });

    await cp.restartAPIServer();
    await create('c6');
    await update('c1');
    await remove('c2');

    await waitFor(() => matchesServer(main.informer), { what: 'cache equal to a fresh LIST' });
    assert.ok(main.seen.adds.includes('c6'));
    assert.ok(main.seen.updates.includes('c1'));
    assert.ok(main.seen.deletes.includes('c2'));
  });

  it('after a real 410 Gone it relists and synthesises the updates and deletes it missed while away', async () => {
    const { informer, seen } = main;
    const expired = informer.stats.expired;
    const lists = informer.stats.lists;
    proxy.cut(); // the informer is away: its watch is reset, its retries are refused
    await create('c7');
    await update('c3');
    await remove('c4');
    // The restarted API server's watch cache starts after these writes, so the informer's resourceVersion is
    // older than anything it can replay: resuming the watch gets 410 Gone from the real server.
    await cp.restartAPIServer();
    seen.adds.length = seen.updates.length = seen.deletes.length = 0;
    proxy.restore();

    await waitFor(() => matchesServer(informer), { what: 'cache equal to a fresh LIST' });
    assert.ok(informer.stats.expired > expired, 'the server answered 410');
    assert.ok(informer.stats.lists > lists, 'and the informer relisted');
    assert.deepEqual(seen, { adds: ['c7'], updates: ['c3'], deletes: ['c4'] });
  });

  it('the watchdog restarts a watch gone silent on a connection that stays open', async () => {
    const { informer } = informerWithLog(proxied, { idleTimeoutMs: 1_500 });
    await informer.waitForSync();
    await waitFor(() => informer.stats.watches > 0, { what: 'watching' });
    proxy.freeze(); // no FIN, no RST: just silence
    await create('c8');
    await waitFor(() => informer.get({ namespace: ns, name: 'c8' }), { what: 'c8 seen after the watchdog' });
    assert.ok(informer.stats.idleRestarts >= 1);
    assert.ok(await matchesServer(informer));
  });
});
