// Await a condition instead of sleeping: tests stay fast when things are fast and patient when the machine is busy.
//
// The one place that says how long a wait may take: every `timeoutMs` is a nominal time for a quiet machine,
// multiplied by CLUSTER_IPAM_TEST_TIME_FACTOR (default 3: a CI machine running other builds is several times slower
// than a quiet one; a wait that succeeds returns as soon as its condition holds, so the factor costs nothing then).
const factor = ((): number => {
  const raw = process.env.CLUSTER_IPAM_TEST_TIME_FACTOR;
  const value = raw === undefined || raw === '' ? 3 : Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`CLUSTER_IPAM_TEST_TIME_FACTOR must be a positive number, not ${JSON.stringify(raw)}`);
  }
  return value;
})();

/** A nominal duration (ms) as this run may take it. */
export const patience = (nominalMs: number): number => Math.round(nominalMs * factor);

export interface WaitOptions {
  /** Nominal time on a quiet machine (default 30 s), scaled by `patience`. */
  timeoutMs?: number;
  intervalMs?: number;
  what?: string;
}

/**
 * Polls `fn` until it returns a value other than undefined/null/false. `fn` may `note` what it saw on each try (note
 * returns it): a timeout says what was awaited, for how long, and what was seen last (or the last error).
 */
export async function waitFor<T>(
  fn: (note: <S>(seen: S) => S) => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = patience(opts.timeoutMs ?? 30_000);
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let seen: { value: unknown } | undefined;
  const note = <S>(value: S): S => {
    seen = { value };
    return value;
  };
  for (let delay = Math.min(opts.intervalMs ?? 20, 20); ; delay = Math.min(delay * 2, opts.intervalMs ?? 250)) {
    try {
      const value = await fn(note);
      if (value !== undefined && value !== null && value !== false) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const last =
        lastError instanceof Error
          ? `; last error: ${lastError.message}`
          : seen
            ? `; last seen: ${describe(seen.value)}`
            : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'condition'}${last}`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value;
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}
