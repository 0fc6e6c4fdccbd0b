// The hostile-input corpus (issue 15): malformed and hostile manifests and requests, each with what a user must see —
// refused by the API server (or kubectl) naming the field, or accepted and answered by a condition naming the problem.
// Cases put their networks in 10.<o>.0.0/16 / fd00:<o>::/32 (`ctx.o`, one per case) so they never meet each other.
import { address, domain, lifecycle, refs } from './cases-dynamic.ts';
import { deployment, instance, ipamClaim, machine, net, pool } from './builders.ts';
import type { Ctx, HostileCase, Obj } from './harness.ts';

const ipamV = 'ipam.cluster.x-k8s.io/v1alpha2';

const v4 = (ctx: Ctx, rest = '0.0') => `10.${ctx.o}.${rest}`;
const poolSpec = (ctx: Ctx, extra: Obj = {}) => ({
  addresses: [net(ctx)],
  prefix: 24,
  gateway: v4(ctx, '0.1'),
  ...extra,
});

const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));

/** Pools with one field made bad; the API server must name it. */
const poolRefusals: HostileCase[] = [
  ['prefix 33 on IPv4', { prefix: 33 }, 'spec.prefix', 'prefix must be at most 32 for IPv4'],
  ['prefix 129', { prefix: 129 }, 'spec.prefix', 'should be less than or equal to 128'],
  ['prefix -1', { prefix: -1 }, 'spec.prefix', 'should be greater than or equal to 0'],
  ['prefix as a string', { prefix: '24' }, 'spec.prefix', 'must be of type integer'],
  ['addresses as a string', { addresses: '10.0.0.0/24' }, 'spec.addresses', 'must be of type array'],
  ['addresses empty', { addresses: [] }, 'spec.addresses', 'should have at least 1 items'],
  ['octet 256', { addresses: ['10.0.0.256'] }, 'spec.addresses', '10.0.0.256'],
  ['leading zero', { addresses: ['10.0.0.010'] }, 'spec.addresses', '10.0.0.010'],
  ['IPv6 ::gg', { addresses: ['fd00::gg'], prefix: 64, gateway: undefined }, 'spec.addresses', 'fd00::gg'],
  ['IPv4 range start > end', { addresses: ['10.0.0.20-10.0.0.10'] }, 'spec.addresses', '10.0.0.20-10.0.0.10'],
  ['mixed families', { addresses: ['10.0.0.0/24', 'fd00::/120'] }, 'spec.addresses', 'must be all IPv4 or all IPv6'],
  ['gateway of the other family', { gateway: 'fd00::1' }, 'spec.gateway', 'same IP family'],
  ['gateway ::gg', { gateway: '::gg' }, 'spec.gateway', '::gg'],
  [
    'gateway with a zone',
    { gateway: 'fe80::1%eth0', addresses: ['fe80::/120'], prefix: 64 },
    'spec.gateway',
    'fe80::1%eth0',
  ],
  ['gateway IPv4-mapped IPv6', { gateway: '::ffff:10.0.0.1' }, 'spec.gateway', '::ffff:10.0.0.1'],
  ['gateway with whitespace', { gateway: ' 10.0.0.1' }, 'spec.gateway', ' 10.0.0.1'],
  ['gateway as a number', { gateway: 167772161 }, 'spec.gateway', 'must be of type string'],
  ['CIDR /33', { addresses: ['10.0.0.0/33'] }, 'spec.addresses', '10.0.0.0/33'],
  ['a range of CIDRs', { addresses: ['10.0.0.0/24-10.0.1.0/24'] }, 'spec.addresses', '10.0.0.0/24-10.0.1.0/24'],
  ['control character in an entry', { addresses: ['10.0.0.1\u0007'] }, 'spec.addresses', '10.0.0.1'],
  [
    'entries outside one subnet of the prefix',
    { addresses: ['10.0.0.0/24', '10.9.0.0/24'] },
    'spec.addresses',
    'subnet',
  ],
  [
    'negative reuse grace period',
    { addressReuseGracePeriodSeconds: -5 },
    'spec.addressReuseGracePeriodSeconds',
    'greater than or equal to 0',
  ],
  [
    'excludedAddresses with a bad entry',
    { excludedAddresses: ['10.0.0.1/99'] },
    'spec.excludedAddresses',
    '10.0.0.1/99',
  ],
  ['unknown field (typo)', { adresses: ['10.0.0.0/24'] }, 'spec.adresses', 'unknown field'],
].map(([name, bad, field, says]) => ({
  name: `InClusterIPPool: ${name as string}`,
  group: 'pool fields',
  input: (ctx: Ctx) => [
    pool(
      ctx,
      `bad-${ctx.o}`,
      Object.fromEntries(Object.entries({ ...poolSpec(ctx), ...(bad as Obj) }).filter(([, v]) => v !== undefined)),
    ),
  ],
  expect: [{ refused: { field: field as string, says: says as string } }],
}));

