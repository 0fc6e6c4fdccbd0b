// The in-cluster provider's pools (ipam.cluster.x-k8s.io/v1alpha2): InClusterIPPool (namespaced) and
// GlobalInClusterIPPool (cluster-scoped) share one spec and status.
import { addressListSchema, cel, ipSchema } from './address.ts';
import { conditionsSchema, observedGenerationSchema } from './common.ts';
import { ipamGroup } from './capi.ts';
import { ageColumn, defineKind, type FromKubeSchema, type ObjectOf } from './meta.ts';

const version = 'v1alpha2';

const first = 'self.addresses[0]';
const firstStart = cel.entryStart(first);
const subnet = `cidr(${firstStart} + ${cel.prefixSuffix('self.prefix')})`;

export const inClusterIPPoolSpecSchema = {
  type: 'object',
  required: ['addresses', 'prefix'],
  properties: {
    addresses: {
      ...addressListSchema,
      minItems: 1,
      description:
        'Usable addresses: single addresses, inclusive ranges A-B, or CIDRs (host bits are masked: 192.0.2.1/24 is ' +
        'all of 192.0.2.0/24). Entries may overlap and come in any order.',
    },
    prefix: {
      type: 'integer',
      minimum: 0,
      maximum: 128,
      description: 'Prefix length written into every IPAddress; the subnet is <lowest address>/<prefix>.',
    },
    gateway: { ...ipSchema, description: 'Gateway written into every IPAddress; never allocated.' },
    excludedAddresses: {
      ...addressListSchema,
      description: 'Addresses never allocated, in the same forms as addresses.',
    },
    allocateReservedIPAddresses: {
      type: 'boolean',
      default: false,
      description: "Allocate the subnet's network address and, for IPv4, its broadcast address too.",
    },
    addressReuseGracePeriodSeconds: {
      type: 'integer',
      format: 'int64',
      minimum: 0,
      description: 'How long a released address stays reserved before it is handed out again.',
    },
  },
  'x-kubernetes-validations': [
    {
      rule: `size(self.addresses) == 0 || ${cel.isIPv6(first)} || self.prefix <= 32`,
      fieldPath: '.prefix',
      message: 'prefix must be at most 32 for IPv4 addresses',
    },
    {
      rule: `!has(self.gateway) || size(self.addresses) == 0 || ${cel.isIPv6('self.gateway')} == ${cel.isIPv6(first)}`,
      fieldPath: '.gateway',
      message: 'gateway must be of the same IP family as addresses',
    },
    {
      rule:
        `!has(self.excludedAddresses) || size(self.addresses) == 0 || ` +
        `self.excludedAddresses.all(e, ${cel.isIPv6('e')} == ${cel.isIPv6(first)})`,
      fieldPath: '.excludedAddresses',
      message: 'excludedAddresses must be of the same IP family as addresses',
    },
    {
      // Subnets of one prefix length partition the address space, so "all inside the lowest address's subnet" is
      // "all inside the first entry's subnet", whatever the order.
      rule:
        `size(self.addresses) == 0 || !isIP(${firstStart}) || (!${cel.isIPv6(firstStart)} && self.prefix > 32) || ` +
        `self.addresses.all(a, !${cel.isEntry('a')} || ${cel.isIPv6('a')} != ${cel.isIPv6(firstStart)} || ` +
        `${cel.entryInside(subnet, 'a')})`,
      fieldPath: '.addresses',
      messageExpression:
        `'entries must all lie inside one ' + ${cel.prefixSuffix('self.prefix')} + ' subnet (the pool subnet is ' + ` +
        `'<lowest address>' + ${cel.prefixSuffix('self.prefix')} + '): the one of ' + ${firstStart} + ' does not hold them all'`,
    },
  ],
} as const;
export type InClusterIPPoolSpec = FromKubeSchema<typeof inClusterIPPoolSpecSchema>;

const count = (description: string) => ({ type: 'integer', format: 'int64', minimum: 0, description }) as const;

export const inClusterIPPoolStatusSchema = {
  type: 'object',
  properties: {
    ipAddresses: {
      type: 'object',
      description: 'Address counts, capped at 2^53-1 (huge IPv6 pools); totalHuman and freeHuman are exact.',
      properties: {
        total: count('Usable addresses.'),
        used: count('Addresses allocated.'),
        free: count('total - used.'),
        outOfRange: count('Allocated addresses no longer in the usable set.'),
        totalHuman: {
          type: 'string',
          maxLength: 64, // 2^128 has 39 digits
          description: 'total, exact: decimal, or 2^k±m for counts past 2^53-1 (an IPv6 /64 pool is 2^64-1).',
        },
        freeHuman: { type: 'string', maxLength: 64, description: 'free, exact, written as totalHuman.' },
      },
    },
    conditions: conditionsSchema,
    observedGeneration: observedGenerationSchema,
  },
} as const;
export type InClusterIPPoolStatus = FromKubeSchema<typeof inClusterIPPoolStatusSchema>;

const pool = {
  group: ipamGroup,
  version,
  categories: ['cluster-api', 'cluster-ipam'],
  statusSubresource: true,
  // Cluster API reads provider CRDs' contract label to pick the version it talks to.
  labels: { 'cluster.x-k8s.io/v1beta2': version },
  printerColumns: [
    { name: 'Addresses', type: 'string', jsonPath: '.spec.addresses', description: 'Usable addresses.' },
    // The exact counts: the integers are capped at 2^53-1, which reads like a real count.
    { name: 'Total', type: 'string', jsonPath: '.status.ipAddresses.totalHuman' },
    { name: 'Free', type: 'string', jsonPath: '.status.ipAddresses.freeHuman' },
    { name: 'Used', type: 'integer', jsonPath: '.status.ipAddresses.used' },
    ageColumn,
  ],
  spec: inClusterIPPoolSpecSchema,
  status: inClusterIPPoolStatusSchema,
} as const;

export const inClusterIPPoolKind = defineKind({
  ...pool,
  kind: 'InClusterIPPool',
  plural: 'inclusterippools',
  singular: 'inclusterippool',
  scope: 'Namespaced',
  description: 'A pool of addresses kept in the Kubernetes API, serving IPAddressClaims of its namespace.',
});
export type InClusterIPPool = ObjectOf<typeof inClusterIPPoolKind>;

export const globalInClusterIPPoolKind = defineKind({
  ...pool,
  kind: 'GlobalInClusterIPPool',
  plural: 'globalinclusterippools',
  singular: 'globalinclusterippool',
  scope: 'Cluster',
  description: 'A pool of addresses kept in the Kubernetes API, serving IPAddressClaims of every namespace.',
});
export type GlobalInClusterIPPool = ObjectOf<typeof globalInClusterIPPoolKind>;
