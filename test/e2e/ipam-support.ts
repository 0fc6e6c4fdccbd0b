// What the cluster IPAM e2e tests do as a user would: apply manifests with kubectl, read objects back with kubectl,
// and wait for what the guide promises.
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { parse, stringify } from 'yaml';
import { inClusterPoolWebhook } from '../../src/admission/webhook.ts';
import { controllers } from '../../src/controllers/index.ts';
import type { ControllerSetup } from '../../src/runtime/index.ts';
import { kubectl, testNamespace } from '../support/cluster.ts';
import { startTestManager, type TestManager } from '../support/manager.ts';
import { waitFor } from '../support/wait.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const example = (path: string): string => join(repoRoot, 'examples', path);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- objects read back from kubectl, inspected freely
export type Obj = Record<string, any>;

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}

/**
 * Runs the manager, with every controller `cluster-ipam run` starts, around the tests of the calling file; `before`
 * runs first (e.g. to wrap one of the manager's clients).
 */
export function runManager(first: readonly ControllerSetup[] = []): void {
  let manager: TestManager | undefined;
  before(async () => {
    manager = await startTestManager([...first, ...controllers]);
  });
  after(async () => {
    await manager?.stop();
  });
}

export interface WebhookManager {
  manager: TestManager;
  /** Stops the webhook and the manager (rejects if the manager failed), then deletes the webhook configuration. */
  stop(): Promise<void>;
}

/**
 * Runs the manager with every controller and the pools' webhook, registered as ValidatingWebhookConfiguration
 * `configurationName` for the pools labelled `labelKey: run` only (other test files share the control plane).
 * Resolves once the API server calls it: it refuses an invalid pool in a namespace `probeNamespace`.
 */
export async function startManagerWithWebhook(opts: {
  labelKey: string;
  run: string;
  configurationName: string;
  probeNamespace: string;
}): Promise<WebhookManager> {
  const stop = new AbortController();
  const webhook = inClusterPoolWebhook({
    host: '127.0.0.1',
    port: 0,
    configurationName: opts.configurationName,
    matchLabels: { [opts.labelKey]: opts.run },
    signal: stop.signal,
    unregisterOnStop: true,
  });
  const manager = await startTestManager([...controllers, webhook]);
  const stopAll = async () => {
    stop.abort();
    try {
      await manager.stop();
    } finally {
      await kubectl(['delete', 'validatingwebhookconfiguration', opts.configurationName, '--ignore-not-found']);
    }
  };
  try {
    await webhook.ready;
    // The API server picks a new webhook configuration up asynchronously: wait until it refuses an invalid pool.
    const ns = await testNamespace(opts.probeNamespace);
    await waitFor(
      async () => {
        const r = await apply(ns, {
          apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
          kind: 'InClusterIPPool',
          metadata: { name: 'probe', labels: { [opts.labelKey]: opts.run } },
          spec: { addresses: ['fd00:9::9-fd00:9::1'], prefix: 64 },
        });
        return r.code !== 0 && /starts after it ends/.test(r.stderr);
      },
      { what: 'the webhook to be called' },
    );
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }
  return { manager, stop: stopAll };
}

export async function readExample(path: string): Promise<Obj> {
  return parse(await readFile(example(path), 'utf8')) as Obj;
}

/** `kubectl apply -f -` of objects; returns the result (check: false) so rejections can be asserted. */
export function apply(namespace: string, ...objs: Obj[]) {
  return kubectl(['apply', '-f', '-'], { namespace, input: objs.map((o) => stringify(o)).join('---\n'), check: false });
}

/** The object as `kubectl get -o json` shows it, or undefined if it does not exist. */
export async function get(kind: string, name: string, namespace?: string): Promise<Obj | undefined> {
  const r = await kubectl(['get', kind, name, '-o', 'json'], { namespace, check: false });
  if (r.code !== 0) {
    if (r.stderr.includes('NotFound')) return undefined;
    throw new Error(`kubectl get ${kind} ${name}: ${r.stderr}`);
  }
  return JSON.parse(r.stdout) as Obj;
}

export function condition(obj: Obj | undefined, type: string): Condition | undefined {
  return (obj?.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);
}

/** Waits until the object exists and `test` holds for it; returns it. */
export function waitForObject(
  kind: string,
  name: string,
  namespace: string | undefined,
  test: (obj: Obj) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<Obj> {
  return waitFor(
    async (note) => {
      const obj = await get(kind, name, namespace);
      note(obj ? { status: (obj as { status?: unknown }).status } : 'not found');
      return obj && test(obj) ? obj : undefined;
    },
    { what: `${kind} ${name}: ${what}`, timeoutMs, intervalMs: 200 },
  );
}

/** Waits until condition `type` has `status` (and `reason`, if given) for the object's current generation. */
export function waitForCondition(
  kind: string,
  name: string,
  namespace: string,
  type: string,
  status: string,
  reason?: string,
): Promise<Obj> {
  return waitForObject(
    kind,
    name,
    namespace,
    (obj) => {
      const c = condition(obj, type);
      return (
        c?.status === status &&
        (reason === undefined || c.reason === reason) &&
        c.observedGeneration === obj.metadata.generation
      );
    },
    `${type}=${status}${reason ? ` (${reason})` : ''}`,
  );
}

export function waitForGone(kind: string, name: string, namespace?: string): Promise<true> {
  return waitFor(async () => (await get(kind, name, namespace)) === undefined || undefined, {
    what: `${kind} ${name} to be deleted`,
    timeoutMs: 60_000,
    intervalMs: 200,
  });
}

/** Rows of `kubectl get` as header → cell maps (cells are separated by two or more spaces). */
export async function table(args: string[], namespace?: string): Promise<Record<string, string>[]> {
  const { stdout } = await kubectl(['get', ...args], { namespace });
  const [head, ...rows] = stdout.trim().split('\n');
  const headers = head!.trim().split(/\s{2,}/);
  return rows.map((row) => {
    const cells = row.trim().split(/\s{2,}/);
    return Object.fromEntries(headers.map((h, i) => [h, cells[i] ?? '']));
  });
}

/** Events recorded about an object, as `kubectl get events` lists them. */
export async function events(namespace: string, name: string, reason?: string): Promise<Obj[]> {
  const selector = [`involvedObject.name=${name}`, ...(reason ? [`reason=${reason}`] : [])].join(',');
  const { stdout } = await kubectl(['get', 'events', '--field-selector', selector, '-o', 'json'], { namespace });
  return (JSON.parse(stdout) as { items: Obj[] }).items;
}

export function waitForEvent(namespace: string, name: string, reason: string): Promise<Obj[]> {
  return waitFor(
    async () => {
      const found = await events(namespace, name, reason);
      return found.length > 0 ? found : undefined;
    },
    { what: `an Event ${reason} about ${name}`, intervalMs: 200 },
  );
}
