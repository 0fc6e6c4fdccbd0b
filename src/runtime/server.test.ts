import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBindAddress, serve } from './server.ts';

describe('probe and metrics server', () => {
  it('parses bind addresses like controller-runtime; 0 disables', () => {
    assert.deepEqual(parseBindAddress(':8080'), { host: undefined, port: 8080 });
    assert.deepEqual(parseBindAddress('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseBindAddress('[::1]:9443'), { host: '::1', port: 9443 });
    assert.equal(parseBindAddress('0'), undefined);
    assert.throws(() => parseBindAddress('8080'), /invalid bind address/);
    assert.throws(() => parseBindAddress(':70000'), /invalid port/);
  });

  it('serves its routes, 404 elsewhere, 405 for other methods, and closes', async () => {
    const serving = (await serve('127.0.0.1:0', { '/healthz': async () => ({ status: 200, body: 'ok' }) }))!;
    const base = `http://${serving.address}`;
    const ok = await fetch(`${base}/healthz?verbose`);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), 'ok');
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.equal((await fetch(`${base}/healthz`, { method: 'POST' })).status, 405);
    await serving.close();
    assert.equal(await serve('0', {}), undefined);
  });
});
