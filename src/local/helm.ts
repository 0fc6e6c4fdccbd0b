// helm v3, built from its Go module by hack/build-helm.sh and cached like the control plane, for the chart's tests
// and `npm run gen:capi-components`. CLUSTER_IPAM_HELM_BIN points at another helm.
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const chartDir = join(repoRoot, 'deploy/chart');

let built: Promise<string> | undefined;

/** The helm binary's path (the first call on a machine builds it: minutes). */
export function helmBinary(): Promise<string> {
  const fromEnv = process.env.CLUSTER_IPAM_HELM_BIN;
  if (fromEnv) return Promise.resolve(fromEnv);
  built ??= promisify(execFile)('bash', [join(repoRoot, 'hack/build-helm.sh')], { maxBuffer: 1 << 20 }).then(
    ({ stdout }) => stdout.trim().split('\n').at(-1)!,
  );
  return built;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm; rejects with its stderr on a non-zero exit unless `check` is false. */
export async function helm(args: string[], opts: { check?: boolean; env?: NodeJS.ProcessEnv } = {}) {
  const bin = await helmBinary();
  const result = await new Promise<HelmResult>((ok) =>
    execFile(bin, args, { maxBuffer: 64 << 20, env: { ...process.env, ...opts.env } }, (err, stdout, stderr) =>
      ok({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
  if ((opts.check ?? true) && result.code !== 0) {
    throw new Error(`helm ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`);
  }
  return result;
}