/** ClusterIPAMClaims with one field made bad. */
const claimRefusals: HostileCase[] = (
  [
    ['provider not supported', { provider: 'aws' }, 'spec.provider', 'Unsupported value: "aws"'],
    ['nodeNetwork missing', { nodeNetwork: undefined }, 'spec.nodeNetwork', 'Required value'],
    ['nodeNetwork a list', { nodeNetwork: ['10.0.0.0/24'] }, 'spec.nodeNetwork', 'must be of type object'],
    ['cidr with host bits', { nodeNetwork: { cidr: '10.0.0.5/24' } }, 'spec.nodeNetwork.cidr', 'network address'],
    ['cidr 10.0.0.256/24', { nodeNetwork: { cidr: '10.0.0.256/24' } }, 'spec.nodeNetwork.cidr', '10.0.0.256/24'],
    ['cidr with leading zeros', { nodeNetwork: { cidr: '010.0.0.0/8' } }, 'spec.nodeNetwork.cidr', '010.0.0.0/8'],
    [
      'neither cidr nor ipAddresses',
      { nodeNetwork: { gateway: '10.0.0.1' } },
      'spec.nodeNetwork',
      'one of cidr or ipAddresses',
    ],
    [
      'ipAddresses without prefix',
      { nodeNetwork: { ipAddresses: ['10.0.0.10-10.0.0.20'] } },
      'spec.nodeNetwork.prefix',
      'prefix is required',
    ],
    [
      'ipAddresses outside cidr',
      { nodeNetwork: { cidr: '10.0.0.0/24', ipAddresses: ['10.0.1.10'] } },
      'spec.nodeNetwork.ipAddresses',
      'inside cidr',
    ],
    [
      'prefix 40 on IPv4',
      { nodeNetwork: { cidr: '10.0.0.0/24', prefix: 40 } },
      'spec.nodeNetwork.prefix',
      'at most 32',
    ],
    [
      'gateway of the other family',
      { nodeNetwork: { cidr: '10.0.0.0/24', gateway: 'fd00::1' } },
      'spec.nodeNetwork.gateway',
      'same IP family',
    ],
    [
      'Infoblox with ipAddresses',
      { provider: 'ipam-infoblox', nodeNetwork: { ipAddresses: ['10.0.0.10'], prefix: 24 } },
      'spec.nodeNetwork',
      'must be given as a cidr',
    ],
    [
      '10,000 ipAddresses',
      { nodeNetwork: { ipAddresses: many(10_000, (i) => `10.${(i >> 8) & 255}.${i & 255}.1`), prefix: 8 } },
      'spec.nodeNetwork.ipAddresses',
      'must have at most 128 items',
    ],
    ['cluster name with unicode', { cluster: 'clüster' }, 'spec.cluster', 'clüster'],
  ] as [string, Obj, string, string][]
).map(([name, bad, field, says]) => ({
  name: `ClusterIPAMClaim: ${name}`,
  group: 'claim fields',
  input: (ctx: Ctx) => {
    const spec: Obj = { cluster: `c-${ctx.o}`, nodeNetwork: { cidr: net(ctx) }, ...bad };
    if (spec.nodeNetwork === undefined) delete spec.nodeNetwork;
    return [ipamClaim(`bad-${ctx.o}`, spec)];
  },
  expect: [{ refused: { field, says } }],
}));

