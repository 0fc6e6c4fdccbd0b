import { resourceOfPath } from './transport.ts';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { KubeClient, resourceType, type WatchEvent } from './client.ts';
import type { ClusterAccess } from './config.ts';
import {
  type WriteRefusedError,
  isAlreadyExists,
  isConflict,
  isGone,
  isInvalid,
  isNotFound,
  isWriteRefused,
} from './errors.ts';
import { ConfigMaps, Namespaces } from './resources.ts';
import { WatchIdleError } from './transport.ts';
import type { ConfigMap, KubeObject } from './types.ts';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: Seen, res: http.ServerResponse) => void;

/** A loopback HTTP server standing in for the API server; each test sets `handler`. */
let server: http.Server;
let handler: Handler;
let seen: Seen[];
let access: ClusterAccess & { invalidations: number };
let client: KubeClient;

const Widgets = resourceType<KubeObject>({
  group: 'example.com',
  version: 'v1',
  kind: 'Widget',
  plural: 'widgets',
  namespaced: true,
});

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
}

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, body };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const agent = new http.Agent({ keepAlive: true });
  access = {
    server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    namespace: undefined,
    invalidations: 0,
    connection: async () => ({ agent, headers: { Authorization: `Bearer token-${access.invalidations}` } }),
    invalidate: () => access.invalidations++,
    close: () => agent.destroy(),
  };
  client = new KubeClient(access, { fieldManager: 'tests' });
});

after(() => {
  client.close();
  server.closeAllConnections();
  server.close();
});

beforeEach(() => {
  seen = [];
  access.invalidations = 0;
  handler = (_req, res) => json(res, 200, {});
});

