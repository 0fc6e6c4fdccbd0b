// JSON values as the API server returns them: key order is not kept, so comparisons ignore it.

/** Deep equality of JSON values, ignoring object key order. */
export function sameJSON(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return (
    ka.length === kb.length &&
    kb.every(
      (k) => Object.hasOwn(a, k) && sameJSON((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
    )
  );
}