const infobloxRefusals: HostileCase[] = (
  [
    ['host with a scheme', { host: 'https://ib.example.com' }, 'spec.host', 'no scheme'],
    ['host with a port', { host: 'ib.example.com:443' }, 'spec.host', 'no scheme, port or path'],
    ['host with a double dot', { host: 'ib..example.com' }, 'spec.host', 'host name or an IP'],
    ['host with unicode', { host: 'ïnfoblox.example.com' }, 'spec.host', 'host name or an IP'],
    ['host empty', { host: '' }, 'spec.host', 'at least 1 chars'],
    ['port 0', { port: '0' }, 'spec.port', '1-65535'],
    ['port 70000', { port: '70000' }, 'spec.port', '1-65535'],
    ['port not a number', { port: 'https' }, 'spec.port', 'should match'],
    ['port as a number', { port: 443 }, 'spec.port', 'must be of type string'],
    ['wapiVersion "latest"', { wapiVersion: 'latest' }, 'spec.wapiVersion', 'should match'],
    ['secret ref with no name', { credentialsSecretRef: {} }, 'spec.credentialsSecretRef.name', 'Required value'],
    [
      'secret ref with an invalid name',
      { credentialsSecretRef: { name: 'Creds_1' } },
      'spec.credentialsSecretRef.name',
      'Creds_1',
    ],
  ] as [string, Obj, string, string][]
).map(([name, bad, field, says]) => ({
  name: `InfobloxInstance: ${name}`,
  group: 'infoblox fields',
  input: (ctx: Ctx) => [instance(ctx, `bad-${ctx.o}`, bad)],
  expect: [{ refused: { field, says } }],
}));

const syntax: HostileCase[] = [
  {
    name: 'YAML: a tab in the indentation',
    group: 'syntax',
    input: () =>
      'apiVersion: ipam.cluster.x-k8s.io/v1alpha2\nkind: InClusterIPPool\nmetadata:\n\tname: tab\nspec: {}\n',
    expect: [{ refused: { field: 'line 4', says: 'found character that cannot start any token' } }],
  },
  {
    name: 'YAML: an unclosed flow sequence',
    group: 'syntax',
    input: () =>
      'apiVersion: ipam.cluster.x-k8s.io/v1alpha2\nkind: InClusterIPPool\nmetadata:\n  name: unclosed\nspec:\n  prefix: 24\n  addresses: [10.0.0.0/24\n',
    expect: [{ refused: { field: 'line', says: 'yaml' } }],
  },
  {
    name: 'JSON: truncated body (raw POST)',
    group: 'syntax',
    raw: (ctx) => ({
      path: `/apis/ipam.cluster.x-k8s.io/v1alpha2/namespaces/${ctx.ns}/inclusterippools`,
      body: '{"apiVersion": "ipam.cluster.x-k8s.io/v1alpha2", "kind": "InClusterIPPool", "metadata": {"name": "x"',
    }),
    expect: [{ refused: { field: 'json parse error', says: 'unexpected end of JSON input' } }],
  },
  {
    name: 'JSON: an array instead of an object (raw POST)',
    group: 'syntax',
    raw: (ctx) => ({ path: `/apis/ipam.cluster.x-k8s.io/v1alpha2/namespaces/${ctx.ns}/inclusterippools`, body: '[]' }),
    expect: [{ refused: { field: 'must be of type InClusterIPPool', says: 'cannot unmarshal array' } }],
  },
  {
    name: 'JSON: a duplicate field under strict validation (raw POST)',
    group: 'syntax',
    raw: (ctx) => ({
      path: `/apis/ipam.cluster.x-k8s.io/v1alpha2/namespaces/${ctx.ns}/inclusterippools?fieldValidation=Strict`,
      body: JSON.stringify({ apiVersion: ipamV, kind: 'InClusterIPPool', metadata: { name: `dup-${ctx.o}` } }).replace(
        /}$/,
        `, "spec": {"addresses": ["${net(ctx)}"], "prefix": 24, "prefix": 25}}`,
      ),
    }),
    expect: [{ refused: { field: 'spec.prefix', says: 'duplicate field' } }],
  },
  {
    name: 'JSON: a ClusterIPAMClaim POSTed to the pools endpoint',
    group: 'syntax',
    raw: (ctx) => ({
      path: `/apis/ipam.cluster.x-k8s.io/v1alpha2/namespaces/${ctx.ns}/inclusterippools`,
      body: JSON.stringify(ipamClaim('wrong-endpoint', { nodeNetwork: { cidr: net(ctx) } })),
    }),
    expect: [{ refused: { field: 'API version in the data', says: 'does not match' } }],
  },
  {
    name: 'an annotation value that is a number',
    group: 'syntax',
    input: (ctx) =>
      `apiVersion: ${ipamV}\nkind: InClusterIPPool\nmetadata:\n  name: annot-${ctx.o}\n  annotations: {x: 1}\nspec:\n  prefix: 24\n  addresses: [${net(ctx)}]\n`,
    expect: [{ refused: { field: 'metadata.annotations', says: 'cannot unmarshal number' } }],
  },
  {
    name: 'ClusterDeployment dryRun "true" (quoted)',
    group: 'syntax',
    input: (ctx) => [deployment(`dry-${ctx.o}`, { dryRun: 'true', ipamClaim: { ref: 'x' } })],
    expect: [{ refused: { field: 'spec.dryRun', says: 'must be of type boolean' } }],
  },
  {
    name: 'ClusterDeployment ipamClaim with neither ref nor spec',
    group: 'syntax',
    input: (ctx) => [deployment(`empty-${ctx.o}`, { ipamClaim: {} })],
    expect: [{ refused: { field: 'spec.ipamClaim', says: 'needs a ref or a spec' } }],
  },
];

