import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../runtime/index.ts';
import { followServingCertificate, readServingCertificate } from './cert-dir.ts';
import { selfSignedServingCertificate, type ServingCertificate } from './certs.ts';
import { mountSecret, tlsFiles } from '../../test/support/secret-volume.ts';

describe('the webhook certificate from a directory', () => {
  it('reads a mounted certificate, or none, and refuses a partial one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cert-dir-'));
    try {
      assert.equal(await readServingCertificate(dir), undefined);
      await writeFile(join(dir, 'tls.crt'), 'CERT');
      await writeFile(join(dir, 'tls.key'), 'KEY');
      await assert.rejects(readServingCertificate(dir), /ca\.crt missing/);
      await writeFile(join(dir, 'ca.crt'), 'CA');
      assert.deepEqual(await readServingCertificate(dir), { caPem: 'CA', certPem: 'CERT', keyPem: 'KEY' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports each renewal once it is complete: a key that is not the certificate’s is not taken', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cert-dir-'));
    const stop = new AbortController();
    try {
      const first = selfSignedServingCertificate(['127.0.0.1']);
      await mountSecret(dir, tlsFiles(first));
      const seen: ServingCertificate[] = [];
      const waiting = new Set<() => void>();
      followServingCertificate(
        dir,
        first,
        (cert) => {
          seen.push(cert);
          for (const check of waiting) check();
        },
        { signal: stop.signal, logger: silentLogger },
      );
      const reported = (cert: ServingCertificate) =>
        new Promise<void>((resolve) => {
          const check = () => seen.at(-1)?.certPem === cert.certPem && seen.at(-1)?.caPem === cert.caPem && resolve();
          waiting.add(check);
          check();
        });

      const second = selfSignedServingCertificate(['127.0.0.1']);
      await mountSecret(dir, tlsFiles(second));
      await reported(second);
      assert.deepEqual(seen, [second]);

      // Written file by file: whatever is seen in between, no certificate is reported with another one's key.
      const third = selfSignedServingCertificate(['127.0.0.1']);
      await rm(join(dir, 'tls.crt'));
      await writeFile(join(dir, 'tls.crt'), third.certPem);
      await rm(join(dir, 'tls.key'));
      await writeFile(join(dir, 'tls.key'), third.keyPem);
      await rm(join(dir, 'ca.crt'));
      await writeFile(join(dir, 'ca.crt'), third.caPem);
      await reported(third);
      assert.deepEqual(seen.at(-1), third);
      assert.ok(
        seen.every((c) => [second, third].some((pair) => c.certPem === pair.certPem && c.keyPem === pair.keyPem)),
        'no certificate was reported with another one’s key',
      );
    } finally {
      stop.abort();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
