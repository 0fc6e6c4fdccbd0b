// `cluster-ipam run`: the controller manager.
import { parseArgs } from 'node:util';
import { inClusterPoolWebhook, poolWebhookPath, type PoolWebhook } from '../admission/webhook.ts';
import { configureManager, referenceProviderGuard } from '../controllers/coexistence.ts';
import { controllers } from '../controllers/index.ts';
import { defaultClaimWorkers } from '../controllers/ipaddressclaim.ts';
import { planPage } from '../plan-page/serve.ts';
import { KubeClient, inClusterNamespace, isApiError } from '../kube/index.ts';
import {
  Backoff,
  LeaderElectionLostError,
  Manager,
  createLogger,
  parseBindAddress,
  sleep,
  type ControllerSetup,
  type Logger,
  type ManagerOptions,
} from '../runtime/index.ts';
import {
  adapterOf,
  controllersOff,
  discover,
  kcmModes,
  refusalMessage,
  refusedReferences,
  watchDiscovery,
  workflowControllers,
  type Discovery,
  type KcmMode,
} from './discovery.ts';

const usage = `usage: cluster-ipam run [flags]

Runs the controller manager against the current kubeconfig (or the in-cluster service account).

flags:
  --kubeconfig PATH                   kubeconfig to use (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --namespace NS                      namespace of the leader election Lease and of credentials Secrets
                                      (default: the pod's namespace, else cluster-ipam-system)
  --leader-elect[=true|false]         elect a leader so only one replica reconciles (default true)
  --leader-election-id NAME           name of the Lease (default cluster-ipam-leader)
  --leader-elect-lease-duration D     how long a lease holds without renewal: a standby replica takes over this
                                      long after the leader died (default 15s; Go durations: 500ms, 15s, 1m)
  --leader-elect-renew-deadline D     the leader stops reconciling if it cannot renew within this (default 10s)
  --leader-elect-retry-period D       how often replicas try to acquire or renew the lease (default 2s)
  --metrics-bind-address ADDR         /metrics on [host]:port, 0 disables (default :8080)
  --health-probe-bind-address ADDR    /healthz and /readyz on [host]:port, 0 disables (default :8081)
  --workers N                         concurrent reconciles per controller, IPAddressClaim's included (default 4,
                                      and ${defaultClaimWorkers} for IPAddressClaim)
  --ui-bind-address ADDR              the read-only address-plan page (/ and /plan.json) on [host]:port, 0 disables
                                      (default 0)
  --webhook-bind-address ADDR         the in-cluster pools' validating webhook (HTTPS) on [host]:port, 0 disables
                                      (default :9443); it is served and registered (ValidatingWebhookConfiguration
                                      cluster-ipam-in-cluster-pools, failurePolicy Fail) only when
                                      --webhook-service or --webhook-url says how the API server reaches it
  --webhook-service NAMESPACE/NAME    in the cluster: the Service (port 443) in front of the webhook port
  --webhook-url URL                   outside the cluster: the https URL the API server calls, e.g.
                                      https://127.0.0.1:9443 (the webhook path is added when the URL has none)
  --webhook-cert-dir DIR              serve tls.crt/tls.key from DIR and register ca.crt as the caBundle (e.g. a
                                      cert-manager Secret mounted there; reloaded when it changes); when
                                      DIR holds none of them, or without the flag, a CA is made at start
  --webhook-configuration MODE        register: apply the ValidatingWebhookConfiguration at start; none: leave it
                                      to the installer (the Helm chart owns it); default none in a pod, else register
  --controllers NAME,...              run only these controllers (default all: ${controllers.map((c) => c.name).join(', ')})
  --kcm auto|present|absent           k0rdent kcm runs the ClusterIPAMClaim workflow itself: where it is installed
                                      (detected from its CRDs: auto, the default) or said to be (present), the
                                      workflow controllers (${workflowControllers.join(', ')}) do not start;
                                      absent runs them even next to kcm's CRDs
  --take-over-from-reference-providers
                                      serve InClusterIPPool / GlobalInClusterIPPool / InfobloxIPPool claims and pools
                                      even while the reference in-cluster or Infoblox provider runs (detected from
                                      its Lease); without it their kinds are refused and every pool says why
  --default-infoblox-instance NAME    the InfobloxInstance for pools and claims that name none (kcm's Infoblox adapter
                                      writes such pools) (default $CLUSTER_IPAM_DEFAULT_INFOBLOX_INSTANCE)
  --rediscovery-interval SECONDS      look again this often at what was discovered at start (Cluster API version,
                                      kcm, reference providers); exit when it changed, so the Deployment restarts
                                      the manager with the new answer; 0 never looks again (default 30)
  --log-level LEVEL                   trace, debug, info, warn, error (default info)
  -h, --help
`;

