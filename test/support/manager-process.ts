// The controller manager as a process of its own (`cluster-ipam run` from the sources, by default), for the tests,
// chaos parts and benchmarks that kill it for real, measure it alone, or run it as a Deployment would: spawn it, wait
// until it serves (/readyz on its health port, or any probe), stop it.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { patience } from './wait.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ManagerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagerProcessOptions {
  /** The flags after `run`. */
  args: readonly string[];
  /**
   * What node runs before `args` (default `--import tsx src/cli/main.ts run`: the CLI from the sources;
   * bin/cluster-ipam.mjs would run dist/, which may be older than the tree under test).
   */
  command?: readonly string[];
  /** Default: this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Default: stdin and stdout ignored, stderr inherited. */
  stdio?: StdioOptions;
}

export interface WaitUntilOptions {
  what: string;
  /** Default 120 s. */
  timeoutMs?: number;
  /** Default 200 ms. */
  intervalMs?: number;
  /** The error's message if the process exits first (default: it exited, with its code or signal). */
  exitMessage?: () => string;
}

export interface ManagerProcess {
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ManagerExit>;
  /** Not exited yet. */
  readonly running: boolean;
  /** Polls `probe` until it holds; throws as soon as the process exits, or on timeout. */
  waitUntil(probe: () => Promise<boolean>, opts: WaitUntilOptions): Promise<void>;
  /** Waits until /readyz on 127.0.0.1:`healthPort` answers 200 (as `waitUntil`). */
  waitReady(healthPort: number, opts?: Partial<WaitUntilOptions>): Promise<void>;
  /** SIGKILL, then the exit. */
  kill(): Promise<ManagerExit>;
  /** SIGTERM (SIGKILL after `killAfterMs`, default 15 s; null: never), then the exit. */
  stop(killAfterMs?: number | null): Promise<ManagerExit>;
}

/** Whether the manager with its health probe on 127.0.0.1:`healthPort` answers /readyz with 200 now. */
export function readyz(healthPort: number, timeoutMs = 2000): Promise<boolean> {
  return fetch(`http://127.0.0.1:${healthPort}/readyz`, { signal: AbortSignal.timeout(timeoutMs) }).then(
    (r) => r.ok,
    () => false,
  );
}

export function startManagerProcess(opts: ManagerProcessOptions): ManagerProcess {
  const command = opts.command ?? ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'run'];
  const child = spawn(process.execPath, [...command, ...opts.args], {
    cwd: repoRoot,
    env: opts.env ?? process.env,
    stdio: opts.stdio ?? ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<ManagerExit>((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
  const isRunning = () => child.exitCode === null && child.signalCode === null;
  const waitUntil = async (probe: () => Promise<boolean>, w: WaitUntilOptions) => {
    const timeoutMs = patience(w.timeoutMs ?? 120_000);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!isRunning()) {
        throw new Error(
          w.exitMessage?.() ?? `the manager exited (${child.signalCode ?? child.exitCode}) before ${w.what}`,
        );
      }
      if (await probe().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${w.what}`);
      await new Promise((r) => setTimeout(r, w.intervalMs ?? 200));
    }
  };
  return {
    child,
    exited,
    get running() {
      return isRunning();
    },
    waitUntil,
    waitReady: (healthPort, w = {}) =>
      waitUntil(() => readyz(healthPort, 5000), { what: 'the manager ready (/readyz)', ...w }),
    async kill() {
      if (isRunning()) child.kill('SIGKILL');
      return exited;
    },
    async stop(killAfterMs: number | null = 15_000) {
      if (!isRunning()) return exited;
      child.kill('SIGTERM');
      const timer = killAfterMs === null ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      return exited.finally(() => clearTimeout(timer));
    },
  };
}
