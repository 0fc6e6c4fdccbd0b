// A Secret volume as the kubelet maintains it (its AtomicWriter): the files live in a timestamped directory that the
// `..data` link points to, and each name links into `..data`; an update writes a new directory and renames `..data`.
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServingCertificate } from '../../src/admission/certs.ts';

/** Writes `files` into the volume at `dir` at once, as the kubelet does when the Secret changes. */
export async function mountSecret(dir: string, files: Record<string, string>): Promise<void> {
  const version = `..${Date.now()}_${Math.random().toString(36).slice(2)}`;
  await mkdir(join(dir, version));
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, version, name), content);
  await symlink(version, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const name of Object.keys(files)) await symlink(join('..data', name), join(dir, name)).catch(() => {});
}

/** A kubernetes.io/tls Secret's files (with the CA, as cert-manager writes them). */
export function tlsFiles(cert: ServingCertificate): Record<string, string> {
  return { 'ca.crt': cert.caPem, 'tls.crt': cert.certPem, 'tls.key': cert.keyPem };
}