/** Concurrent reconciles of each controller that has no default of its own, without `--workers`. */
const defaultWorkers = 4;

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface RunOptions {
  kubeconfig?: string;
  namespace: string;
  leaderElect: boolean;
  leaderElectionId: string;
  /** Lease timings (client-go defaults 15 s / 10 s / 2 s when absent). */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  metricsBindAddress: string;
  healthProbeBindAddress: string;
  /** `--workers`: every controller's, the claim controller's included; absent, each controller's default. */
  workers?: number;
  /** The address-plan page ([host]:port); absent: not served. */
  uiBindAddress?: string;
  logLevel: string;
  /** The pools' webhook: served only with `webhookService` or `webhookUrl` (absent: no webhook). */
  webhookBindAddress?: string;
  webhookService?: { namespace: string; name: string };
  webhookUrl?: string;
  webhookCertDir?: string;
  /** Register the webhook's configuration (default: not in a pod, where the chart owns it). */
  webhookConfiguration?: 'none' | 'register';
  /** Names of the controllers to run (default all). */
  controllers?: string[];
  /** Whether kcm is there (auto: detected at start; default auto). */
  kcm?: KcmMode;
  /** Serve the reference providers' kinds even while they run. */
  takeOverFromReferenceProviders?: boolean;
  /** The InfobloxInstance for pools and claims that name none. */
  defaultInfobloxInstance?: string;
  /** Discover again this often and stop (DiscoveryChangedError) when the answer changed; absent or 0: never. */
  rediscoveryIntervalMs?: number;
}

export class UsageError extends Error {}

/** How long start-up keeps retrying an API server it cannot reach before giving up (exit 1). */
const DISCOVERY_PATIENCE_MS = 5 * 60_000;

/**
 * Discovery at start, retried while the API server cannot be reached or answers 429/5xx (restarting, a network
 * blip): exiting at once would put a pod into crash-loop back-off for a passing fault. Refusals (401, 403) fail at
 * once: waiting does not fix them.
 */
export async function discoverPatiently<T>(
  attempt: () => Promise<T>,
  logger: Logger,
  signal: AbortSignal,
  { patienceMs = DISCOVERY_PATIENCE_MS, initialMs = 500 } = {},
): Promise<T> {
  const backoff = new Backoff({ initialMs, maxMs: 15_000 });
  const giveUpAt = Date.now() + patienceMs;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      const status = isApiError(err) ? err.statusCode : undefined;
      const transient = status === undefined || status === 429 || status >= 500;
      if (!transient || signal.aborted || Date.now() >= giveUpAt) throw err;
      const delay = backoff.next();
      logger.warn({ err, retryInMs: Math.round(delay) }, 'cannot read the cluster at start (discovery); retrying');
      await sleep(delay, signal);
    }
  }
}

/** A Go duration (`1h2m3.5s`, `500ms`) in ms; undefined if `text` is not one. */
export function parseDuration(text: string): number | undefined {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 1e-6 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== text) return undefined;
  return parts.reduce((ms, [, n, unit]) => ms + Number(n) * units[unit!]!, 0);
}

