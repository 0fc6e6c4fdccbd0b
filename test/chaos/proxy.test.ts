// The chaos proxy on its own, in front of a TCP echo server: what a partition does to connections open through it
// and to new ones, and that healing lets them through again.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { ChaosProxy, rewriteKubeconfig } from './proxy.ts';

let echo: Server;
let echoPort: number;

before(async () => {
  echo = createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((ok) => echo.listen(0, '127.0.0.1', ok));
  echoPort = (echo.address() as { port: number }).port;
});
after(() => new Promise<void>((ok) => echo.close(() => ok())));

function connect(port: number): Promise<Socket> {
  return new Promise((ok, fail) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => ok(s));
    s.once('error', fail);
  });
}

/** Writes `text` and resolves with what comes back, or with `undefined` when the socket closes first. */
function roundTrip(s: Socket, text: string): Promise<string | undefined> {
  return new Promise((ok) => {
    let got = '';
    const onData = (c: Buffer) => {
      got += c.toString();
      if (got.length >= text.length) done(got);
    };
    const onClose = () => done(undefined);
    const done = (v: string | undefined) => {
      s.off('data', onData);
      s.off('close', onClose);
      ok(v);
    };
    s.on('data', onData);
    s.once('close', onClose);
    s.on('error', () => {});
    s.write(text);
  });
}

const closed = (s: Socket) => new Promise<void>((ok) => (s.destroyed ? ok() : s.once('close', () => ok())));

describe('chaos proxy', () => {
  it('forwards; a partition drops open connections and blackholes new ones; heal lets them through', async () => {
    const proxy = new ChaosProxy({ host: '127.0.0.1', port: echoPort });
    await proxy.start();
    try {
      const a = await connect(proxy.port);
      assert.equal(await roundTrip(a, 'hello'), 'hello');
      assert.equal(proxy.connections, 1);

      proxy.partition();
      await closed(a);
      assert.equal(a.destroyed, true);
      assert.equal(proxy.connections, 0);

      // A new connection is accepted (TCP) but nothing comes back while partitioned.
      const b = await connect(proxy.port);
      const answer = roundTrip(b, 'anyone?');
      const silent = await Promise.race([answer, new Promise((ok) => setTimeout(() => ok('silence'), 300))]);
      assert.equal(silent, 'silence');

      proxy.heal();
      assert.equal(await answer, undefined, 'the blackholed connection is reset on heal');
      const c = await connect(proxy.port);
      assert.equal(await roundTrip(c, 'back'), 'back');
      c.destroy();
      assert.deepEqual(
        { partitions: proxy.stats.partitions, dropped: proxy.stats.dropped, accepted: proxy.stats.accepted },
        { partitions: 1, dropped: 2, accepted: 3 },
      );
    } finally {
      await proxy.close();
    }
  });

  it('refuse mode resets new connections at once', async () => {
    const proxy = new ChaosProxy({ host: '127.0.0.1', port: echoPort });
    await proxy.start();
    try {
      proxy.partition('refuse');
      const s = await connect(proxy.port).catch(() => undefined);
      if (s) assert.equal(await roundTrip(s, 'x'), undefined);
      proxy.heal();
      const t = await connect(proxy.port);
      assert.equal(await roundTrip(t, 'y'), 'y');
      t.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('rewrites a kubeconfig to point at the proxy, keeping CA and credentials', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chaos-proxy-'));
    try {
      const src = join(dir, 'kubeconfig');
      await writeFile(
        src,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters:',
          '- name: local',
          '  cluster:',
          '    server: https://127.0.0.1:6443',
          '    certificate-authority: /ca.crt',
          'users:',
          '- name: admin',
          '  user:',
          '    token: t0k3n',
          'contexts:',
          '- name: local',
          '  context: {cluster: local, user: admin}',
          'current-context: local',
        ].join('\n'),
      );
      const dest = await rewriteKubeconfig(src, join(dir, 'proxied'), 'https://127.0.0.1:7000', 'localhost');
      const doc = parse(await readFile(dest, 'utf8'));
      assert.deepEqual(doc.clusters[0].cluster, {
        server: 'https://127.0.0.1:7000',
        'certificate-authority': '/ca.crt',
        'tls-server-name': 'localhost',
      });
      assert.equal(doc.users[0].user.token, 't0k3n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
