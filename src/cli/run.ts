// `cluster-ipam run`: the controller manager.
import { parseArgs } from 'node:util';
import { controllers } from '../controllers/index.ts';
import { KubeClient, inClusterNamespace } from '../kube/index.ts';
import {
  LeaderElectionLostError,
  Manager,
  createLogger,
  parseBindAddress,
  type ControllerSetup,
  type Logger,
  type ManagerOptions,
} from '../runtime/index.ts';

const usage = `usage: cluster-ipam run [flags]

Runs the controller manager against the current kubeconfig (or the in-cluster service account).

flags:
  --kubeconfig PATH                   kubeconfig to use (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --namespace NS                      namespace of the leader election Lease and of credentials Secrets
                                      (default: the pod's namespace, else cluster-ipam-system)
  --leader-elect[=true|false]         elect a leader so only one replica reconciles (default true)
  --leader-election-id NAME           name of the Lease (default cluster-ipam-leader)
  --metrics-bind-address ADDR         /metrics on [host]:port, 0 disables (default :8080)
  --health-probe-bind-address ADDR    /healthz and /readyz on [host]:port, 0 disables (default :8081)
  --workers N                         concurrent reconciles per controller (default 4)
  --log-level LEVEL                   trace, debug, info, warn, error (default info)
  -h, --help
`;

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface RunOptions {
  kubeconfig?: string;
  namespace: string;
  leaderElect: boolean;
  leaderElectionId: string;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  workers: number;
  logLevel: string;
}

export class UsageError extends Error {}

/** Parses `run` flags (Go flag style: `--flag value` or `--flag=value`); undefined for --help. */
export function parseRunArgs(argv: string[]): RunOptions | undefined {
  // node:util parseArgs has no `--flag=false` for booleans before Node 22: read it as a string, bare means true.
  const args = argv.map((arg, i) =>
    arg === '--leader-elect' && !['true', 'false'].includes(argv[i + 1] ?? '') ? '--leader-elect=true' : arg,
  );
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        'leader-elect': { type: 'string', default: 'true' },
        'leader-election-id': { type: 'string', default: 'cluster-ipam-leader' },
        'metrics-bind-address': { type: 'string', default: ':8080' },
        'health-probe-bind-address': { type: 'string', default: ':8081' },
        workers: { type: 'string', default: '4' },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return undefined;
  const leaderElect = values['leader-elect'];
  if (leaderElect !== 'true' && leaderElect !== 'false') throw new UsageError('--leader-elect must be true or false');
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 1) throw new UsageError('--workers must be a positive integer');
  if (!LOG_LEVELS.includes(values['log-level'])) throw new UsageError(`--log-level must be one of ${LOG_LEVELS}`);
  try {
    parseBindAddress(values['metrics-bind-address']);
    parseBindAddress(values['health-probe-bind-address']);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return {
    kubeconfig: values.kubeconfig,
    namespace: values.namespace || inClusterNamespace() || 'cluster-ipam-system',
    leaderElect: leaderElect === 'true',
    leaderElectionId: values['leader-election-id'],
    metricsBindAddress: values['metrics-bind-address'],
    healthProbeBindAddress: values['health-probe-bind-address'],
    workers,
    logLevel: values['log-level'],
  };
}

export interface StartOptions extends RunOptions {
  logger?: Logger;
  /** Passed through to the manager (tests tune informer watchdogs and lease timings here). */
  manager?: Partial<ManagerOptions>;
}

/**
 * Builds the client and the manager, sets up `setups` and runs until `signal` aborts. Used by the CLI with the
 * registry of src/controllers and by tests with their own controllers. Rejects with LeaderElectionLostError.
 */
export async function startManager(
  opts: StartOptions,
  setups: readonly ControllerSetup[],
  signal: AbortSignal,
): Promise<void> {
  const logger = opts.logger ?? createLogger({ level: opts.logLevel });
  const client = KubeClient.load({ kubeconfig: opts.kubeconfig, userAgent: 'cluster-ipam-manager' });
  try {
    const mgr = new Manager({
      client,
      logger,
      leaderElection: opts.leaderElect ? { namespace: opts.namespace, id: opts.leaderElectionId } : false,
      metricsBindAddress: opts.metricsBindAddress,
      healthProbeBindAddress: opts.healthProbeBindAddress,
      workers: opts.workers,
      ...opts.manager,
    });
    for (const setup of setups) {
      await setup.setup(mgr);
      logger.info({ controller: setup.name }, 'controller set up');
    }
    logger.info({ server: client.server, namespace: opts.namespace, identity: mgr.identity }, 'starting');
    await mgr.start(signal);
  } finally {
    client.close();
  }
}

/** `cluster-ipam run`; `setups` defaults to the registry in src/controllers (tests pass their own). */
export async function runCommand(argv: string[], setups: readonly ControllerSetup[] = controllers): Promise<number> {
  let opts: RunOptions | undefined;
  try {
    opts = parseRunArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`cluster-ipam run: ${err.message}\n${usage}`);
    return 2;
  }
  if (!opts) {
    process.stdout.write(usage);
    return 0;
  }
  const logger = createLogger({ level: opts.logLevel });
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stop.signal.aborted) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    logger.info({ signal }, 'shutting down');
    stop.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await startManager({ ...opts, logger }, setups, stop.signal);
    return 0;
  } catch (err) {
    if (err instanceof LeaderElectionLostError) {
      // Exit at once, as controller-runtime does: a reconcile still running must not write as a non-leader.
      process.exit(1);
    }
    throw err;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
