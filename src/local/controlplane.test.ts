import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { buildProgress, freePort, preferredPort } from './controlplane.ts';

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
