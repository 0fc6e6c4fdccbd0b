// `cluster-ipam local up|down`: a local control plane kept by a detached supervisor process, so that `up` can return
// while the control plane lives on (--bare, --detach), and `down` (or the supervisor's death) stops every process it
// started. Without them `up` shows the supervisor's progress, the example clusters' machines, and stays until Ctrl-C.
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { controllers } from '../controllers/index.ts';
import { KubeClient, Namespaces, type KubeObject, type Secret } from '../kube/index.ts';
import { freePort, preferredPort, startControlPlane, type ProgressListener } from '../local/controlplane.ts';
import { followMachines, formatSummary, simulateMachines, vsphereSummary, type Summary } from '../local/machines.ts';
import { startVSphereControlPlane, type VSphereControlPlane } from '../local/capi.ts';
import { followClusters } from '../local/vsphere-machines.ts';
import { applyManifests, installCRDs, readManifests, yamlFilesIn } from '../local/install.ts';
import { startWapiSimulator, type WapiSimulator } from '../infoblox/simulator/index.ts';
import { createLogger, type Logger } from '../runtime/index.ts';
import { sleep } from '../runtime/backoff.ts';
import { poolWebhookPath, type PoolWebhook } from '../admission/webhook.ts';
import { startManager } from './run.ts';

// The guide's in-cluster examples; the Infoblox ones are applied against the WAPI simulator (startInfobloxExamples).
export const exampleDirs = ['option1-cidr', 'option1-ip-addresses', 'option2-inline', 'in-cluster-pools'];
const infobloxExampleDirs = ['infoblox', 'infoblox-pool'];
export const examplesRoot = fileURLToPath(new URL('../../examples/', import.meta.url));
const examplesNamespace = 'examples';
/** The manager's metrics, health and address-plan page ports, or the next free ones where something else listens. */
const wellKnownPorts = { metrics: 8080, health: 8081, planPage: 8082 };

const defaultDir = () =>
  process.env.CLUSTER_IPAM_LOCAL_DIR ??
  join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local/state'), 'cluster-ipam/local');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function supervisorPid(dir: string): Promise<number | undefined> {
  const pid = Number(await readFile(join(dir, 'supervisor.pid'), 'utf8').catch(() => ''));
  return pid > 0 && alive(pid) ? pid : undefined;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string, logFile: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      throw new Error(`timed out waiting for ${what}; ${logFile}:\n${log.split('\n').slice(-30).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** How to stop the local mode in `dir`: with its --dir unless it is the default one. */
const downCommand = (dir: string) =>
  dir === resolve(defaultDir())
    ? '`npm run local:down` (cluster-ipam local down)'
    : `\`cluster-ipam local down --dir ${dir}\``;

interface UpOptions {
  watchPid: string | undefined;
  bare: boolean;
  claimsOnly: boolean;
  /** Return once ready instead of staying in the foreground until Ctrl-C (the control plane lives on either way). */
  detach: boolean;
}

async function up(dir: string, opts: UpOptions): Promise<number> {
  const kubeconfig = join(dir, 'controlplane/kubeconfig');
  const readyFile = join(dir, 'ready');
  if (!(await supervisorPid(dir))) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const logFile = join(dir, 'supervisor.log');
    const out = openSync(logFile, 'a');
    const serveArgs = ['local', 'serve', '--dir', dir, ...(opts.watchPid ? ['--watch-pid', opts.watchPid] : [])];
    if (opts.bare) serveArgs.push('--bare');
    if (opts.claimsOnly) serveArgs.push('--claims-only');
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...serveArgs], {
      detached: true,
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    child.unref();
    process.stderr.write(`local control plane starting (log: ${logFile})\n`);
    const progress = new ProgressDisplay(process.stderr);
    // Generous: the first run on a machine builds the control plane from source.
    try {
      await waitFor(
        async () => {
          progress.show(await readFile(join(dir, 'progress'), 'utf8').catch(() => ''));
          if (existsSync(readyFile)) return true;
          if (child.pid !== undefined && !alive(child.pid)) throw new Error(`the supervisor exited; see ${logFile}`);
          return false;
        },
        45 * 60_000,
        'the local control plane',
        logFile,
      );
    } finally {
      progress.end();
    }
  }
  const summary = await readFile(join(dir, 'summary.txt'), 'utf8').catch(() => '');
  if (summary) process.stdout.write(`\n${summary}`);
  if (!opts.bare && !opts.detach) {
    process.stdout.write(`Stop it: Ctrl-C here, or ${downCommand(dir)} from anywhere.\n`);
  } else if (!opts.bare) {
    process.stdout.write(`Stop it: ${downCommand(dir)}.\n`);
  }
  process.stdout.write(`KUBECONFIG=${resolve(kubeconfig)}\n`);
  if (opts.bare || opts.detach) return 0;
  return stayUp(dir);
}

