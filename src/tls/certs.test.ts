import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { selfSignedServingCertificate } from './certs.ts';

describe('self-signed serving certificate', () => {
  it('is a CA-signed certificate for the given hosts, parsed and verified by OpenSSL', () => {
    const c = selfSignedServingCertificate(['webhook.cluster-ipam.svc', '127.0.0.1', '::1']);
    const ca = new X509Certificate(c.caPem);
    const cert = new X509Certificate(c.certPem);
    assert.ok(ca.ca);
    assert.ok(!cert.ca);
    assert.ok(ca.verify(ca.publicKey), 'the CA signs itself');
    assert.ok(cert.verify(ca.publicKey), 'the CA signs the serving certificate');
    assert.ok(cert.checkIssued(ca));
    assert.equal(cert.checkHost('webhook.cluster-ipam.svc'), 'webhook.cluster-ipam.svc');
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(cert.checkIP('::1'), '::1');
    assert.equal(cert.checkIP('10.0.0.1'), undefined);
    assert.equal(cert.checkHost('other.example'), undefined);
    assert.ok(cert.checkPrivateKey(createPrivateKey(c.keyPem)));
    assert.ok(new Date(cert.validTo).getTime() > Date.now() + 300 * 86_400_000);
  });

  it('serves TLS that a client trusting only the CA accepts', async () => {
    const c = selfSignedServingCertificate(['127.0.0.1']);
    const server = https.createServer({ cert: c.certPem, key: c.keyPem }, (_, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const body = await new Promise<string>((ok, fail) => {
        https
          .get({ host: '127.0.0.1', port, ca: c.caPem, agent: false }, (res) => {
            let text = '';
            res.on('data', (d: Buffer) => (text += d.toString()));
            res.on('end', () => ok(text));
          })
          .on('error', fail);
      });
      assert.equal(body, 'ok');
    } finally {
      server.close();
    }
  });
});
