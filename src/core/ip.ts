// IPv4 and IPv6 addresses as bigints: parsing, printing, CIDR arithmetic.
//
// Parsing is strict, so that every text we accept means one and the same address to us, to Go's net/netip (CAPI
// providers), to the C library and to Kubernetes' own validation:
// - IPv4: four decimal parts 0-255 without leading zeros. `010.0.0.1` is octal to inet_aton and decimal to others;
//   short forms (`10.1`), hex and single integers are accepted by ipaddr.js' lenient parser but refused here.
// - IPv6: RFC 4291 text, any case, printed back per RFC 5952. Refused: zones (`fe80::1%eth0`, meaningless in a
//   pool); embedded dotted IPv4 (ipaddr.js reads `::1.2.3.4` as `::ffff:1.2.3.4`, so we cannot trust it); and
//   IPv4-mapped addresses (`::ffff:0:0/96`), which would let one host be allocated once per family.
// - No surrounding or inner whitespace; a CIDR prefix is decimal without leading zeros.
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

export interface Address {
  readonly family: Family;
  readonly value: bigint;
}

/** An inclusive range of address values. */
export interface Range {
  readonly lo: bigint;
  readonly hi: bigint;
}

/** One pool entry: a single address, an inclusive range `A-B` or a (masked) CIDR. */
export interface Entry extends Range {
  readonly family: Family;
}

export interface Cidr extends Entry {
  readonly prefix: number;
}

export class IpParseError extends Error {
  override name = 'IpParseError';
}

export function familyBits(family: Family): 32 | 128 {
  return family === 4 ? 32 : 128;
}

export function familyName(family: Family): string {
  return family === 4 ? 'IPv4' : 'IPv6';
}

export function maxValue(family: Family): bigint {
  return (1n << BigInt(familyBits(family))) - 1n;
}

// ::ffff:0:0/96, seen from its upper 96 bits.
const mappedPrefix = 0xffffn;

export function parseAddress(text: string): Address {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return { family: 4, value: BigInt(ipaddr.IPv4.parse(text).octets.reduce((v, o) => v * 256 + o, 0)) };
  }
  if (text.includes(':')) {
    if (text.includes('%')) throw new IpParseError(`"${text}": zone indexes (%...) are not allowed`);
    if (text.includes('.')) {
      throw new IpParseError(`"${text}": write the last 32 bits of an IPv6 address in hex, not dotted decimal`);
    }
    if (!ipaddr.IPv6.isValid(text)) throw new IpParseError(`"${text}" is not a valid IPv6 address`);
    const value = ipaddr.IPv6.parse(text).parts.reduce((v, p) => (v << 16n) | BigInt(p), 0n);
    if (value >> 32n === mappedPrefix) {
      throw new IpParseError(`"${text}": IPv4-mapped IPv6 addresses are not allowed; use the IPv4 address`);
    }
    return { family: 6, value };
  }
  if (/^[0-9.]+$/.test(text)) {
    throw new IpParseError(`"${text}" is not a valid IPv4 address (four decimal numbers 0-255, no leading zeros)`);
  }
  throw new IpParseError(`"${text}" is not an IP address`);
}

export function formatAddress(address: Address): string {
  const { family, value } = address;
  if (family === 4) {
    const n = Number(value);
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const parts: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) parts.push(Number((value >> shift) & 0xffffn));
  return new ipaddr.IPv6(parts).toRFC5952String();
}

/** The block `value/prefix`, with host bits masked off. */
export function cidrRange(family: Family, value: bigint, prefix: number): Range {
  const hostMask = (1n << BigInt(familyBits(family) - prefix)) - 1n;
  return { lo: value & ~hostMask, hi: value | hostMask };
}

/** The prefix length if [lo, hi] is exactly one CIDR block. */
export function exactPrefix(family: Family, range: Range): number | undefined {
  const count = range.hi - range.lo + 1n;
  if ((count & (count - 1n)) !== 0n || (range.lo & (count - 1n)) !== 0n) return undefined;
  return familyBits(family) - (count.toString(2).length - 1);
}

export function formatCidr(family: Family, lo: bigint, prefix: number): string {
  return `${formatAddress({ family, value: lo })}/${prefix}`;
}

/** `A/P`; an unaligned CIDR is masked: `192.168.1.1/24` is `192.168.1.0/24`. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  if (slash < 0) throw new IpParseError(`"${text}" is not a CIDR (address/prefix, e.g. 10.0.0.0/24)`);
  const { family, value } = parseAddress(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  const bits = familyBits(family);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
    throw new IpParseError(`"${text}": the prefix length must be a decimal number from 0 to ${bits}`);
  }
  const prefix = Number(prefixText);
  return { family, prefix, ...cidrRange(family, value, prefix) };
}

/** A single address, an inclusive range `A-B` of one family with A ≤ B, or a CIDR. */
export function parseEntry(text: string): Entry {
  if (text.includes('/')) {
    if (text.includes('-')) throw new IpParseError(`"${text}": the ends of a range must be single addresses`);
    return parseCidr(text);
  }
  const dash = text.indexOf('-');
  if (dash < 0) {
    const { family, value } = parseAddress(text);
    return { family, lo: value, hi: value };
  }
  if (text.includes('-', dash + 1)) throw new IpParseError(`"${text}": a range is two addresses joined by one "-"`);
  const start = parseAddress(text.slice(0, dash));
  const end = parseAddress(text.slice(dash + 1));
  if (start.family !== end.family) {
    throw new IpParseError(`"${text}": a range cannot mix ${familyName(start.family)} and ${familyName(end.family)}`);
  }
  if (start.value > end.value) throw new IpParseError(`"${text}": the range starts after it ends`);
  return { family: start.family, lo: start.value, hi: end.value };
}
