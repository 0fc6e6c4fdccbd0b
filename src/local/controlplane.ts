// A real Kubernetes control plane on loopback: etcd, kube-apiserver and (for garbage collection and namespace
// deletion) kube-controller-manager, built from Go modules by hack/build-controlplane.sh. Used by the tests and by
// `cluster-ipam local up`.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, openSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ControlPlaneOptions {
  /** Directory for data, certificates, logs and the kubeconfig; a fresh temporary one by default. */
  dir?: string;
  /** Start kube-controller-manager (garbage collector + namespace controller). Default true. */
  gc?: boolean;
  /** Where progress lines go (building, waiting). */
  log?: (line: string) => void;
  /** Steps for a user watching the start: building, starting etcd, kube-apiserver, kube-controller-manager. */
  progress?: ProgressListener;
  /**
   * Runs once the API server is ready, before kube-controller-manager starts: CRDs installed here are seen by the
   * garbage collector at once instead of at its next 30 s rediscovery.
   */
  beforeControllerManager?: (kubeconfigPath: string) => Promise<void>;
}

export interface ControlPlane {
  kubeconfigPath: string;
  server: string;
  dir: string;
  /** Stops kube-apiserver and starts it again on the same port; resolves when /readyz is ok. */
  restartAPIServer(): Promise<void>;
  stop(): Promise<void>;
}

/** What the control plane is doing now, for a user waiting on it: a step and, while building, what is compiled. */
export type ProgressListener = (step: string, detail?: string) => void;

/**
 * Path of the control plane binary, building it first if this machine has none (5-10 minutes on 2 cores, once).
 * The build's stderr (`go: downloading …`, and the packages `go build -v` names as it compiles them) becomes progress.
 */
export async function controlPlaneBinary(progress?: ProgressListener): Promise<string> {
  const fromEnv = process.env.CLUSTER_IPAM_CONTROLPLANE_BIN;
  if (fromEnv) return fromEnv;
  return runBuildScript('hack/build-controlplane.sh', [], buildProgress(progress ?? (() => {})));
}

/**
 * Runs one of hack/'s cached Go builds and resolves to the last line of its stdout (a path); each line of its stderr
 * goes to `onLine` (see buildProgress).
 */
export async function runBuildScript(script: string, args: string[], onLine: (line: string) => void): Promise<string> {
  const child = spawn('bash', [join(repoRoot, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  let partial = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr = (stderr + c).slice(-20_000);
    const lines = (partial + c).split('\n');
    partial = lines.pop()!;
    for (const line of lines) onLine(line);
  });
  const code = await new Promise<number>((ok, fail) => {
    child.once('error', fail);
    child.once('close', (c) => ok(c ?? 1));
  });
  if (code !== 0) {
    throw new Error(`${script} exited ${code}:\n${stderr.split('\n').slice(-30).join('\n')}`);
  }
  return stdout.trim().split('\n').at(-1)!;
}

/**
 * Turns a build script's stderr lines into steps: downloading modules, then compiling packages (counted). `what`
 * names what is built, `firstBuild` how long a first build takes.
 */
export function buildProgress(
  progress: ProgressListener,
  what = 'control plane',
  firstBuild = '~4 min on 2 cores',
): (line: string) => void {
  let downloads = 0;
  let packages = 0;
  return (line) => {
    const text = line.trim();
    if (!text) return;
    const downloading = /^go: downloading (\S+) (\S+)/.exec(text);
    if (text.startsWith('building ')) {
      progress(`building the ${what} from Go modules (first run only, ${firstBuild})`);
    } else if (downloading) {
      downloads++;
      progress(`building the ${what}: downloading modules`, `${downloads}: ${downloading[1]} ${downloading[2]}`);
    } else if (/^[\w.-]+(\/[\w.~+-]+)*$/.test(text)) {
      // `go build -v` prints each package it compiles, one import path a line.
      packages++;
      progress(`building the ${what}: compiling`, `${packages} packages, ${text}`);
    } else if (text.startsWith('built in')) {
      progress(`${what} built`, text.replace(/: .*$/, ''));
    }
  };
}

export function freePort(): Promise<number> {
  return listenOnce(0) as Promise<number>;
}

/** `port` on 127.0.0.1 if nothing listens there, else another free one (local mode's well-known ports may be taken). */
export async function preferredPort(port: number): Promise<number> {
  return (await listenOnce(port)) ?? freePort();
}

/** The port a listener got on 127.0.0.1 (0: any), or undefined if `port` is in use. */
function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? ok(undefined) : fail(err)));
    srv.listen(port, '127.0.0.1', () => {
      const { port: got } = srv.address() as { port: number };
      srv.close(() => ok(got));
    });
  });
}