describe('ResourceClient', () => {
  it('builds paths for core and group kinds, namespaced and cluster-scoped', () => {
    assert.equal(client.resource(ConfigMaps).path('ns', 'a b'), '/api/v1/namespaces/ns/configmaps/a%20b');
    assert.equal(client.resource(Namespaces).path(undefined, 'n'), '/api/v1/namespaces/n');
    assert.equal(
      client.resource(Widgets).path('ns', 'w', 'status'),
      '/apis/example.com/v1/namespaces/ns/widgets/w/status',
    );
    assert.throws(() => client.resource(Widgets).path(undefined, 'w'), /namespaced/);
  });

  it('sends the credentials and fills apiVersion/kind that lists leave out', async () => {
    handler = (_req, res) =>
      json(res, 200, {
        kind: 'ConfigMapList',
        metadata: { resourceVersion: '7' },
        items: [{ metadata: { name: 'a' } }],
      });
    const list = await client.resource(ConfigMaps).list({ namespace: 'ns', labelSelector: 'a=b' });
    assert.equal(seen[0]!.headers.authorization, 'Bearer token-0');
    assert.equal(seen[0]!.url, '/api/v1/namespaces/ns/configmaps?labelSelector=a%3Db');
    assert.deepEqual(list.items[0], { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } });
  });

  it('pages through a LIST with limit and continue', async () => {
    handler = (req, res) => {
      const page = Number(new URL(req.url, 'http://x').searchParams.get('continue') ?? '0');
      json(res, 200, {
        metadata: { resourceVersion: '42', continue: page < 2 ? String(page + 1) : undefined },
        items: [{ metadata: { name: `item-${page}` } }],
      });
    };
    const all = await client.resource(ConfigMaps).listAll({ limit: 1 });
    assert.deepEqual(
      all.items.map((i) => i.metadata.name),
      ['item-0', 'item-1', 'item-2'],
    );
    assert.equal(all.resourceVersion, '42');
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/api/v1/configmaps?limit=1', '/api/v1/configmaps?limit=1&continue=1', '/api/v1/configmaps?limit=1&continue=2'],
    );
  });

  it('turns API errors into typed errors carrying the server message', async () => {
    const cases: [number, string, (e: unknown) => boolean][] = [
      [409, 'Conflict', isConflict],
      [409, 'AlreadyExists', isAlreadyExists],
      [404, 'NotFound', isNotFound],
      [410, 'Expired', isGone],
      [422, 'Invalid', isInvalid],
    ];
    for (const [code, reason, is] of cases) {
      handler = (_req, res) => json(res, code, status(code, reason, `server says ${reason}`));
      const err = await client
        .resource(ConfigMaps)
        .get({ namespace: 'ns', name: 'x' })
        .then(
          () => assert.fail('no error'),
          (e: unknown) => e,
        );
      assert.ok(is(err), reason);
      assert.equal((err as Error).message, `server says ${reason}`);
      assert.equal((err as { request: string }).request, 'GET /api/v1/namespaces/ns/configmaps/x');
    }
    handler = (_req, res) => json(res, 409, status(409, 'AlreadyExists', 'exists'));
    const err = await client
      .resource(ConfigMaps)
      .create({ metadata: { namespace: 'ns', name: 'x' } })
      .catch((e) => e);
    assert.equal(isConflict(err), false, 'AlreadyExists is not a Conflict');
    handler = (_req, res) => res.writeHead(409).end('not json');
    assert.ok(
      isConflict(
        await client
          .resource(ConfigMaps)
          .get({ namespace: 'ns', name: 'x' })
          .catch((e) => e),
      ),
    );
  });

  it('re-derives credentials once on 401', async () => {
    handler = (req, res) =>
      req.headers.authorization === 'Bearer token-1' ? json(res, 200, { metadata: { name: 'x' } }) : json(res, 401, {});
    await client.resource(ConfigMaps).get({ namespace: 'ns', name: 'x' });
    assert.equal(access.invalidations, 1);
    assert.equal(seen.length, 2);
  });

  it('writes: field manager, optimistic update, status, patch types, apply, delete options', async () => {
    handler = (req, res) =>
      json(res, 200, JSON.parse(req.body || '{}').metadata ? JSON.parse(req.body) : { metadata: {} });
    const cms = client.resource(ConfigMaps);
    const obj: ConfigMap = { metadata: { namespace: 'ns', name: 'x', resourceVersion: '5' }, data: { a: '1' } };
    await cms.create(obj);
    await cms.update(obj);
    await client.resource(Widgets).updateStatus({ metadata: { namespace: 'ns', name: 'w', resourceVersion: '3' } });
    await cms.patch({ namespace: 'ns', name: 'x' }, { data: { b: '2' } });
    await cms.patch({ namespace: 'ns', name: 'x' }, [{ op: 'remove', path: '/data/a' }], { type: 'json' });
    await client.resource(Widgets).patchStatus({ namespace: 'ns', name: 'w' }, { status: {} });
    await cms.apply({ metadata: { namespace: 'ns', name: 'x' }, data: { c: '3' } }, { force: true });
    await cms.delete(
      { namespace: 'ns', name: 'x' },
      { preconditions: { uid: 'u', resourceVersion: '5' }, propagationPolicy: 'Foreground' },
    );
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.url} ${s.headers['content-type'] ?? ''}`),
      [
        'POST /api/v1/namespaces/ns/configmaps?fieldManager=tests application/json',
        'PUT /api/v1/namespaces/ns/configmaps/x?fieldManager=tests application/json',
        'PUT /apis/example.com/v1/namespaces/ns/widgets/w/status?fieldManager=tests application/json',
        'PATCH /api/v1/namespaces/ns/configmaps/x?fieldManager=tests application/merge-patch+json',
        'PATCH /api/v1/namespaces/ns/configmaps/x?fieldManager=tests application/json-patch+json',
        'PATCH /apis/example.com/v1/namespaces/ns/widgets/w/status?fieldManager=tests application/merge-patch+json',
        'PATCH /api/v1/namespaces/ns/configmaps/x?fieldManager=tests&force=true application/apply-patch+yaml',
        'DELETE /api/v1/namespaces/ns/configmaps/x application/json',
      ],
    );
    assert.equal(JSON.parse(seen[0]!.body).kind, 'ConfigMap', 'create fills apiVersion/kind');
    assert.equal(JSON.parse(seen[1]!.body).metadata.resourceVersion, '5', 'update carries the resourceVersion');
    assert.deepEqual(JSON.parse(seen[7]!.body), {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { uid: 'u', resourceVersion: '5' },
      propagationPolicy: 'Foreground',
    });
  });

  it('retries an idempotent request once when a reused keep-alive connection turns out closed', async () => {
    const served = new WeakSet<object>();
    handler = (req, res) => {
      const socket = res.socket!;
      if (served.has(socket) && req.url.includes('stale')) {
        socket.destroy(); // as a server closing an idle connection the moment we reuse it
        return;
      }
      served.add(socket);
      json(res, 200, { metadata: { name: 'x' } });
    };
    const cms = client.resource(ConfigMaps);
    await cms.get({ namespace: 'ns', name: 'warm-up' });
    assert.equal((await cms.get({ namespace: 'ns', name: 'stale' })).metadata.name, 'x');
    assert.equal(seen.filter((s) => s.url.includes('stale')).length, 2, 'reset on the reused socket, then retried');
    await cms.get({ namespace: 'ns', name: 'warm-up' });
    await assert.rejects(
      cms.create({ metadata: { namespace: 'stale', name: 'x' } }),
      (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET',
      'a POST is not repeated',
    );
    assert.equal(seen.filter((s) => s.url.includes('stale')).length, 3);
  });

  it('gives up on a request the server does not answer in time', async () => {
    handler = () => {};
    const impatient = new KubeClient(access, { timeoutMs: 100 });
    await assert.rejects(impatient.resource(ConfigMaps).get({ namespace: 'ns', name: 'x' }), /no answer within 100 ms/);
  });
});

describe('KubeClient.withWriteGate', () => {
  it('reads pass; writes go out only while the gate is open, refused at once once it closed', async () => {
    let gate = new AbortController();
    const gated = client.withWriteGate(() => gate.signal).resource(ConfigMaps);
    await gated.create({ metadata: { namespace: 'ns', name: 'a' } });
    gate.abort(new Error('not the leader'));
    const cases: [string, () => Promise<unknown>][] = [
      ['POST', () => gated.create({ metadata: { namespace: 'ns', name: 'b' } })],
      ['PUT', () => gated.update({ metadata: { namespace: 'ns', name: 'b', resourceVersion: '1' } })],
      ['PATCH', () => gated.patch({ namespace: 'ns', name: 'b' }, { data: {} })],
      ['DELETE', () => gated.delete({ namespace: 'ns', name: 'b' })],
    ];
    for (const [method, write] of cases) {
      const err = await write().catch((e: unknown) => e);
      assert.ok(isWriteRefused(err), method);
      assert.equal((err as WriteRefusedError).inFlight, false);
      assert.match(
        (err as Error).message,
        new RegExp(`^${method} /api/v1/namespaces/ns/configmaps.* not sent: not the leader$`),
      );
    }
    await gated.get({ namespace: 'ns', name: 'a' });
    await gated.list({ namespace: 'ns' });
    assert.deepEqual(
      seen.map((s) => s.method),
      ['POST', 'GET', 'GET'],
      'no refused write reached the server',
    );
    gate = new AbortController();
    await gated.create({ metadata: { namespace: 'ns', name: 'c' } });
    assert.equal(seen.length, 4, 'the gate is asked per request');
  });

  it('a gate closing while a write is in flight cuts it off; the ungated client is not affected', async () => {
    const gate = new AbortController();
    const gated = client.withWriteGate(() => gate.signal).resource(ConfigMaps);
    const arrived = new Promise<void>((resolve) => (handler = () => resolve())); // never answers
    const writing = gated.patch({ namespace: 'ns', name: 'x' }, { data: {} }).catch((e: unknown) => e);
    await arrived;
    gate.abort(new Error('lease lost'));
    const err = await writing;
    assert.ok(isWriteRefused(err));
    assert.equal((err as WriteRefusedError).inFlight, true);
    assert.equal((err as Error).message, 'PATCH /api/v1/namespaces/ns/configmaps/x aborted in flight: lease lost');
    handler = (_req, res) => json(res, 200, { metadata: {} });
    await client.resource(ConfigMaps).create({ metadata: { namespace: 'ns', name: 'y' } });
  });

  it("the caller's signal cuts a write off too; a settled write leaves nothing listening on either signal", async () => {
    const gate = new AbortController();
    const caller = new AbortController();
    const gated = client.withWriteGate(() => gate.signal).resource(ConfigMaps);
    await gated.patch({ namespace: 'ns', name: 'x' }, { data: {} }, { signal: caller.signal });
    const arrived = new Promise<void>((resolve) => (handler = () => resolve())); // never answers
    const writing = gated
      .patch({ namespace: 'ns', name: 'x' }, { data: {} }, { signal: caller.signal })
      .catch((e: unknown) => e);
    await arrived;
    caller.abort(new Error('shutting down'));
    const err = (await writing) as Error;
    assert.equal(isWriteRefused(err), false, 'the gate is still open');
    assert.equal(err.message, 'PATCH /api/v1/namespaces/ns/configmaps/x: aborted');
    assert.equal((err.cause as Error).message, 'shutting down');
    assert.equal(getEventListeners(gate.signal, 'abort').length, 0);
    assert.equal(getEventListeners(caller.signal, 'abort').length, 0);
  });
});

describe('ResourceClient.watch', () => {
  function collect() {
    const events: WatchEvent<ConfigMap>[] = [];
    return { events, onEvent: (e: WatchEvent<ConfigMap>) => events.push(e) };
  }

  it('streams events split across chunks, sends the watch parameters, resolves when the server ends', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const lines =
        JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '2' } } }) +
        '\n' +
        JSON.stringify({ type: 'BOOKMARK', object: { kind: 'ConfigMap', metadata: { resourceVersion: '3' } } }) +
        '\n' +
        JSON.stringify({ type: 'DELETED', object: { metadata: { name: 'a', resourceVersion: '4' } } }) +
        '\n';
      // Byte by byte in three writes: line boundaries never match chunk boundaries.
      res.write(lines.slice(0, 10));
      setImmediate(() => {
        res.write(lines.slice(10, 100));
        setImmediate(() => res.end(lines.slice(100)));
      });
    };
    const { events, onEvent } = collect();
    await client
      .resource(ConfigMaps)
      .watch({ namespace: 'ns', resourceVersion: '1', allowWatchBookmarks: true, timeoutSeconds: 300 }, onEvent);
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.object.metadata.resourceVersion} ${e.object.kind}`),
      ['ADDED 2 ConfigMap', 'BOOKMARK 3 ConfigMap', 'DELETED 4 ConfigMap'],
    );
    assert.equal(
      seen[0]!.url,
      '/api/v1/namespaces/ns/configmaps?watch=true&resourceVersion=1&allowWatchBookmarks=true&timeoutSeconds=300',
    );
  });

  it('rejects with a 410 ApiError on an ERROR event, and with an ApiError on a non-200 answer', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write(
        JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version: 1 (5)') }) + '\n',
      );
    };
    const err = await client
      .resource(ConfigMaps)
      .watch({}, () => {})
      .catch((e) => e);
    assert.ok(isGone(err));
    assert.match(err.message, /too old resource version/);
    handler = (_req, res) => json(res, 403, status(403, 'Forbidden', 'no'));
    await assert.rejects(
      client.resource(ConfigMaps).watch({}, () => {}),
      /no/,
    );
  });

  it('the idle watchdog ends a watch that went silent; abort ends it quietly', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write(JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } }) + '\n');
    };
    const { events, onEvent } = collect();
    await assert.rejects(client.resource(ConfigMaps).watch({ idleTimeoutMs: 50 }, onEvent), WatchIdleError);
    assert.equal(events.length, 1);
    const ac = new AbortController();
    await client.resource(ConfigMaps).watch({ signal: ac.signal }, () => ac.abort());
  });

  it('a connection cut mid-stream is an error, not a clean end', async () => {
    handler = (req, res) => {
      res.writeHead(200);
      res.write(JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } }) + '\n', () =>
        res.socket?.destroy(),
      );
    };
    await assert.rejects(client.resource(ConfigMaps).watch({}, () => {}));
  });
});

describe('resourceOfPath', () => {
  it('names the resource and subresource a request addresses, for request metrics', () => {
    assert.equal(resourceOfPath('/api/v1/namespaces/ns/configmaps/x'), 'configmaps');
    assert.equal(resourceOfPath('/api/v1/namespaces/ns/configmaps'), 'configmaps');
    assert.equal(resourceOfPath('/api/v1/namespaces/ns'), 'namespaces');
    assert.equal(
      resourceOfPath('/apis/ipam.cluster.x-k8s.io/v1beta2/namespaces/ns/ipaddressclaims/c/status'),
      'ipaddressclaims/status',
    );
    assert.equal(
      resourceOfPath('/apis/ipam.k0rdent.mirantis.com/v1alpha1/ipaddressreservations/ipv4-10-0-0-1?x=1'),
      'ipaddressreservations',
    );
  });
});
