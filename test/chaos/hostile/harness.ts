// The hostile-input corpus's harness: how a case is applied (real kubectl, as a user would, or a raw request kubectl
// sends for us where kubectl itself would refuse to) and how its expectation is checked — refused with a message
// that names the field, or accepted and answered with a condition that names the problem.
import { stringify } from 'yaml';
import { kubectlAt, type KubectlResult } from '../../support/cluster.ts';
import { waitFor } from '../../support/wait.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- objects read back from kubectl, inspected freely
export type Obj = Record<string, any>;

export type { KubectlResult };

export type Kubectl = (args: string[], opts?: { input?: string; namespace?: string }) => Promise<KubectlResult>;

/** The real kubectl against `kubeconfig`; never throws on a non-zero exit (the caller asserts). */
export const kubectlFor =
  (kubeconfig: string): Kubectl =>
  (args, opts) =>
    kubectlAt(kubeconfig, args, opts);

/** What a case runs in: its namespace, a run id for cluster-scoped names, a network octet of its own. */
export interface Ctx {
  kubectl: Kubectl;
  ns: string;
  run: string;
  /** A number (1..250) no other case uses: cases put their networks in 10.<o>.0.0/16 and fd00:<o>::/32. */
  o: number;
  /** Labels every hand-written in-cluster pool carries (so a test's pool webhook sees only the corpus's pools). */
  poolLabels: Record<string, string>;
  /** A cluster-scoped name of this run. */
  cname(base: string): string;
}

/** Refused by the API server (or by kubectl before it): stderr names `field` and says `says`. */
export interface Refused {
  refused: { field: string; says: string | RegExp };
}

/** Accepted, and answered by a condition of `kind/name` (in the case's namespace unless cluster-scoped). */
export interface Answered {
  answered: {
    kind: string;
    /** The object's name (a function of the context for cluster-scoped names). */
    name: string | ((ctx: Ctx) => string);
    clusterScoped?: boolean;
    type: string;
    status: 'True' | 'False' | 'Unknown';
    reason: string;
    /** Each must appear in the condition's message: the field, the value, the object at fault. */
    names: (string | RegExp)[];
  };
}

/** Anything else a user would notice (throws an Error saying what is wrong). */
export interface Checked {
  check: (ctx: Ctx) => Promise<void>;
}

export type Expectation = Refused | Answered | Checked;

export interface HostileCase {
  name: string;
  group: string;
  /** Objects (rendered as YAML) or raw text for `kubectl <verb> -f -`. */
  input?: (ctx: Ctx) => Obj[] | string;
  verb?: 'apply' | 'create';
  /** A request kubectl would not send: POSTed with `kubectl create --raw`. */
  raw?: (ctx: Ctx) => { path: string; body: string };
  /** Objects that must exist first (applied, must be accepted). */
  before?: (ctx: Ctx) => Obj[];
  expect: Expectation[];
  /** Left out of the fast run (`npm test`). */
  slow?: boolean;
  /** Timeout for a condition to appear (default 30 s). */
  timeoutMs?: number;
}

export const resources: Record<string, string> = {
  InClusterIPPool: 'inclusterippools.ipam.cluster.x-k8s.io',
  GlobalInClusterIPPool: 'globalinclusterippools.ipam.cluster.x-k8s.io',
  IPAddressClaim: 'ipaddressclaims.ipam.cluster.x-k8s.io',
  IPAddress: 'ipaddresses.ipam.cluster.x-k8s.io',
  ClusterIPAMClaim: 'clusteripamclaims.k0rdent.mirantis.com',
  ClusterIPAM: 'clusteripams.k0rdent.mirantis.com',
  ClusterDeployment: 'clusterdeployments.k0rdent.mirantis.com',
  InfobloxInstance: 'infobloxinstances.ipam.cluster.x-k8s.io',
  InfobloxIPPool: 'infobloxippools.ipam.cluster.x-k8s.io',
  Secret: 'secrets',
};

// YAML 1.1 quoting: kubectl reads `y`, `yes`, `on` unquoted as booleans.
export const toYaml = (objs: Obj[]): string =>
  objs.map((o) => stringify(o, { lineWidth: 0, version: '1.1' })).join('---\n');

