// Starts the controller manager in the test process against the test cluster, with the CRDs installed.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startManager, type StartOptions } from '../../src/cli/run.ts';
import type { ControllerSetup } from '../../src/runtime/index.ts';
import { kubectl, testKubeconfig } from './cluster.ts';

const crdDir = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'deploy/crds');
let crdsInstalled: Promise<void> | undefined;

/** Applies deploy/crds once per process and waits until every CRD is Established. */
export function installCRDs(): Promise<void> {
  crdsInstalled ??= (async () => {
    await kubectl(['apply', '--server-side', '--force-conflicts', '-f', crdDir]);
    await kubectl(['wait', '--for', 'condition=Established', '--timeout=60s', '-f', crdDir]);
  })();
  return crdsInstalled;
}

export interface TestManager {
  /** Rejects if the manager fails (it never resolves before `stop`). */
  done: Promise<void>;
  stop(): Promise<void>;
}

export async function startTestManager(
  setups: readonly ControllerSetup[],
  opts: Partial<StartOptions> = {},
): Promise<TestManager> {
  await installCRDs();
  const abort = new AbortController();
  const done = startManager(
    {
      kubeconfig: await testKubeconfig(),
      namespace: 'default',
      leaderElect: false,
      leaderElectionId: 'cluster-ipam-test',
      metricsBindAddress: '0',
      healthProbeBindAddress: '0',
      workers: 4,
      logLevel: process.env.CLUSTER_IPAM_TEST_LOG_LEVEL ?? 'warn',
      ...opts,
    },
    setups,
    abort.signal,
  );
  // Surface a crash at the test that awaits `done` or `stop`, not as an unhandled rejection.
  done.catch(() => {});
  return {
    done,
    async stop() {
      abort.abort();
      await done;
    },
  };
}