/** What the manager discovered at start no longer holds (see --rediscovery-interval): it stopped to start anew. */
export class DiscoveryChangedError extends Error {
  override readonly name = 'DiscoveryChangedError';
}

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
        'leader-elect-lease-duration': { type: 'string', default: '15s' },
        'leader-elect-renew-deadline': { type: 'string', default: '10s' },
        'leader-elect-retry-period': { type: 'string', default: '2s' },
        'metrics-bind-address': { type: 'string', default: ':8080' },
        'health-probe-bind-address': { type: 'string', default: ':8081' },
        workers: { type: 'string' },
        'ui-bind-address': { type: 'string', default: '0' },
        'log-level': { type: 'string', default: 'info' },
        'webhook-bind-address': { type: 'string', default: ':9443' },
        'webhook-service': { type: 'string' },
        'webhook-url': { type: 'string' },
        'webhook-cert-dir': { type: 'string' },
        'webhook-configuration': { type: 'string' },
        controllers: { type: 'string' },
        kcm: { type: 'string', default: 'auto' },
        'take-over-from-reference-providers': { type: 'boolean' },
        'default-infoblox-instance': { type: 'string' },
        'rediscovery-interval': { type: 'string', default: '30' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return undefined;
  const leaderElect = values['leader-elect'];
  if (leaderElect !== 'true' && leaderElect !== 'false') throw new UsageError('--leader-elect must be true or false');
  const [leaseDurationMs, renewDeadlineMs, retryPeriodMs] = (
    ['leader-elect-lease-duration', 'leader-elect-renew-deadline', 'leader-elect-retry-period'] as const
  ).map((flag) => {
    const ms = parseDuration(values[flag]);
    if (ms === undefined || ms <= 0) throw new UsageError(`--${flag} must be a positive duration such as 15s or 500ms`);
    return ms;
  }) as [number, number, number];
  if (leaseDurationMs <= renewDeadlineMs || renewDeadlineMs <= retryPeriodMs) {
    throw new UsageError(
      '--leader-elect-lease-duration must be longer than --leader-elect-renew-deadline, and that longer than --leader-elect-retry-period',
    );
  }
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && (!Number.isInteger(workers) || workers < 1)) {
    throw new UsageError('--workers must be a positive integer');
  }
  if (!LOG_LEVELS.includes(values['log-level'])) throw new UsageError(`--log-level must be one of ${LOG_LEVELS}`);
  try {
    parseBindAddress(values['metrics-bind-address']);
    parseBindAddress(values['health-probe-bind-address']);
    parseBindAddress(values['ui-bind-address']);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const webhook = parseWebhookFlags(values);
  const configuration = values['webhook-configuration'];
  if (configuration !== undefined && configuration !== 'none' && configuration !== 'register') {
    throw new UsageError('--webhook-configuration must be none or register');
  }
  const only = values.controllers?.split(',').filter(Boolean);
  const kcm = values.kcm as KcmMode;
  if (!kcmModes.includes(kcm)) throw new UsageError(`--kcm must be one of ${kcmModes.join(', ')}`);
  const rediscovery = Number(values['rediscovery-interval']);
  if (!Number.isFinite(rediscovery) || rediscovery < 0) {
    throw new UsageError('--rediscovery-interval must be a number of seconds, 0 or more');
  }
  const defaultInstance =
    values['default-infoblox-instance'] || process.env.CLUSTER_IPAM_DEFAULT_INFOBLOX_INSTANCE || undefined;
  return {
    kubeconfig: values.kubeconfig,
    namespace: values.namespace || inClusterNamespace() || 'cluster-ipam-system',
    leaderElect: leaderElect === 'true',
    leaderElectionId: values['leader-election-id'],
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    metricsBindAddress: values['metrics-bind-address'],
    healthProbeBindAddress: values['health-probe-bind-address'],
    ...(workers !== undefined ? { workers } : {}),
    ...(values['ui-bind-address'] !== '0' ? { uiBindAddress: values['ui-bind-address'] } : {}),
    logLevel: values['log-level'],
    ...webhook,
    ...(configuration ? { webhookConfiguration: configuration } : {}),
    ...(only ? { controllers: only } : {}),
    kcm,
    takeOverFromReferenceProviders: values['take-over-from-reference-providers'] ?? false,
    ...(defaultInstance ? { defaultInfobloxInstance: defaultInstance } : {}),
    rediscoveryIntervalMs: rediscovery * 1000,
  };
}

