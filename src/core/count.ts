// Address counts for people: exact, whatever their size. Status fields are JSON numbers capped at 2^53-1 (see
// capCount), which reads like a real count; this text never does.

/** Near a power of two (within this), a count reads as `2^k` or `2^k-m`: an IPv6 /64 is `2^64-1`, not 20 digits. */
const near = 1n << 16n;

/** The exact count: decimal up to 2^53-1, else `2^k±m` near a power of two, else all the digits. */
export function humanCount(n: bigint): string {
  if (n <= BigInt(Number.MAX_SAFE_INTEGER)) return n.toString();
  const bits = n.toString(2).length; // 2^(bits-1) <= n < 2^bits
  for (const k of [bits - 1, bits]) {
    const d = n - (1n << BigInt(k));
    if (d === 0n) return `2^${k}`;
    if (d > -near && d < near) return `2^${k}${d > 0n ? '+' : '-'}${d > 0n ? d : -d}`;
  }
  return n.toString();
}
