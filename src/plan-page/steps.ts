// The plan and its renderings at 10,000 holders take a few hundred ms of CPU: written as generators that yield
// between small steps, the manager runs them in slices (runInSlices) and its event loop (watches, reconciles, the
// lease renewal) never waits on a build for more than a slice; tests and benches run them at once (drain).
export type Steps<T> = Generator<void, T, void>;

/**
 * True once every `n` calls: loops yield that often, since a step costs a resume of every generator between the
 * loop and the driver (about 1 µs at the plan's depth), more than most loop bodies.
 */
export function every(n = 256): () => boolean {
  let calls = 0;
  return () => ++calls % n === 0;
}

/** Runs `steps` to the end at once. */
export function drain<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** How long a slice runs before the event loop gets its turn. */
export const sliceMs = 10;

/** Runs `steps` in slices of about `ms`, giving the event loop its turn between them. */
export async function runInSlices<T>(steps: Steps<T>, ms = sliceMs): Promise<T> {
  for (;;) {
    const until = performance.now() + ms;
    do {
      const r = steps.next();
      if (r.done) return r.value;
    } while (performance.now() < until);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * A stable sort that yields as it goes: runs of `run` items sorted natively, then merged pairwise, a step per `run`
 * items merged; sorting 10,000 holders at once holds the event loop for tens of ms on a busy machine.
 */
export function* sorted<T>(items: readonly T[], compare: (a: T, b: T) => number, run = 1024): Steps<T[]> {
  let from: T[] = [];
  for (let lo = 0; lo < items.length; lo += run) {
    from.push(...items.slice(lo, lo + run).sort(compare));
    yield;
  }
  let to = new Array<T>(from.length);
  for (let width = run; width < from.length; width *= 2) {
    for (let lo = 0; lo < from.length; lo += 2 * width) {
      const mid = Math.min(lo + width, from.length);
      const hi = Math.min(lo + 2 * width, from.length);
      let [i, j, k] = [lo, mid, lo];
      while (i < mid && j < hi) {
        to[k++] = compare(from[j]!, from[i]!) < 0 ? from[j++]! : from[i++]!;
        if (k % run === 0) yield;
      }
      while (i < mid) to[k++] = from[i++]!;
      while (j < hi) to[k++] = from[j++]!;
    }
    [from, to] = [to, from];
  }
  return from;
}

/** Whether `value` has more than `limit` nested values: worth writing in steps. */
function large(value: unknown, limit = 512): boolean {
  let left = limit;
  const visit = (v: unknown): boolean => {
    if (v === null || typeof v !== 'object') return false;
    const children: unknown[] = Array.isArray(v) ? v : Object.values(v);
    left -= children.length;
    return left < 0 || children.some(visit);
  };
  return visit(value);
}

/** JSON.stringify(value, null, 2) as it reads nested `pad` deep. */
function indented(value: unknown, pad: string): string {
  const text = JSON.stringify(value, null, 2) ?? 'null';
  return pad && text.includes('\n') ? text.replaceAll('\n', `\n${pad}`) : text;
}

/**
 * JSON.stringify(value, null, 2), text for text, built in steps: large arrays a few hundred elements at a time (each
 * batch by JSON.stringify), large objects key by key; anything small at once.
 */
export function* prettyJSON(value: unknown, pad = '', batch = 256): Steps<string> {
  if (!large(value)) return indented(value, pad);
  const inner = `${pad}  `;
  const parts: string[] = [];
  if (Array.isArray(value)) {
    let small: unknown[] = [];
    // `[\n  a,\n  b\n]` without its brackets: the elements, one indent deep.
    const flush = (): void => {
      if (small.length) parts.push(indented(small, pad).slice(2, -(2 + pad.length)));
      small = [];
    };
    for (const item of value) {
      if (large(item)) {
        flush();
        parts.push(inner + (yield* prettyJSON(item, inner, batch)));
      } else if (small.push(item) >= batch) {
        flush();
        yield;
      }
    }
    flush();
    return `[\n${parts.join(',\n')}\n${pad}]`;
  }
  for (const [key, v] of Object.entries(value as object)) {
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    parts.push(`${inner}${JSON.stringify(key)}: ${yield* prettyJSON(v, inner, batch)}`);
  }
  return parts.length ? `{\n${parts.join(',\n')}\n${pad}}` : '{}';
}