function parseWebhookFlags(values: {
  'webhook-bind-address': string;
  'webhook-service'?: string;
  'webhook-url'?: string;
  'webhook-cert-dir'?: string;
}): Pick<RunOptions, 'webhookBindAddress' | 'webhookService' | 'webhookUrl' | 'webhookCertDir'> {
  const bindAddress = values['webhook-bind-address'];
  let bind;
  try {
    bind = parseBindAddress(bindAddress);
  } catch (err) {
    throw new UsageError(`--webhook-bind-address: ${(err as Error).message}`);
  }
  const serviceFlag = values['webhook-service'];
  const urlFlag = values['webhook-url'];
  if (serviceFlag !== undefined && urlFlag !== undefined) {
    throw new UsageError('--webhook-service and --webhook-url exclude each other');
  }
  if (!bind && (serviceFlag !== undefined || urlFlag !== undefined)) {
    throw new UsageError(
      `--webhook-bind-address=${bindAddress} disables the webhook that --webhook-service or --webhook-url registers`,
    );
  }
  let service: RunOptions['webhookService'];
  if (serviceFlag !== undefined) {
    const [namespace, name, ...rest] = serviceFlag.split('/');
    if (!namespace || !name || rest.length) throw new UsageError('--webhook-service must be NAMESPACE/NAME');
    service = { namespace, name };
  }
  let url: string | undefined;
  if (urlFlag !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(urlFlag);
    } catch {
      throw new UsageError(`--webhook-url: "${urlFlag}" is not a URL`);
    }
    // The API server calls webhooks over HTTPS only.
    if (parsed.protocol !== 'https:') throw new UsageError('--webhook-url must be an https:// URL');
    if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = poolWebhookPath;
    url = parsed.toString();
  }
  return {
    webhookBindAddress: bindAddress,
    webhookService: service,
    webhookUrl: url,
    webhookCertDir: values['webhook-cert-dir'],
  };
}

/** The pools' webhook the options ask for, if any (see the usage of --webhook-*). */
export async function poolWebhookFor(opts: RunOptions, signal: AbortSignal): Promise<PoolWebhook | undefined> {
  const bind = parseBindAddress(opts.webhookBindAddress ?? '0');
  if (!bind || (!opts.webhookService && !opts.webhookUrl)) return undefined;
  return inClusterPoolWebhook({
    host: bind.host,
    port: bind.port,
    service: opts.webhookService,
    url: opts.webhookUrl,
    // The self-made certificate must name the host the API server dials, not the bind address.
    hosts: opts.webhookUrl ? [new URL(opts.webhookUrl).hostname.replace(/^\[(.*)\]$/, '$1')] : undefined,
    certificateDir: opts.webhookCertDir,
    register: (opts.webhookConfiguration ?? (inClusterNamespace() ? 'none' : 'register')) === 'register',
    signal,
  });
}