/** Keeps `up` in the foreground: Ctrl-C (or SIGTERM) takes the control plane down; `local down` elsewhere ends us. */
async function stayUp(dir: string): Promise<number> {
  const pid = await supervisorPid(dir);
  if (!pid) return 1;
  const summaryFile = join(dir, 'summary.txt');
  let shown = await readFile(summaryFile, 'utf8').catch(() => '');
  const signalled = await new Promise<boolean>((done) => {
    const poll = setInterval(() => {
      if (!alive(pid)) return finish(false);
      // Live: the supervisor rewrites the summary when the machines or pools change.
      void readFile(summaryFile, 'utf8').then(
        (text) => {
          if (!text || text === shown) return;
          shown = text;
          process.stdout.write(`\n— changed at ${new Date().toTimeString().slice(0, 8)} —\n${text}`);
        },
        () => {},
      );
    }, 1000);
    const onSignal = () => finish(true);
    const finish = (bySignal: boolean) => {
      clearInterval(poll);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      done(bySignal);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  if (signalled) {
    process.stderr.write('\nstopping the local control plane…\n');
    return down(dir);
  }
  process.stderr.write('local control plane stopped\n');
  return 0;
}

export function elapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * The supervisor's progress file (one JSON line: step, detail, when the step began) shown to the user: on a TTY one
 * line rewritten in place, each finished step kept with its time; elsewhere a line per step and one every 15 s.
 */
export class ProgressDisplay {
  private step = '';
  private stepStarted = 0;
  private lastPrinted: number | undefined;
  private line = '';

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly now = () => Date.now(),
  ) {}

  show(progressFile: string): void {
    let p: { step?: string; detail?: string; at?: number };
    try {
      p = JSON.parse(progressFile) as typeof p;
    } catch {
      return;
    }
    if (!p.step) return;
    const now = this.now();
    if (p.step !== this.step) {
      this.finishStep(now);
      this.step = p.step;
      this.stepStarted = p.at ?? now;
      this.lastPrinted = undefined;
    }
    const text = `${p.step}${p.detail ? `: ${p.detail}` : ''} … ${elapsed(now - this.stepStarted)}`;
    if (this.out.isTTY) {
      const width = (this.out.columns || 100) - 1; // 0 in some pseudo-terminals
      this.line = text.length > width ? `${text.slice(0, width - 1)}…` : text;
      this.out.write(`\r\x1b[K${this.line}`);
    } else if (this.lastPrinted === undefined || now - this.lastPrinted >= 15_000) {
      this.out.write(`${text}\n`);
      this.lastPrinted = now;
    }
  }

  end(): void {
    this.finishStep(this.now());
  }

  private finishStep(now: number): void {
    if (!this.step) return;
    const done = `${this.step}: ${elapsed(now - this.stepStarted)}`;
    if (this.out.isTTY) this.out.write(`\r\x1b[K${done}\n`);
    else if (this.lastPrinted === undefined || now - this.lastPrinted >= 1000) this.out.write(`${done}\n`);
    this.step = '';
  }
}

/** The supervisor's side: the current step in `<dir>/progress`, which `up` polls; detail rewrites at most 4/s. */
function progressFile(dir: string): ProgressListener {
  const file = join(dir, 'progress');
  let step = '';
  let at = 0;
  let written = 0;
  return (next, detail) => {
    const now = Date.now();
    if (next === step && now - written < 250) return;
    if (next !== step) [step, at] = [next, now];
    written = now;
    writeFileSync(file, JSON.stringify({ step, detail, at }));
  };
}

async function down(dir: string): Promise<number> {
  const pid = await supervisorPid(dir);
  if (pid) {
    process.kill(pid, 'SIGTERM');
    await waitFor(async () => !alive(pid), 60_000, `supervisor ${pid} to stop`, join(dir, 'supervisor.log'));
  }
  await rm(dir, { recursive: true, force: true });
  process.stderr.write('local control plane stopped\n');
  return 0;
}

interface ServeOptions {
  watchPid: number | undefined;
  /** Only the control plane and the CRDs: no manager, no examples (what the tests want). */
  bare: boolean;
  /**
   * The example clusters' machines as IPAddressClaims made here, without Cluster API, CAPV and the vCenter simulator:
   * for a machine where those cannot be built.
   */
  claimsOnly: boolean;
}

async function serve(dir: string, opts: ServeOptions): Promise<number> {
  await writeFile(join(dir, 'supervisor.pid'), String(process.pid));
  const logger = createLogger({ level: 'info' });
  const progress = progressFile(dir);
  progress('finding the control plane binary');
  const controlPlaneOptions = { dir: join(dir, 'controlplane'), log: (line: string) => logger.info(line), progress };
  // The whole local mode runs Cluster API, CAPV and the vCenter simulator; --bare is the control plane alone.
  let vsphere: VSphereControlPlane | undefined;
  if (!opts.bare && !opts.claimsOnly) vsphere = await startVSphereControlPlane(controlPlaneOptions);
  const cp =
    vsphere?.cp ??
    (await startControlPlane({
      ...controlPlaneOptions,
      beforeControllerManager: async (kubeconfig) => {
        progress('installing CRDs');
        const client = KubeClient.load({ kubeconfig });
        try {
          await installCRDs(client);
        } finally {
          client.close();
        }
      },
    }));
  const stopManager = new AbortController();
  let manager: Promise<void> = Promise.resolve();
  let simulator: WapiSimulator | undefined;
  let following: Promise<void> = Promise.resolve();
  if (!opts.bare) {
    const client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
    await client
      .resource(Namespaces)
      .apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: examplesNamespace } });
    // The pools' webhook on loopback, so the local product refuses shrinking or deleting a pool in use as a real
    // deployment does.
    const webhookPort = await freePort();
    const [metricsPort, healthPort, planPagePort] = [
      await preferredPort(wellKnownPorts.metrics),
      await preferredPort(wellKnownPorts.health),
      await preferredPort(wellKnownPorts.planPage),
    ];
    const planPageAddress = `127.0.0.1:${planPagePort}`;
    let webhookSetUp!: (w: PoolWebhook) => void;
    const webhook = new Promise<PoolWebhook>((ok) => (webhookSetUp = ok));
    const managerOptions = {
      kubeconfig: cp.kubeconfigPath,
      namespace: examplesNamespace,
      leaderElect: false,
      leaderElectionId: 'cluster-ipam-leader',
      metricsBindAddress: `127.0.0.1:${metricsPort}`,
      healthProbeBindAddress: `127.0.0.1:${healthPort}`,
      uiBindAddress: planPageAddress,
      workers: 4,
      logLevel: 'info',
      webhookBindAddress: `127.0.0.1:${webhookPort}`,
      webhookUrl: `https://127.0.0.1:${webhookPort}${poolWebhookPath}`,
      logger,
      onWebhook: webhookSetUp,
    };
    progress('starting the manager');
    manager = startManager(managerOptions, controllers, stopManager.signal);
    progress('applying the examples');
    const files = (await Promise.all(exampleDirs.map((d) => yamlFilesIn(join(examplesRoot, d))))).flat();
    await applyManifests(client, await readManifests(files), examplesNamespace);
    progress('starting the WAPI simulator for the Infoblox examples');
    simulator = await startInfobloxExamples(client, dir, logger);
    logger.info({ namespace: examplesNamespace, files: files.length }, 'examples applied');
    // Ready means the webhook is registered too. A manager that failed is reported below.
    await Promise.race([webhook.then((w) => w.ready), manager]).catch(() => {});
    const planPage = `http://${planPageAddress}/`;
    const write = (s: Summary) =>
      writeFile(join(dir, 'summary.txt'), formatSummary(s, { kubeconfig: cp.kubeconfigPath, planPage }));
    if (vsphere) {
      const { bin, machines } = vsphere;
      progress("Cluster API is making the example clusters' machines");
      following = followClusters(client, {
        namespace: examplesNamespace,
        target: machines.target,
        signal: stopManager.signal,
        log: (line) => (logger.info(line), progress("Cluster API is making the example clusters' machines", line)),
      });
      const read = (timeoutMs: number) =>
        vsphereSummary(
          client,
          examplesNamespace,
          { bin, vcenter: machines.vcenter },
          { timeoutMs, signal: stopManager.signal },
        );
      // Generous: a first start clones a few dozen VMs on a busy 2-core machine.
      await write(await read(5 * 60_000));
      following = Promise.all([following, followSummary(() => read(0), write, stopManager.signal, logger)]).then(() =>
        client.close(),
      );
    } else {
      progress("making the example clusters' machines");
      const summary = await simulateMachines(client, {
        namespace: examplesNamespace,
        log: (line) => (logger.info(line), progress("making the example clusters' machines", line)),
      });
      await write(summary);
      following = followMachines(client, {
        namespace: examplesNamespace,
        initial: summary,
        signal: stopManager.signal,
        log: (line) => logger.info(line),
        onChange: write,
      }).finally(() => client.close());
    }
  }
  await writeFile(join(dir, 'ready'), cp.kubeconfigPath);
  logger.info(`ready: KUBECONFIG=${cp.kubeconfigPath}`);
  await new Promise<void>((done) => {
    // Doubles as the keep-alive: with --watch-pid (used by scripts/test.sh) we go when that process goes,
    // even if it was killed by SIGKILL and could not call `local down`.
    const keepAlive = setInterval(() => {
      if (opts.watchPid !== undefined && !alive(opts.watchPid)) stop();
    }, 1000);
    const stop = () => {
      clearInterval(keepAlive);
      done();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    manager.catch((err: unknown) => {
      logger.error({ err }, 'the manager stopped');
      stop();
    });
  });
  stopManager.abort();
  await following.catch(() => {});
  await manager.catch(() => {});
  await simulator?.close();
  await (vsphere ?? cp).stop();
  return 0;
}

