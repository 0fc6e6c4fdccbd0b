import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { againIfPortTaken, buildProgress, freePort, preferredPort } from './controlplane.ts';

describe('control plane build progress', () => {
  it('turns the build script output into steps: downloading modules, then compiling packages', () => {
    const seen: [string, string | undefined][] = [];
    const feed = buildProgress((step, detail) => seen.push([step, detail]));
    for (const line of [
      'building the control plane v1.34.1 (first build on this machine: about 4 minutes on 2 cores)...',
      'go: downloading k8s.io/kubernetes v1.34.1',
      'go: downloading go.etcd.io/etcd/server/v3 v3.6.4',
      'internal/goarch',
      'k8s.io/apiserver/pkg/server',
      'go: some other message',
      '',
      'built in 248s: /home/u/.cache/cluster-ipam/controlplane-0123',
    ]) {
      feed(line);
    }
    assert.deepEqual(seen, [
      ['building the control plane from Go modules (first run only, ~4 min on 2 cores)', undefined],
      ['building the control plane: downloading modules', '1: k8s.io/kubernetes v1.34.1'],
      ['building the control plane: downloading modules', '2: go.etcd.io/etcd/server/v3 v3.6.4'],
      ['building the control plane: compiling', '1 packages, internal/goarch'],
      ['building the control plane: compiling', '2 packages, k8s.io/apiserver/pkg/server'],
      ['control plane built', 'built in 248s'],
    ]);
  });
});

describe('preferredPort', () => {
  it('gives the wanted port when it is free, and another free one when something listens there', async () => {
    const wanted = await freePort();
    assert.equal(await preferredPort(wanted), wanted);
    const busy = createServer();
    await new Promise<void>((ok) => busy.listen(wanted, '127.0.0.1', ok));
    try {
      const got = await preferredPort(wanted);
      assert.notEqual(got, wanted);
      assert.ok(got > 0);
    } finally {
      await new Promise((ok) => busy.close(ok));
    }
  });
});

describe('againIfPortTaken', () => {
  const bind = (port: number) =>
    new Promise<ReturnType<typeof createServer>>((ok, fail) => {
      const srv = createServer();
      srv.once('error', fail);
      srv.listen(port, '127.0.0.1', () => ok(srv));
    });

  it('starts again on another port when the one found free was taken before it was bound', async () => {
    const taken = await bind(0);
    const stolen = (taken.address() as { port: number }).port;
    const tried: number[] = [];
    const said: string[] = [];
    try {
      // The first attempt chose a port another process took meanwhile; the next chooses again.
      const srv = await againIfPortTaken(
        async () => {
          const port = tried.length === 0 ? stolen : await freePort();
          tried.push(port);
          return bind(port);
        },
        (line) => said.push(line),
      );
      srv.close();
      assert.equal(tried.length, 2);
      assert.equal(tried[0], stolen);
      assert.notEqual(tried[1], stolen);
      assert.equal(said.length, 1);
    } finally {
      taken.close();
    }
  });

  it('gives up after its attempts, and never retries another failure', async () => {
    let calls = 0;
    await assert.rejects(
      againIfPortTaken(async () => {
        calls++;
        throw new Error('listen tcp 127.0.0.1:1: bind: address already in use');
      }),
      /address already in use/,
    );
    assert.equal(calls, 3);
    calls = 0;
    await assert.rejects(
      againIfPortTaken(async () => {
        calls++;
        throw new Error('etcd exited: data dir locked');
      }),
      /data dir locked/,
    );
    assert.equal(calls, 1);
  });
});
