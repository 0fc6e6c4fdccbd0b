// Fault injection: which WAPI requests get added latency, a 5xx (or any status), a dropped connection or a 401, and
// whether before the change is applied or after it (§4.4: a write committed whose answer is lost). Pure: the HTTP
// layer asks for a plan per request and carries it out.

export type FaultKind = 'latency' | 'status' | 'drop' | 'unauthorized';
export type FaultWhen = 'before' | 'after';

/** What `POST /_admin/faults` takes (one of these, or an array of them). */
export interface FaultSpec {
  kind: FaultKind;
  /** `before` (default): the request is not applied. `after`: it is applied, then its answer fails. */
  when?: FaultWhen;
  /**
   * How many matching requests it hits. Default: 1, but unlimited for `latency` and when `durationMs` is given.
   * With both, whichever runs out first ends it.
   */
  count?: number;
  /** Active for this long from now. */
  durationMs?: number;
  /** `latency`: the delay (default 1000 ms). */
  latencyMs?: number;
  /** `status`: the status answered (default 503). */
  status?: number;
  /** Only requests with these methods (default all). */
  method?: string | string[];
  /** Only requests for these object types, e.g. `record:host` (a ref counts as its type; default all). */
  object?: string | string[];
}

export interface Fault {
  id: string;
  kind: FaultKind;
  when: FaultWhen;
  latencyMs?: number;
  status?: number;
  method?: string[];
  object?: string[];
  /** Requests it still hits (absent: unlimited while it lasts). */
  remaining?: number;
  /** When it ends (ms since the epoch; absent: when `remaining` reaches 0 or it is removed). */
  until?: number;
  /** Requests it has hit. */
  hits: number;
}

/** What to do with one request: delays, and at most one failure. */
export interface FaultPlan {
  delayBeforeMs: number;
  delayAfterMs: number;
  fail?: Fault;
}

export class FaultSpecError extends Error {}

const kinds: readonly FaultKind[] = ['latency', 'status', 'drop', 'unauthorized'];
const specKeys = ['kind', 'when', 'count', 'durationMs', 'latencyMs', 'status', 'method', 'object'];

function nonNegative(spec: Record<string, unknown>, key: string, positive = false): number | undefined {
  const v = spec[key];
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || (v as number) < (positive ? 1 : 0)) {
    throw new FaultSpecError(`${key} must be a ${positive ? 'positive' : 'non-negative'} integer`);
  }
  return v as number;
}

function names(spec: Record<string, unknown>, key: string, upper: boolean): string[] | undefined {
  const v = spec[key];
  if (v === undefined) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.length || !list.every((s) => typeof s === 'string' && s)) {
    throw new FaultSpecError(`${key} must be a string or a non-empty list of strings`);
  }
  return list.map((s: string) => (upper ? s.toUpperCase() : s));
}

export class FaultInjector {
  private faults: Fault[] = [];
  private seq = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Validates and installs a fault; throws FaultSpecError. */
  add(raw: unknown): Fault {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new FaultSpecError('a fault is a JSON object');
    }
    const spec = raw as Record<string, unknown>;
    const unknown = Object.keys(spec).filter((k) => !specKeys.includes(k));
    if (unknown.length) throw new FaultSpecError(`unknown field(s) ${unknown.join(', ')}; known: ${specKeys}`);
    const kind = spec.kind as FaultKind;
    if (!kinds.includes(kind)) throw new FaultSpecError(`kind must be one of ${kinds.join(', ')}`);
    const when = (spec.when ?? 'before') as FaultWhen;
    if (when !== 'before' && when !== 'after') throw new FaultSpecError('when must be before or after');
    const count = nonNegative(spec, 'count', true);
    const durationMs = nonNegative(spec, 'durationMs', true);
    const status = nonNegative(spec, 'status');
    if (status !== undefined && (kind !== 'status' || status < 400 || status > 599)) {
      throw new FaultSpecError('status is for kind status, from 400 to 599');
    }
    const latencyMs = nonNegative(spec, 'latencyMs');
    if (latencyMs !== undefined && kind !== 'latency') throw new FaultSpecError('latencyMs is for kind latency');
    const method = names(spec, 'method', true);
    const object = names(spec, 'object', false);
    const unlimited = kind === 'latency' || durationMs !== undefined;
    const fault: Fault = {
      id: `f${++this.seq}`,
      kind,
      when,
      ...(kind === 'latency' ? { latencyMs: latencyMs ?? 1000 } : {}),
      ...(kind === 'status' ? { status: status ?? 503 } : {}),
      ...(method ? { method } : {}),
      ...(object ? { object } : {}),
      ...(count !== undefined || !unlimited ? { remaining: count ?? 1 } : {}),
      ...(durationMs !== undefined ? { until: this.now() + durationMs } : {}),
      hits: 0,
    };
    this.faults.push(fault);
    return { ...fault };
  }

  list(): Fault[] {
    this.prune();
    return this.faults.map((f) => ({ ...f }));
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length < before;
  }

  clear(): number {
    const n = this.faults.length;
    this.faults = [];
    return n;
  }

  /**
   * The plan for one request, counting it against the faults it meets: every matching latency adds up; the first
   * matching failure (in the order installed) is the one that happens.
   */
  plan(method: string, object: string): FaultPlan {
    this.prune();
    const plan: FaultPlan = { delayBeforeMs: 0, delayAfterMs: 0 };
    for (const f of this.faults) {
      if (f.method && !f.method.includes(method.toUpperCase())) continue;
      if (f.object && !f.object.includes(object)) continue;
      if (f.kind === 'latency') {
        if (f.when === 'before') plan.delayBeforeMs += f.latencyMs ?? 0;
        else plan.delayAfterMs += f.latencyMs ?? 0;
      } else if (plan.fail) continue;
      else plan.fail = { ...f };
      f.hits++;
      if (f.remaining !== undefined) f.remaining--;
    }
    this.prune();
    return plan;
  }

  private prune(): void {
    const now = this.now();
    this.faults = this.faults.filter((f) => (f.remaining ?? 1) > 0 && (f.until ?? Infinity) > now);
  }
}