/** Rewrites the summary whenever what it shows changes (machines scaled, replaced, addresses released). */
async function followSummary(
  read: () => Promise<Summary>,
  write: (s: Summary) => Promise<void>,
  signal: AbortSignal,
  logger: Logger,
): Promise<void> {
  let last = '';
  while (!signal.aborted) {
    try {
      const text = JSON.stringify(await read());
      if (text !== last) await write(JSON.parse(text) as Summary);
      last = text;
    } catch (err) {
      if (!signal.aborted) logger.warn({ err }, 'reading the summary');
    }
    await sleep(5000, signal);
  }
}

/**
 * The Infoblox examples against the WAPI simulator, in this process: it serves a network for the examples' claims
 * (their gateways already on it, as in a real data centre) and the zone of the pool's dnsZone, with the examples'
 * credentials; the example InfobloxInstance is pointed at it (host, port, and its CA as customCAPath). The example
 * claim is then bound and its machine's address shows as a host record (`curl` it: the log line gives URL and CA).
 */
async function startInfobloxExamples(client: KubeClient, dir: string, logger: Logger): Promise<WapiSimulator> {
  const files = (await Promise.all(infobloxExampleDirs.map((d) => yamlFilesIn(join(examplesRoot, d))))).flat();
  const objects = await readManifests(files);
  const instance = objects.find((o) => o.kind === 'InfobloxInstance') as KubeObject & { spec: object };
  const secretName = (instance.spec as { credentialsSecretRef: { name: string } }).credentialsSecretRef.name;
  const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === secretName) as Secret;
  const sim = await startWapiSimulator({
    username: secret.stringData!.username!,
    password: secret.stringData!.password!,
    seed: {
      network: [{ network: '203.0.113.0/24' }, { network: '203.0.113.0/25' }, { network: '203.0.113.128/25' }],
      zone_auth: [{ fqdn: 'edge.example.com', view: 'default' }],
      'record:host': [
        { name: 'gateway', configure_for_dns: false, ipv4addrs: [{ ipv4addr: '203.0.113.1' }] },
        { name: 'gateway-2', configure_for_dns: false, ipv4addrs: [{ ipv4addr: '203.0.113.129' }] },
      ],
    },
  });
  const caFile = join(dir, 'wapi-ca.crt');
  await writeFile(caFile, sim.caPem!);
  instance.spec = { ...instance.spec, host: '127.0.0.1', port: String(sim.port), customCAPath: caFile };
  await applyManifests(client, objects, examplesNamespace);
  logger.info({ wapi: sim.wapiUrl, ca: caFile, files: files.length }, 'WAPI simulator serving the Infoblox examples');
  return sim;
}

