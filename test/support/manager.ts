// Starts the controller manager in the test process against the test cluster, with the CRDs installed.
import { startManager, type StartOptions } from '../../src/cli/run.ts';
import { KubeClient } from '../../src/kube/index.ts';
import { installCRDs as installProductCRDs } from '../../src/local/install.ts';
import type { ControllerSetup } from '../../src/runtime/index.ts';
import { testKubeconfig } from './cluster.ts';

let crdsInstalled: Promise<void> | undefined;

/** Installs our CRDs once per process, as `local up` does, and waits until every one is Established. */
export function installCRDs(): Promise<void> {
  crdsInstalled ??= (async () => {
    const client = KubeClient.load({ kubeconfig: await testKubeconfig() });
    try {
      await installProductCRDs(client);
    } finally {
      client.close();
    }
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
  return startManagerOn(await testKubeconfig(), setups, opts);
}

/**
 * The manager on a control plane that has the CRDs already (privateControlPlane installs them), without touching the
 * shared one: a test file alone with its manager starts no second control plane.
 */
export function startManagerOn(
  kubeconfig: string,
  setups: readonly ControllerSetup[],
  opts: Partial<StartOptions> = {},
): TestManager {
  const abort = new AbortController();
  const done = startManager(
    {
      kubeconfig,
      namespace: 'default',
      leaderElect: false,
      leaderElectionId: 'cluster-ipam-test',
      metricsBindAddress: '0',
      healthProbeBindAddress: '0',
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
