// One control plane per test run: `npm test` starts it and exports CLUSTER_IPAM_TEST_KUBECONFIG; a test file run
// on its own starts a private one, torn down when the process exits. Tests isolate themselves by namespace, except
// from managers: every manager serves every claim of its control plane, so a file that runs managers takes a control
// plane of its own (`ownControlPlane`), else another file's manager races its own for the same claims (and which
// address a claim gets, or what a pool counts, is no longer the file's to assert).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { KubeClient } from '../../src/kube/index.ts';
import { startControlPlane, type ControlPlane } from '../../src/local/controlplane.ts';
import { installCRDs } from '../../src/local/install.ts';

let shared: Promise<string> | undefined;
let own = false;

/**
 * Every test of this file (process) runs on a control plane of the file's own, started at first use and torn down
 * when the process exits. Call at the top of a file that runs managers serving claims.
 */
export function ownControlPlane(): void {
  own = true;
}

export function testKubeconfig(): Promise<string> {
  const fromEnv = process.env.CLUSTER_IPAM_TEST_KUBECONFIG;
  if (fromEnv && !own) return Promise.resolve(fromEnv);
  shared ??= (own ? privateControlPlane() : startControlPlane()).then((cp) => cp.kubeconfigPath);
  return shared;
}

/**
 * A control plane of the test's own, with the project's CRDs, for tests that must be alone with their manager (no
 * other test file's manager serving their claims) or need a second cluster. Stop it when done.
 */
export function privateControlPlane(
  /** Also run before the garbage collector starts (e.g. more CRDs, so that it knows their kinds at once). */
  also?: (kubeconfig: string) => Promise<void>,
): Promise<ControlPlane> {
  return startControlPlane({
    beforeControllerManager: async (kubeconfig) => {
      const client = KubeClient.load({ kubeconfig });
      await installCRDs(client).finally(() => client.close());
      await also?.(kubeconfig);
    },
  });
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  input?: string;
  namespace?: string;
  /** Throw on a non-zero exit (default true). */
  check?: boolean;
}

/** Runs the real kubectl against `kubeconfig`; resolves with its exit code and output, whatever they are. */
export function kubectlAt(
  kubeconfig: string,
  args: string[],
  opts: Pick<KubectlOptions, 'input' | 'namespace'> = {},
): Promise<KubectlResult> {
  const fullArgs = ['--kubeconfig', kubeconfig, ...(opts.namespace ? ['-n', opts.namespace] : []), ...args];
  return new Promise<KubectlResult>((ok, fail) => {
    const child = spawn('kubectl', fullArgs, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', fail);
    child.on('close', (code) => ok({ code: code ?? -1, stdout, stderr }));
    child.stdin.on('error', () => {}); // kubectl may exit before it reads a large input
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs the real kubectl against the test cluster, as a user would. */
export async function kubectl(args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  const result = await kubectlAt(await testKubeconfig(), args, opts);
  if ((opts.check ?? true) && result.code !== 0) {
    throw new Error(`kubectl ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`);
  }
  return result;
}

/** A fresh namespace for one test. */
export async function testNamespace(prefix: string): Promise<string> {
  const name = `${prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  await kubectl(['create', 'namespace', name]);
  return name;
}