const localUsage = {
  up: `usage: cluster-ipam local up [--dir DIR] [--detach] [--bare] [--claims-only] [--watch-pid PID]

Starts a local control plane on loopback (etcd, kube-apiserver, kube-controller-manager) with Cluster API, its vSphere
provider and a vCenter simulator (all built from Go modules on first use and cached), installs the CRDs, starts the
manager and applies the guide's examples; Cluster API makes the example clusters' machines, clones their VMs in the
simulator, and the summary shows each VM's address as vCenter reports it. Stays in the foreground until Ctrl-C.
Prints KUBECONFIG=<path> last. See docs/local-machines.md.

flags:
  --dir DIR        where its state lives (kubeconfig, logs, summary); default ${defaultDir()}
  --detach         return once ready; it lives on until \`cluster-ipam local down\`
  --bare           the control plane and the CRDs only (no manager, no examples); returns once ready
  --claims-only    no Cluster API, CAPV or simulator: the machines are IPAddressClaims made by the supervisor (for a
                   machine where those cannot be built)
  --watch-pid PID  stop when this process exits
  -h, --help       print this help
`,
  down: `usage: cluster-ipam local down [--dir DIR]

Stops what \`cluster-ipam local up\` started with the same --dir (default ${defaultDir()}).

flags:
  --dir DIR    the state directory of the local mode to stop
  -h, --help   print this help
`,
};
const localOverview = `usage: cluster-ipam local <up|down> [flags]

  up     start a local control plane with the CRDs, the manager and the examples
  down   stop it

\`cluster-ipam local up --help\` and \`cluster-ipam local down --help\` list their flags.
`;

export async function localCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        dir: { type: 'string' },
        'watch-pid': { type: 'string' },
        bare: { type: 'boolean', default: false },
        detach: { type: 'boolean', default: false },
        'claims-only': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`cluster-ipam local: ${err instanceof Error ? err.message : String(err)}\n${localOverview}`);
    return 2;
  }
  const { positionals, values } = parsed;
  const command = positionals[0];
  if (values.help) {
    process.stdout.write(command === 'up' || command === 'down' ? localUsage[command] : localOverview);
    return 0;
  }
  const dir = resolve(values.dir ?? defaultDir());
  switch (command) {
    case 'up':
      return up(dir, {
        watchPid: values['watch-pid'],
        bare: values.bare,
        detach: values.detach,
        claimsOnly: values['claims-only'],
      });
    case 'down':
      return down(dir);
    case 'serve':
      return serve(dir, {
        watchPid: values['watch-pid'] ? Number(values['watch-pid']) : undefined,
        bare: values.bare,
        claimsOnly: values['claims-only'],
      });
    default:
      process.stderr.write(
        `cluster-ipam local: ${command === undefined ? 'which one?' : `unknown command "${command}"`}\n${localOverview}`,
      );
      return 2;
  }
}
