// IP address, CIDR and address-entry fields with their CEL checks (Kubernetes >= 1.31 IP/CIDR library).
//
// What the API server's CEL allows shaped these expressions (checked on kube-apiserver 1.34):
// - no `cel.bind`, so a subexpression used twice is written twice;
// - `split()`/`join()` results fed to a comprehension, and `string(int)` in a concatenation, have no size bound
//   for the cost estimator, so ranges are cut with `indexOf`/`substring` and `/<prefix>` comes from a literal list;
// - there is no ordering of IPs: IPv4 ranges are compared as integers; for IPv6 a bit-by-bit scan over 128 prefix
//   lengths costs 1.2-4x the per-rule budget, so reversed IPv6 ranges are left to the controller.
// The family of a well-formed address, range or CIDR is `contains(':')`, which cannot fail on malformed input.

/** Longest IP accepted (Cluster API's limit for IPAddress.spec.address). */
export const ipMaxLength = 39;
export const cidrMaxLength = ipMaxLength + 4;
export const entryMaxLength = 2 * ipMaxLength + 1;

/** CEL fragments over an expression `x` of type string. */
export const cel = {
  isIPv6: (x: string) => `${x}.contains(':')`,
  rangeStart: (x: string) => `${x}.substring(0, ${x}.indexOf('-'))`,
  rangeEnd: (x: string) => `${x}.substring(${x}.indexOf('-') + 1)`,
  isRange: (x: string) => `(${x}.contains('-') && isIP(${cel.rangeStart(x)}) && isIP(${cel.rangeEnd(x)}))`,
  /** An address, an inclusive range `A-B` or a CIDR (host bits allowed, as in-cluster pools mask them). */
  isEntry: (x: string) => `(isIP(${x}) || isCIDR(${x}) || ${cel.isRange(x)})`,
  /** The first address an entry names (the start of a range, the address part of a CIDR), as written. */
  entryStart: (x: string) => `${x}.split('-')[0].split('/')[0]`,
  ipv4ToInt: (x: string) =>
    `(int(${x}.split('.')[0]) * 16777216 + int(${x}.split('.')[1]) * 65536 + int(${x}.split('.')[2]) * 256 + int(${x}.split('.')[3]))`,
  /** `/0` ... `/128`, indexed by a prefix length: `string(int)` is unbounded for the cost estimator. */
  prefixSuffix: (n: string) => `[${Array.from({ length: 129 }, (_, i) => `'/${i}'`).join(', ')}][${n}]`,
  /** Whether entry `x` (valid, same family) lies inside the CIDR value `c`. */
  entryInside: (c: string, x: string) =>
    `(isIP(${x}) ? ${c}.containsIP(${x}) : isCIDR(${x}) ? ${c}.containsCIDR(${x}) : ` +
    `(${c}.containsIP(${cel.rangeStart(x)}) && ${c}.containsIP(${cel.rangeEnd(x)})))`,
};

/** A messageExpression quoting the offending value (kubectl shows only its type for CEL errors). */
const aboutValue = (before: string, after: string) => `'${before}"' + self + '"${after}'`;

export const ipSchema = {
  type: 'string',
  maxLength: ipMaxLength,
  'x-kubernetes-validations': [
    {
      rule: 'isIP(self)',
      messageExpression: aboutValue('', ' is not an IP address (like 192.0.2.1 or 2001:db8::1)'),
    },
  ],
} as const;

/** A network in CIDR notation without host bits: Infoblox networks and claim address spaces are named this way. */
export const networkCIDRSchema = {
  type: 'string',
  maxLength: cidrMaxLength,
  'x-kubernetes-validations': [
    {
      rule: 'isCIDR(self)',
      messageExpression: aboutValue('', ' is not a CIDR (like 192.0.2.0/24 or 2001:db8::/64)'),
    },
    {
      rule: '!isCIDR(self) || cidr(self).ip() == cidr(self).masked().ip()',
      messageExpression: aboutValue('', ' has host bits set: give the network address'),
    },
  ],
} as const;

/** One entry of an address list: `10.0.0.5`, `10.0.0.10-10.0.0.20` or `10.0.1.0/24`. */
export const addressEntrySchema = {
  type: 'string',
  maxLength: entryMaxLength,
  'x-kubernetes-validations': [
    {
      rule: cel.isEntry('self'),
      messageExpression: aboutValue('', ' is not an IP address, an inclusive range A-B or a CIDR'),
    },
    {
      rule: `!${cel.isRange('self')} || ${cel.isIPv6(cel.rangeStart('self'))} == ${cel.isIPv6(cel.rangeEnd('self'))}`,
      messageExpression: aboutValue('range ', ' mixes IPv4 and IPv6'),
    },
    {
      rule:
        `!${cel.isRange('self')} || ${cel.isIPv6(cel.rangeStart('self'))} || ${cel.isIPv6(cel.rangeEnd('self'))} || ` +
        `${cel.ipv4ToInt(cel.rangeStart('self'))} <= ${cel.ipv4ToInt(cel.rangeEnd('self'))}`,
      messageExpression: aboutValue('range ', ' ends before it starts'),
    },
  ],
} as const;

/** A list of address entries of one family. */
export const addressListSchema = {
  type: 'array',
  maxItems: 128,
  items: addressEntrySchema,
  'x-kubernetes-validations': [
    {
      rule: `self.all(a, ${cel.isIPv6('a')} == ${cel.isIPv6('self[0]')})`,
      message: 'must be all IPv4 or all IPv6',
    },
  ],
} as const;