/** One sub-command of a multi-call binary, run as a supervised child whose output goes to a log file. */
export class Component {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private readonly bin: string,
    readonly name: string,
    private readonly args: string[],
    private readonly logFile: string,
    private readonly env: Record<string, string> = {},
  ) {}

  start(): void {
    // Output goes straight to a file and the child is unref'd: its owner, not a pipe, decides how long we live.
    const out = openSync(this.logFile, 'a');
    // CONTROLPLANE_PARENT_PID makes the binary ask the kernel for SIGTERM when we die, even by SIGKILL.
    const child = spawn(this.bin, [this.name, ...this.args], {
      env: { ...process.env, ...this.env, CONTROLPLANE_PARENT_PID: String(process.pid) },
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    child.unref();
    this.child = child;
    this.exited = new Promise((ok) => child.once('exit', () => ok()));
    liveChildren.add(child);
    void this.exited.then(() => liveChildren.delete(child));
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.ref(); // keep the event loop alive until it is gone
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(killer);
  }

  async tail(lines = 30): Promise<string> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  }
}

// Synchronous last resort for a normal process exit (the PDEATHSIG covers abnormal ones).
const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

async function httpsGet(url: string, ca: Buffer, token: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', fail);
    req.end();
  });
}

export async function waitUntil(what: string, component: Component, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    if (await check().catch(() => false)) return;
    if (!component.running)
      throw new Error(`${component.name} exited while waiting for ${what}:\n${await component.tail()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${await component.tail()}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

function kubeconfigYaml(server: string, caFile: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caFile}`,
    'users:',
    '- name: admin',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: local',
    '  context:',
    '    cluster: local',
    '    user: admin',
    'current-context: local',
    '',
  ].join('\n');
}

/**
 * Starts the control plane on free ports. They are found free, then bound by etcd and the API server a moment later:
 * another process (a second test run, another test file's control plane) may take one in between; then it starts
 * again on other ports.
 */
export function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  return againIfPortTaken(() => startOnce(opts), opts.log);
}

/** Runs `start` again (up to `attempts` times in all) while it fails because a port it chose was taken meanwhile. */
export async function againIfPortTaken<T>(start: () => Promise<T>, log?: (line: string) => void, attempts = 3) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= attempts || !/address already in use/.test(String((err as Error | undefined)?.message))) throw err;
      log?.('a port was taken between finding it free and binding it: starting again on other ports');
    }
  }
}

async function startOnce(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const log = opts.log ?? (() => {});
  const progress = opts.progress ?? (() => {});
  const bin = await controlPlaneBinary(opts.progress);
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'cluster-ipam-cp-')));
  if (!opts.dir) tempDirs.add(dir);
  const certDir = join(dir, 'certs');
  await mkdir(certDir, { recursive: true });
  const [etcdPort, apiPort] = [await freePort(), await freePort()];
  const token = randomBytes(24).toString('hex');
  const saKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  });
  await writeFile(join(dir, 'sa.key'), saKey, { mode: 0o600 });
  await writeFile(join(dir, 'tokens.csv'), `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });

  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const etcd = new Component(
    bin,
    'etcd',
    [
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      '--listen-peer-urls=http://127.0.0.1:0',
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    join(dir, 'etcd.log'),
  );
  const server = `https://127.0.0.1:${apiPort}`;
  const apiserver = new Component(
    bin,
    'kube-apiserver',
    [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${join(dir, 'sa.key')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--authorization-mode=RBAC',
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--disable-admission-plugins=ServiceAccount',
      // /debug/pprof for benchmarks that look at where the API server's time goes (CLUSTER_IPAM_APISERVER_PROFILING=1).
      `--profiling=${process.env.CLUSTER_IPAM_APISERVER_PROFILING === '1'}`,
      '--enable-priority-and-fairness=false',
    ],
    join(dir, 'kube-apiserver.log'),
  );
  const kubeconfigPath = join(dir, 'kubeconfig');
  const controllerManager = new Component(
    bin,
    'kube-controller-manager',
    [
      `--kubeconfig=${kubeconfigPath}`,
      '--controllers=garbage-collector-controller,namespace-controller',
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      '--secure-port=0',
    ],
    join(dir, 'kube-controller-manager.log'),
  );
  const components = [controllerManager, apiserver, etcd];
  const stop = async () => {
    for (const c of components) await c.stop();
    if (!opts.dir) {
      await rm(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    }
  };

  const startAPIServer = async () => {
    apiserver.start();
    // The apiserver writes its self-signed serving certificate (with its CA) before it listens.
    await waitUntil(
      'kube-apiserver /readyz',
      apiserver,
      async () => {
        const ca = await readFile(join(certDir, 'apiserver.crt'));
        return (await httpsGet(`${server}/readyz`, ca, token)).status === 200;
      },
      120_000,
    );
  };

  try {
    log(`starting etcd on ${etcdUrl}`);
    progress('starting etcd');
    etcd.start();
    await waitUntil('etcd /health', etcd, async () => (await fetch(`${etcdUrl}/health`)).ok, 60_000);
    log(`starting kube-apiserver on ${server}`);
    progress('starting kube-apiserver');
    await startAPIServer();
    await writeFile(kubeconfigPath, kubeconfigYaml(server, join(certDir, 'apiserver.crt'), token), { mode: 0o600 });
    await opts.beforeControllerManager?.(kubeconfigPath);
    if (opts.gc ?? true) {
      progress('starting kube-controller-manager');
      controllerManager.start();
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    kubeconfigPath,
    server,
    dir,
    stop,
    async restartAPIServer() {
      await apiserver.stop();
      await startAPIServer();
    },
  };
}