export interface StartOptions extends RunOptions {
  logger?: Logger;
  /** Passed through to the manager (tests tune informer watchdogs and lease timings here). */
  manager?: Partial<ManagerOptions>;
  /** Called with the pools' webhook once set up (when the options ask for one). */
  onWebhook?: (webhook: PoolWebhook) => void;
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
  const base = KubeClient.load({ kubeconfig: opts.kubeconfig, userAgent: 'cluster-ipam-manager' });
  try {
    let discovered: Discovery;
    try {
      discovered = await discoverPatiently(() => discover(base, { ...discoveryOptions(opts), signal }), logger, signal);
    } catch (err) {
      if (signal.aborted) return; // stopped before it started
      throw err;
    }
    const adapter = adapterOf(discovered);
    const client = adapter ? base.withAdapter(adapter) : base;
    setups = startedSetups(discovered, setups, logger);
    const refused = refusedReferences(discovered);
    const stop = new AbortController();
    const stopped = AbortSignal.any([signal, stop.signal]);
    const mgr = new Manager({
      client,
      logger,
      namespace: opts.namespace,
      leaderElection: opts.leaderElect
        ? {
            namespace: opts.namespace,
            id: opts.leaderElectionId,
            leaseDurationMs: opts.leaseDurationMs,
            renewDeadlineMs: opts.renewDeadlineMs,
            retryPeriodMs: opts.retryPeriodMs,
          }
        : false,
      metricsBindAddress: opts.metricsBindAddress,
      healthProbeBindAddress: opts.healthProbeBindAddress,
      workers: opts.workers ?? defaultWorkers,
      ...opts.manager,
    });
    configureManager(mgr, {
      workers: opts.workers,
      defaultInfobloxInstance: opts.defaultInfobloxInstance,
      claimRefField: discovered.claimRefField,
      refusedPoolKinds: new Map(refused.flatMap((r) => r.provider.poolKinds.map((k) => [k, refusalMessage(r)]))),
    });
    const webhook = await poolWebhookFor(opts, signal);
    if (webhook) opts.onWebhook?.(webhook);
    if (opts.uiBindAddress) {
      const page = planPage(opts.uiBindAddress);
      setups = [...setups, page];
      void page.url.then((url) => url && logger.info({ url }, 'address-plan page'));
    }
    for (const setup of webhook ? [...setups, webhook] : setups) {
      await setup.setup(mgr);
      logger.info({ controller: setup.name }, 'controller set up');
    }
    logger.info({ server: client.server, namespace: opts.namespace, identity: mgr.identity }, 'starting');
    let changed: string | undefined;
    const watching = opts.rediscoveryIntervalMs
      ? watchDiscovery(base, discovered, {
          ...discoveryOptions(opts),
          intervalMs: opts.rediscoveryIntervalMs,
          signal: stopped,
          onError: (err) => logger.warn({ err }, 'rediscovery failed; trying again at the next interval'),
        }).then((found) => {
          if (!found) return;
          changed = found.change;
          logger.warn({ change: changed }, 'what the manager discovered at start changed: stopping to start anew');
          stop.abort();
        })
      : undefined;
    try {
      await mgr.start(stopped);
    } finally {
      stop.abort();
      await watching;
    }
    if (changed !== undefined) throw new DiscoveryChangedError(changed);
  } finally {
    base.close();
  }
}

function discoveryOptions(opts: RunOptions) {
  return { kcm: opts.kcm, takeOverFromReferenceProviders: opts.takeOverFromReferenceProviders };
}

/** Logs what was discovered; the setups that start: those discovery leaves on, and the guard of refused pools. */
function startedSetups(d: Discovery, setups: readonly ControllerSetup[], logger: Logger): readonly ControllerSetup[] {
  logger.info({ version: d.capi.version, why: d.capi.why }, 'Cluster API IPAM version');
  logger.info({ present: d.kcm.present, why: d.kcm.why, claimRefField: d.claimRefField }, 'k0rdent kcm');
  for (const r of d.references) {
    const at = { provider: r.provider.name, lease: r.lease, holder: r.holder };
    if (d.takeOver) logger.warn(at, `${r.provider.title} is running; taking over its kinds as told`);
    else logger.error(at, refusalMessage(r));
  }
  const off = controllersOff(d);
  for (const s of setups) {
    const why = off.get(s.name);
    if (why) logger.warn({ controller: s.name, why }, 'controller not started');
  }
  const started = setups.filter((s) => !off.has(s.name));
  return refusedReferences(d).length > 0 ? [...started, referenceProviderGuard] : started;
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
  const unknown = opts.controllers?.filter((name) => !setups.some((s) => s.name === name)) ?? [];
  if (unknown.length) {
    process.stderr.write(`cluster-ipam run: --controllers: unknown ${unknown.join(', ')}\n${usage}`);
    return 2;
  }
  if (opts.controllers) setups = setups.filter((s) => opts.controllers!.includes(s.name));
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
    if (err instanceof DiscoveryChangedError) {
      // Stopped cleanly (lease released): the Deployment starts the manager again, which discovers anew.
      logger.error({ change: err.message }, 'exiting to be restarted with what the cluster now has');
      return 1;
    }
    throw err;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