/** `kubectl <verb> -f -` in the case's namespace; objects that name a namespace of their own are applied apart. */
export async function applyObjects(ctx: Ctx, objs: Obj[] | string, verb = 'apply'): Promise<KubectlResult> {
  if (typeof objs === 'string') return ctx.kubectl([verb, '-f', '-'], { namespace: ctx.ns, input: objs });
  const elsewhere = objs.filter((o) => o.metadata?.namespace);
  if (elsewhere.length) {
    const r = await ctx.kubectl([verb, '-f', '-'], { input: toYaml(elsewhere) });
    if (r.code !== 0) return r;
  }
  const here = objs.filter((o) => !o.metadata?.namespace);
  if (here.length === 0) return { code: 0, stdout: '', stderr: '' };
  return ctx.kubectl([verb, '-f', '-'], { namespace: ctx.ns, input: toYaml(here) });
}

export async function getObject(ctx: Ctx, kind: string, name: string, clusterScoped = false): Promise<Obj | undefined> {
  const r = await ctx.kubectl(['get', resources[kind] ?? kind, name, '-o', 'json'], {
    namespace: clusterScoped ? undefined : ctx.ns,
  });
  if (r.code !== 0) {
    if (r.stderr.includes('NotFound')) return undefined;
    throw new Error(`kubectl get ${kind} ${name}: ${r.stderr.trim()}`);
  }
  return JSON.parse(r.stdout) as Obj;
}

/** Waits (scaled like every test wait, test/support/wait.ts) until `probe` gives a value; says what it saw last. */
export function until<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
  lastSeen: () => string = () => '',
): Promise<T> {
  return waitFor(
    async (note) => {
      const v = await probe();
      if (v === undefined && lastSeen()) note(lastSeen());
      return v;
    },
    { what, timeoutMs, intervalMs: 300 },
  );
}

const matches = (text: string, m: string | RegExp) => (typeof m === 'string' ? text.includes(m) : m.test(text));

function checkRefused(r: KubectlResult, e: Refused['refused']): void {
  if (r.code === 0) throw new Error(`accepted, expected a refusal naming ${e.field}: ${r.stdout.trim()}`);
  if (!r.stderr.includes(e.field)) throw new Error(`refused without naming ${e.field}: ${r.stderr.trim()}`);
  if (!matches(r.stderr, e.says)) throw new Error(`refused without saying ${String(e.says)}: ${r.stderr.trim()}`);
}

async function checkAnswered(ctx: Ctx, e: Answered['answered'], timeoutMs: number): Promise<void> {
  const name = typeof e.name === 'string' ? e.name : e.name(ctx);
  let last = 'nothing';
  await until(
    async () => {
      const obj = await getObject(ctx, e.kind, name, e.clusterScoped);
      if (!obj) {
        last = `${e.kind} ${name} does not exist`;
        return undefined;
      }
      const c = (obj.status?.conditions as Obj[] | undefined)?.find((x) => x.type === e.type);
      last = c ? JSON.stringify({ status: c.status, reason: c.reason, message: c.message }) : `no ${e.type} condition`;
      if (!c || c.status !== e.status || c.reason !== e.reason) return undefined;
      if (c.observedGeneration !== undefined && c.observedGeneration !== obj.metadata.generation) return undefined;
      return e.names.every((n) => matches(String(c.message), n)) ? true : undefined;
    },
    `${e.kind} ${name}: ${e.type}=${e.status} ${e.reason} naming ${e.names.map(String).join(', ')}`,
    timeoutMs,
    () => last,
  );
}

/** Runs one case; resolves when it met its expectation, rejects with what it did instead. */
export async function runCase(c: HostileCase, ctx: Ctx): Promise<void> {
  const before = c.before?.(ctx) ?? [];
  if (before.length) {
    const r = await applyObjects(ctx, before);
    if (r.code !== 0) throw new Error(`setup refused: ${r.stderr.trim()}`);
  }
  let result: KubectlResult | undefined;
  if (c.raw) {
    const { path, body } = c.raw(ctx);
    result = await ctx.kubectl(['create', '--raw', path, '-f', '-'], { input: body });
  } else if (c.input) {
    result = await applyObjects(ctx, c.input(ctx), c.verb);
  }
  for (const e of c.expect) {
    if ('refused' in e) {
      if (!result) throw new Error('a refusal expected of a case that sends nothing');
      checkRefused(result, e.refused);
    } else if ('answered' in e) {
      if (result && result.code !== 0) throw new Error(`refused, expected accepted: ${result.stderr.trim()}`);
      await checkAnswered(ctx, e.answered, c.timeoutMs ?? 30_000);
    } else {
      if (result && result.code !== 0 && !c.expect.some((x) => 'refused' in x)) {
        throw new Error(`refused, expected accepted: ${result.stderr.trim()}`);
      }
      await e.check(ctx);
    }
  }
}