/** Enormous inputs: refused at the API server's bounds, or accepted and served without the manager blowing up. */
const enormous: HostileCase[] = [
  {
    name: 'InClusterIPPool with 10,000 addresses',
    group: 'enormous',
    input: (ctx) => [
      pool(ctx, 'tenk', { addresses: many(10_000, (i) => `10.${ctx.o}.${i >> 8}.${i & 255}`), prefix: 16 }),
    ],
    expect: [{ refused: { field: 'spec.addresses', says: 'must have at most 128 items' } }],
  },
  {
    name: 'InClusterIPPool with 10,000 excludedAddresses',
    group: 'enormous',
    input: (ctx) => [
      pool(ctx, 'tenk-ex', {
        addresses: [`10.${ctx.o}.0.0/16`],
        prefix: 16,
        excludedAddresses: many(10_000, (i) => `10.${ctx.o}.${i >> 8}.${i & 255}`),
      }),
    ],
    expect: [{ refused: { field: 'spec.excludedAddresses', says: 'must have at most 128 items' } }],
  },
  {
    name: 'annotations over 256 KiB',
    group: 'enormous',
    input: (ctx) => [pool(ctx, 'fat', poolSpec(ctx), { 'example.com/blob': 'x'.repeat(300_000) })],
    expect: [{ refused: { field: 'metadata.annotations', says: 'Too long' } }],
  },
];

/** Names, labels and annotations with unicode and control characters. */
const names: HostileCase[] = [
  {
    name: 'a pool name with unicode',
    group: 'unicode',
    input: (ctx) => [pool(ctx, 'pööl', poolSpec(ctx))],
    expect: [{ refused: { field: 'metadata.name', says: 'RFC 1123' } }],
  },
  {
    name: 'a claim name with a control character',
    group: 'unicode',
    input: () => [ipamClaim('bell\u0007', { nodeNetwork: { cidr: '10.0.0.0/24' } })],
    expect: [{ refused: { field: 'metadata.name', says: 'RFC 1123' } }],
  },
  {
    name: 'an IPAddressClaim name with a right-to-left override',
    group: 'unicode',
    input: () => [machine('m\u202eevil', 'p')],
    expect: [{ refused: { field: 'metadata.name', says: 'RFC 1123' } }],
  },
  {
    name: 'an annotation key with unicode',
    group: 'unicode',
    input: (ctx) => [pool(ctx, `akey-${ctx.o}`, poolSpec(ctx), { 'exämple.com/x': 'y' })],
    expect: [{ refused: { field: 'metadata.annotations', says: 'exämple.com/x' } }],
  },
  {
    name: 'a label value with unicode',
    group: 'unicode',
    input: (ctx) => [
      {
        ...pool(ctx, `lbl-${ctx.o}`, poolSpec(ctx)),
        metadata: { name: `lbl-${ctx.o}`, labels: { ...ctx.poolLabels, env: 'prød' } },
      },
    ],
    expect: [{ refused: { field: 'metadata.labels', says: 'prød' } }],
  },
  {
    name: 'a 254-character ClusterIPAMClaim name',
    group: 'unicode',
    input: () => [ipamClaim('a'.repeat(254), { nodeNetwork: { cidr: '10.0.0.0/24' } })],
    expect: [{ refused: { field: 'metadata.name', says: 'must be no more than 253 characters' } }],
  },
];

export const corpus: HostileCase[] = [
  ...syntax,
  ...poolRefusals,
  ...claimRefusals,
  ...infobloxRefusals,
  ...enormous,
  ...names,
  ...address,
  ...domain,
  ...refs,
  ...lifecycle,
];
