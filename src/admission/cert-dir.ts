// The webhook's serving certificate from a directory (a mounted Secret: tls.crt, tls.key, ca.crt), followed as it
// changes. cert-manager renews it before it expires (the chart's Certificate makes a new key each time,
// `rotationPolicy: Always`) and the kubelet swaps the mounted files; a webhook still serving the old certificate once
// the caBundle names the new CA makes the API server refuse every pool write (failurePolicy Fail).
import { watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../runtime/index.ts';
import type { ServingCertificate } from './certs.ts';

const files = ['ca.crt', 'tls.crt', 'tls.key'];

/** tls.crt, tls.key and ca.crt from `dir`; undefined when none is there (a CA is made then). */
export async function readServingCertificate(dir: string): Promise<ServingCertificate | undefined> {
  const [caPem, certPem, keyPem] = await Promise.all(
    files.map((n) =>
      readFile(join(dir, n), 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      }),
    ),
  );
  if (caPem === undefined && certPem === undefined && keyPem === undefined) return undefined;
  if (caPem === undefined || certPem === undefined || keyPem === undefined) {
    const missing = files.filter((_, i) => [caPem, certPem, keyPem][i] === undefined);
    throw new Error(`--webhook-cert-dir ${dir}: ${missing.join(', ')} missing (want ${files.join(', ')}, or none)`);
  }
  return { caPem, certPem, keyPem };
}

export interface FollowOptions {
  signal?: AbortSignal;
  logger: Logger;
  /** Re-read this often as well, in case the file system reports no change (default 60 s, the kubelet's pace). */
  pollMs?: number;
}

/**
 * Calls `changed` with the directory's certificate each time it differs from `current`, once it is complete and its
 * key matches it: files written one by one (not by the kubelet's atomic swap) are taken once all are there.
 */
export function followServingCertificate(
  dir: string,
  current: ServingCertificate,
  changed: (cert: ServingCertificate) => void,
  opts: FollowOptions,
): void {
  let reading: Promise<void> | undefined;
  let again = false;
  const reload = async (): Promise<void> => {
    const next = await readServingCertificate(dir);
    if (!next || sameCertificate(next, current)) return;
    createSecureContext({ cert: next.certPem, key: next.keyPem }); // throws unless the key is the certificate's
    current = next;
    changed(next);
  };
  const check = (): void => {
    if (reading) {
      again = true;
      return;
    }
    reading = reload()
      .catch((err: unknown) => opts.logger.debug({ err, dir }, 'webhook certificate not complete yet'))
      .finally(() => {
        reading = undefined;
        if (again && !opts.signal?.aborted) {
          again = false;
          check();
        }
      });
  };
  // The kubelet replaces a Secret volume's content by renaming its `..data` link: a change of the directory.
  const watcher = watch(dir, { persistent: false }, check);
  watcher.on('error', (err) => opts.logger.warn({ err, dir }, 'cannot watch the webhook certificate; polling it'));
  const poll = setInterval(check, opts.pollMs ?? 60_000).unref();
  opts.signal?.addEventListener(
    'abort',
    () => {
      watcher.close();
      clearInterval(poll);
    },
    { once: true },
  );
}

function sameCertificate(a: ServingCertificate, b: ServingCertificate): boolean {
  return a.caPem === b.caPem && a.certPem === b.certPem && a.keyPem === b.keyPem;
}
