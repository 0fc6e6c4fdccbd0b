// The corpus's cases that need the controllers: accepted by the API server (or refused by the pools' webhook) and
// answered in conditions, objects that contradict each other, and objects deleted while being served.
import {
  claim,
  deployment,
  globalPool,
  domainKey,
  ibPool,
  instance,
  machine,
  net,
  ownDomain,
  pool,
  secret,
} from './builders.ts';
import { applyObjects, getObject, resources, until, type Ctx, type HostileCase, type Obj } from './harness.ts';

/** Waits for the IPAddressClaim's address; returns it. */
async function addressOf(ctx: Ctx, name: string, timeoutMs = 30_000): Promise<string> {
  let last = 'nothing';
  return until(
    async () => {
      const c = await getObject(ctx, 'IPAddressClaim', name);
      last = JSON.stringify(c?.status ?? 'no claim');
      const ref = c?.status?.addressRef?.name as string | undefined;
      if (!ref) return undefined;
      const a = await getObject(ctx, 'IPAddress', ref);
      return a?.spec?.address as string | undefined;
    },
    `IPAddressClaim ${name} to get an address`,
    timeoutMs,
    () => last,
  );
}

async function must(ctx: Ctx, args: string[]): Promise<string> {
  const r = await ctx.kubectl(args, { namespace: ctx.ns });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

async function listNames(ctx: Ctx, kind: string, prefix: string): Promise<Obj[]> {
  const out = await must(ctx, ['get', resources[kind]!, '-o', 'json']);
  return (JSON.parse(out) as { items: Obj[] }).items.filter((o) => String(o.metadata.name).startsWith(prefix));
}

const refusedByWebhook = (field: string, says: string) => ({ refused: { field, says } });

/** Addresses: accepted, and what is wrong (or enormous) is answered in conditions, and served where it can be. */
export const address: HostileCase[] = [
  {
    name: 'InClusterIPPool: gateway outside the subnet',
    group: 'semantics',
    input: (ctx) => [pool(ctx, 'gw-out', { addresses: [net(ctx)], prefix: 24, gateway: `10.${ctx.o}.9.1` })],
    expect: [
      {
        answered: {
          kind: 'InClusterIPPool',
          name: 'gw-out',
          type: 'Ready',
          status: 'True',
          reason: 'PoolReadyWithWarnings',
          names: ['spec.gateway', 'is outside the subnet'],
        },
      },
    ],
  },
  {
    name: 'InClusterIPPool: every address excluded, and a claim on it',
    group: 'semantics',
    input: (ctx) => [
      pool(ctx, 'all-excluded', { addresses: [`10.${ctx.o}.0.0/28`], prefix: 24, excludedAddresses: [net(ctx)] }),
      machine('on-all-excluded', 'all-excluded'),
    ],
    expect: [
      {
        answered: {
          kind: 'InClusterIPPool',
          name: 'all-excluded',
          type: 'Ready',
          status: 'False',
          reason: 'NoUsableAddresses',
          names: ['spec.addresses', 'every address is excluded'],
        },
      },
      {
        answered: {
          kind: 'IPAddressClaim',
          name: 'on-all-excluded',
          type: 'Ready',
          status: 'False',
          reason: 'PoolNotReady',
          names: ['InClusterIPPool', 'all-excluded', 'no usable addresses'],
        },
      },
    ],
  },
  {
    name: 'InClusterIPPool: IPv6 range start > end (webhook)',
    group: 'semantics',
    input: (ctx) => [pool(ctx, 'v6-rev', { addresses: [`fd00:${ctx.o}::9-fd00:${ctx.o}::1`], prefix: 64 })],
    expect: [refusedByWebhook('spec.addresses[0]', 'the range starts after it ends')],
  },
  {
    name: 'ClusterIPAMClaim: IPv6 range start > end',
    group: 'semantics',
    input: (ctx) => [
      claim('v6-rev', { nodeNetwork: { ipAddresses: [`fd00:${ctx.o}::9-fd00:${ctx.o}::1`], prefix: 64 } }),
    ],
    expect: [
      {
        answered: {
          kind: 'ClusterIPAMClaim',
          name: 'v6-rev',
          type: 'Ready',
          status: 'False',
          reason: 'InvalidSpec',
          names: ['spec.nodeNetwork.ipAddresses[0]', 'the range starts after it ends'],
        },
      },
    ],
  },
  {
    name: 'ClusterIPAMClaim: gateway outside the address space',
    group: 'semantics',
    input: (ctx) => [claim('gw-out', { nodeNetwork: { cidr: net(ctx), gateway: `10.${ctx.o}.9.1` } })],
    expect: [
      {
        answered: {
          kind: 'ClusterIPAMClaim',
          name: 'gw-out',
          type: 'Valid',
          status: 'True',
          reason: 'ValidWithWarnings',
          names: ['spec.nodeNetwork.gateway', 'is outside the subnet'],
        },
      },
    ],
  },
  {
    name: 'ClusterIPAMClaim: externalNetwork inside its own nodeNetwork',
    group: 'semantics',
    input: (ctx) => [
      claim('self-overlap', { nodeNetwork: { cidr: net(ctx) }, externalNetwork: { cidr: `10.${ctx.o}.0.0/25` } }),
    ],
    expect: [
      {
        answered: {
          kind: 'ClusterIPAMClaim',
          name: 'self-overlap',
          type: 'Ready',
          status: 'False',
          reason: 'InvalidSpec',
          names: ['spec.externalNetwork', 'overlaps spec.nodeNetwork'],
        },
      },
    ],
  },
  {
    name: 'ClusterIPAMClaim: a 250-character name whose pools cannot be named',
    group: 'semantics',
    input: (ctx) => [
      claim(`${'l'.repeat(247)}${ctx.o}`.slice(0, 250), {
        nodeNetwork: { cidr: net(ctx) },
        externalNetwork: { cidr: net(ctx, 1) },
      }),
    ],
    expect: [
      {
        check: async (ctx) => {
          const name = `${'l'.repeat(247)}${ctx.o}`.slice(0, 250);
          let last = '';
          await until(
            async () => {
              const c = await getObject(ctx, 'ClusterIPAMClaim', name);
              const r = (c?.status?.conditions as Obj[] | undefined)?.find((x) => x.type === 'Ready');
              last = JSON.stringify(r ?? null);
              return r?.status === 'False' && r.reason === 'InvalidSpec' && /metadata\.name: too long/.test(r.message)
                ? true
                : undefined;
            },
            'Ready=False InvalidSpec naming metadata.name',
            30_000,
            () => last,
          );
        },
      },
    ],
  },
  {
    name: 'InClusterIPPool: IPv6 /8, served',
    group: 'enormous',
    input: (ctx) => [
      pool(ctx, 'v6-slash8', { addresses: ['fd00::/8'], prefix: 8 }, ownDomain(ctx)),
      machine('on-v6-slash8', 'v6-slash8'),
    ],
    expect: [
      {
        answered: {
          kind: 'InClusterIPPool',
          name: 'v6-slash8',
          type: 'Ready',
          status: 'True',
          reason: 'PoolReady',
          names: ['2^120-1'],
        },
      },
      { check: async (ctx) => void (await addressOf(ctx, 'on-v6-slash8')) },
    ],
  },
  {
    name: 'InClusterIPPool: ::/0, served',
    group: 'enormous',
    input: (ctx) => [
      pool(ctx, 'v6-all', { addresses: ['::/0'], prefix: 0 }, ownDomain(ctx)),
      machine('on-v6-all', 'v6-all'),
    ],
    expect: [
      {
        check: async (ctx) => {
          const a = await addressOf(ctx, 'on-v6-all');
          const p = await getObject(ctx, 'InClusterIPPool', 'v6-all');
          if (p?.status?.ipAddresses?.totalHuman !== '2^128-1') {
            throw new Error(`::/0 counts ${JSON.stringify(p?.status?.ipAddresses)}`);
          }
          if (a !== '::1') throw new Error(`first address of ::/0 is ${a}, expected ::1`);
        },
      },
    ],
  },
  {
    name: 'InClusterIPPool: 0.0.0.0/0, served',
    group: 'enormous',
    input: (ctx) => [
      pool(ctx, 'v4-all', { addresses: ['0.0.0.0/0'], prefix: 0 }, ownDomain(ctx)),
      machine('on-v4-all', 'v4-all'),
    ],
    expect: [{ check: async (ctx) => void (await addressOf(ctx, 'on-v4-all')) }],
  },
  {
    name: 'InClusterIPPool: 128 excludedAddresses across a /16 (the most allowed)',
    group: 'enormous',
    input: (ctx) => [
      pool(
        ctx,
        'ex128',
        {
          addresses: [`10.${ctx.o}.0.0/16`],
          prefix: 16,
          excludedAddresses: Array.from({ length: 128 }, (_, i) => `10.${ctx.o}.${i * 2}.${i + 1}`),
        },
        ownDomain(ctx),
      ),
    ],
    expect: [
      {
        check: async (ctx) => {
          await until(async () => {
            const p = await getObject(ctx, 'InClusterIPPool', 'ex128');
            return p?.status?.ipAddresses?.totalHuman === String(65534 - 128) ? true : undefined;
          }, 'ex128 to count 65406 usable addresses');
        },
      },
    ],
  },
  {
    name: 'ClusterIPAMClaim: IPv6 /8 node network, bound',
    group: 'enormous',
    input: (ctx) => [claim('claim-v6-slash8', { nodeNetwork: { cidr: 'fd00::/8' } }, ownDomain(ctx))],
    expect: [
      {
        answered: {
          kind: 'ClusterIPAMClaim',
          name: 'claim-v6-slash8',
          type: 'Ready',
          status: 'True',
          reason: 'Bound',
          names: [`${2n ** 120n - 1n} usable`],
        },
      },
    ],
  },
  {
    name: 'ClusterDeployment: 300 machines asked of a /28',
    group: 'semantics',
    input: (ctx) => [
      deployment('too-many', {
        config: { controlPlaneNumber: 200, workersNumber: 100 },
        ipamClaim: { spec: { provider: 'in-cluster', nodeNetwork: { cidr: `10.${ctx.o}.0.0/28` } } },
      }),
    ],
    expect: [
      {
        answered: {
          kind: 'ClusterDeployment',
          name: 'too-many',
          type: 'IPAMReady',
          status: 'False',
          reason: 'InsufficientAddresses',
          names: ['spec.config asks for 200 control plane + 100 worker', '287 addresses missing'],
        },
      },
    ],
  },
  {
    name: 'ClusterDeployment: controlPlaneNumber "three"',
    group: 'semantics',
    input: (ctx) => [
      deployment('three', {
        config: { controlPlaneNumber: 'three' },
        ipamClaim: { spec: { provider: 'in-cluster', nodeNetwork: { cidr: net(ctx) } } },
      }),
    ],
    expect: [
      {
        answered: {
          kind: 'ClusterDeployment',
          name: 'three',
          type: 'IPAMReady',
          status: 'False',
          reason: 'InvalidConfig',
          names: ['spec.config.controlPlaneNumber', '"three"'],
        },
      },
    ],
  },
  {
    name: 'ClusterDeployment: controlPlaneEndpointIP 10.x.0.300',
    group: 'semantics',
    input: (ctx) => [
      deployment('bad-vip', {
        config: { controlPlaneEndpointIP: `10.${ctx.o}.0.300` },
        ipamClaim: { spec: { provider: 'in-cluster', nodeNetwork: { cidr: net(ctx) } } },
      }),
    ],
    expect: [
      {
        check: async (ctx) => {
          let last = '';
          await until(
            async () => {
              const d = await getObject(ctx, 'ClusterDeployment', 'bad-vip');
              const c = (d?.status?.conditions as Obj[] | undefined)?.find((x) => x.type === 'IPAMReady');
              last = JSON.stringify(c ?? null);
              return c?.status === 'False' &&
                c.reason === 'InvalidConfig' &&
                c.message.includes('spec.config.controlPlaneEndpointIP') &&
                c.message.includes(`10.${ctx.o}.0.300`)
                ? true
                : undefined;
            },
            'IPAMReady=False InvalidConfig naming spec.config.controlPlaneEndpointIP',
            30_000,
            () => last,
          );
          const d = await getObject(ctx, 'ClusterDeployment', 'bad-vip');
          if (d?.spec?.config?.ipamEnabled)
            throw new Error('spec.config got ipamEnabled although the endpoint is invalid');
        },
      },
    ],
  },
  {
    name: 'ClusterDeployment: inline claim with IPv6 range start > end',
    group: 'semantics',
    input: (ctx) => [
      deployment('inline-rev', {
        ipamClaim: {
          spec: {
            provider: 'in-cluster',
            nodeNetwork: { ipAddresses: [`fd00:${ctx.o}::9-fd00:${ctx.o}::1`], prefix: 64 },
          },
        },
      }),
    ],
    expect: [
      {
        answered: {
          kind: 'ClusterDeployment',
          name: 'inline-rev',
          type: 'IPAMReady',
          status: 'False',
          reason: 'InvalidSpec',
          names: ['spec.ipamClaim.spec.nodeNetwork.ipAddresses[0]', 'the range starts after it ends'],
        },
      },
    ],
  },
];

/** Address domains and overlaps. */
export const domain: HostileCase[] = [
  ...(
    [
      ['punctuation', 'Blue!'],
      ['unicode', 'blüe'],
      ['64 characters', 'd'.repeat(64)],
      ['a slash', 'namespace/x'],
    ] as const
  ).map(([what, value]): HostileCase => ({
    name: `InClusterIPPool: address-domain with ${what} (webhook)`,
    group: 'domains',
    input: (ctx) => [pool(ctx, `dom-${ctx.o}`, { addresses: [net(ctx)], prefix: 24 }, { [domainKey]: value })],
    expect: [refusedByWebhook(`metadata.annotations[${domainKey}]`, 'is not a valid domain name')],
  })),
  {
    name: 'ClusterIPAMClaim: address-domain with punctuation',
    group: 'domains',
    input: (ctx) => [claim('bad-domain', { nodeNetwork: { cidr: net(ctx) } }, { [domainKey]: 'Blue!' })],
    expect: [
      {
        answered: {
          kind: 'ClusterIPAMClaim',
          name: 'bad-domain',
          type: 'Ready',
          status: 'False',
          reason: 'InvalidSpec',
          names: [`metadata.annotations[${domainKey}]`, '"Blue!"'],
        },
      },
    ],
  },
  {
    name: 'two ClusterIPAMClaims on one network',
    group: 'domains',
    before: (ctx) => [claim('first', { nodeNetwork: { cidr: net(ctx) } })],
    input: (ctx) => [claim('second', { nodeNetwork: { cidr: `10.${ctx.o}.0.0/25` } })],
    expect: [
      {
        answered: {
          kind: 'ClusterIPAMClaim',
          name: 'second',
          type: 'Ready',
          status: 'False',
          reason: 'Overlap',
          names: ['spec.nodeNetwork overlaps ClusterIPAMClaim first'],
        },
      },
    ],
  },
  {
    name: 'allow-overlap "yes" is not "true"',
    group: 'domains',
    before: (ctx) => [claim('owner', { nodeNetwork: { cidr: net(ctx) } })],
    input: (ctx) => [
      claim('yes', { nodeNetwork: { cidr: `10.${ctx.o}.0.128/25` } }, { 'k0rdent.mirantis.com/allow-overlap': 'yes' }),
    ],
    expect: [
      {
        answered: {
          kind: 'ClusterIPAMClaim',
          name: 'yes',
          type: 'Ready',
          status: 'False',
          reason: 'Overlap',
          names: ['ClusterIPAMClaim owner', 'k0rdent.mirantis.com/allow-overlap="true"'],
        },
      },
    ],
  },
  {
    name: 'a ClusterIPAMClaim over a hand-made pool',
    group: 'domains',
    before: (ctx) => [pool(ctx, 'hand-made', { addresses: [net(ctx)], prefix: 24 })],
    input: (ctx) => [claim('over-pool', { nodeNetwork: { cidr: `10.${ctx.o}.0.0/26` } })],
    expect: [
      {
        answered: {
          kind: 'ClusterIPAMClaim',
          name: 'over-pool',
          type: 'AddressSpaceAvailable',
          status: 'False',
          reason: 'Overlap',
          names: ['InClusterIPPool hand-made'],
        },
      },
    ],
  },
  {
    name: 'two pools of one namespace overlapping',
    group: 'domains',
    before: (ctx) => [pool(ctx, 'ov-a', { addresses: [net(ctx)], prefix: 24 })],
    input: (ctx) => [pool(ctx, 'ov-b', { addresses: [`10.${ctx.o}.0.50-10.${ctx.o}.0.100`], prefix: 24 })],
    expect: [
      {
        answered: {
          kind: 'InClusterIPPool',
          name: 'ov-b',
          type: 'Ready',
          status: 'True',
          reason: 'PoolReadyWithWarnings',
          names: [/overlaps InClusterIPPool [^ ]*\/ov-a at .*shared: each address is handed out once/],
        },
      },
    ],
  },
  {
    name: 'a namespaced pool overlapping a global pool',
    group: 'domains',
    before: (ctx) => [globalPool(ctx, 'g', { addresses: [`100.${64 + (ctx.o % 60)}.${ctx.o}.0/24`], prefix: 24 })],
    input: (ctx) => [pool(ctx, 'under-global', { addresses: [`100.${64 + (ctx.o % 60)}.${ctx.o}.0/25`], prefix: 24 })],
    expect: [
      {
        answered: {
          kind: 'InClusterIPPool',
          name: 'under-global',
          type: 'Ready',
          status: 'True',
          reason: 'PoolReadyWithWarnings',
          names: ['GlobalInClusterIPPool', 'handed out twice'],
        },
      },
    ],
  },
  {
    name: 'unicode, emoji and control characters in annotations and the hostname annotation',
    group: 'unicode',
    input: (ctx) => [
      pool(
        ctx,
        'noisy',
        { addresses: [net(ctx)], prefix: 24 },
        {
          'example.com/note': 'ünïcødé \u202e RTL 🚀 \u0000 NUL \u001b[31m escape \t tab',
        },
      ),
      machine('noisy-m', 'noisy', 'InClusterIPPool', {
        'ipam.cluster.x-k8s.io/hostname': 'hôst\u0007name.例え.jp',
      }),
    ],
    expect: [{ check: async (ctx) => void (await addressOf(ctx, 'noisy-m')) }],
  },
];

/** References to objects that are missing, of the wrong kind, or contradict each other. */
export const refs: HostileCase[] = [
  {
    name: 'IPAddressClaim: poolRef to a missing InClusterIPPool',
    group: 'references',
    input: () => [machine('to-missing', 'no-such-pool')],
    expect: [
      {
        answered: {
          kind: 'IPAddressClaim',
          name: 'to-missing',
          type: 'Ready',
          status: 'False',
          reason: 'PoolNotReady',
          names: ['InClusterIPPool no-such-pool not found'],
        },
      },
    ],
  },
  {
    name: 'IPAddressClaim: poolRef to a missing GlobalInClusterIPPool',
    group: 'references',
    input: (ctx) => [machine('to-missing-global', ctx.cname('nope'), 'GlobalInClusterIPPool')],
    expect: [
      {
        answered: {
          kind: 'IPAddressClaim',
          name: 'to-missing-global',
          type: 'Ready',
          status: 'False',
          reason: 'PoolNotReady',
          names: ['GlobalInClusterIPPool', 'not found'],
        },
      },
    ],
  },
  {
    name: 'IPAddressClaim: poolRef with an empty apiGroup',
    group: 'references',
    input: () => [
      { ...machine('empty-group', 'p'), spec: { poolRef: { apiGroup: '', kind: 'InClusterIPPool', name: 'p' } } },
    ],
    expect: [{ refused: { field: 'spec.poolRef.apiGroup', says: 'at least 1 chars' } }],
  },
  {
    name: 'IPAddressClaim: poolRef without a name',
    group: 'references',
    input: () => [
      { ...machine('no-name', 'p'), spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool' } } },
    ],
    expect: [{ refused: { field: 'spec.poolRef.name', says: 'Required value' } }],
  },
  {
    name: 'IPAddressClaim: changing its poolRef',
    group: 'references',
    before: (ctx) => [pool(ctx, 'fixed', { addresses: [net(ctx)], prefix: 24 }), machine('fixed-m', 'fixed')],
    input: () => [machine('fixed-m', 'elsewhere')],
    expect: [{ refused: { field: 'spec', says: 'spec is immutable' } }],
  },
  {
    name: 'IPAddress written by hand with address 10.x.0.256',
    group: 'references',
    input: (ctx) => [
      {
        apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
        kind: 'IPAddress',
        metadata: { name: 'forged' },
        spec: {
          address: `10.${ctx.o}.0.256`,
          prefix: 24,
          claimRef: { name: 'forged' },
          poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'p' },
        },
      },
    ],
    expect: [{ refused: { field: 'spec.address', says: '.256' } }],
  },
  {
    name: 'ClusterDeployment: ref to a missing ClusterIPAMClaim',
    group: 'references',
    input: () => [deployment('ghost-ref', { ipamClaim: { ref: 'no-such-claim' } })],
    expect: [
      {
        answered: {
          kind: 'ClusterDeployment',
          name: 'ghost-ref',
          type: 'IPAMReady',
          status: 'False',
          reason: 'ClaimNotFound',
          names: ['ClusterIPAMClaim no-such-claim not found'],
        },
      },
    ],
  },
  {
    name: 'two ClusterDeployments on one ClusterIPAMClaim',
    group: 'references',
    before: (ctx) => [
      claim('one-claim', { cluster: 'first-cd', nodeNetwork: { cidr: net(ctx) } }),
      deployment('first-cd', { ipamClaim: { ref: 'one-claim' } }),
    ],
    input: () => [deployment('second-cd', { ipamClaim: { ref: 'one-claim' } })],
    expect: [
      {
        answered: {
          kind: 'ClusterDeployment',
          name: 'second-cd',
          type: 'IPAMReady',
          status: 'False',
          reason: 'ClaimClusterMismatch',
          names: ['spec.cluster', '"first-cd"', '"second-cd"'],
        },
      },
      {
        answered: {
          kind: 'ClusterDeployment',
          name: 'first-cd',
          type: 'IPAMReady',
          status: 'True',
          reason: 'IPAMReady',
          names: ['ClusterIPAMClaim one-claim is bound'],
        },
      },
    ],
  },
  {
    name: 'ClusterDeployment: ref to a claim with no spec.cluster',
    group: 'references',
    before: (ctx) => [
      {
        ...claim('clusterless', { nodeNetwork: { cidr: net(ctx) } }),
        spec: { provider: 'in-cluster', nodeNetwork: { cidr: net(ctx) } },
      },
    ],
    input: () => [deployment('wants-clusterless', { ipamClaim: { ref: 'clusterless' } })],
    expect: [
      {
        answered: {
          kind: 'ClusterDeployment',
          name: 'wants-clusterless',
          type: 'IPAMReady',
          status: 'False',
          reason: 'ClaimClusterMismatch',
          names: ['has no spec.cluster', '"wants-clusterless"'],
        },
      },
    ],
  },
  {
    name: 'ClusterDeployment: inline spec and a ref together',
    group: 'references',
    input: (ctx) => [
      deployment('both', {
        ipamClaim: { ref: 'both-own', spec: { provider: 'in-cluster', nodeNetwork: { cidr: net(ctx) } } },
      }),
    ],
    expect: [
      {
        answered: {
          kind: 'ClusterDeployment',
          name: 'both',
          type: 'IPAMReady',
          status: 'True',
          reason: 'IPAMReady',
          names: ['ClusterIPAMClaim both-own is bound'],
        },
      },
    ],
  },
  {
    name: 'ClusterIPAMClaim: clusterIPAMRef to a missing ClusterIPAM',
    group: 'references',
    input: (ctx) => [claim('ref-missing', { clusterIPAMRef: 'no-such-cipam', nodeNetwork: { cidr: net(ctx) } })],
    expect: [
      {
        answered: {
          kind: 'ClusterIPAMClaim',
          name: 'ref-missing',
          type: 'Ready',
          status: 'False',
          reason: 'InvalidSpec',
          names: ['spec.clusterIPAMRef', '"no-such-cipam"'],
        },
      },
    ],
  },
  ...(
    [
      [
        'credentials Secret missing',
        undefined,
        { host: '127.0.0.1', port: '1' },
        'AuthenticationFailed',
        ['credentials Secret default/', 'not found'],
      ],
      [
        'Secret with a username only',
        { username: 'admin' },
        { host: '127.0.0.1', port: '1' },
        'AuthenticationFailed',
        ['holds username', 'username and password'],
      ],
      [
        'nothing listens on the port',
        { username: 'admin', password: 'hostile-corpus-pw' },
        { host: '127.0.0.1', port: '1' },
        'ConnectionFailed',
        ['https://127.0.0.1:1/', 'ECONNREFUSED'],
      ],
      [
        'a host name that does not resolve',
        { username: 'admin', password: 'hostile-corpus-pw' },
        { host: 'no-such-host.invalid' },
        'ConnectionFailed',
        ['no-such-host.invalid'],
      ],
    ] as [string, Record<string, string> | undefined, Obj, string, string[]][]
  ).map(([what, data, spec, reason, names]): HostileCase => ({
    name: `InfobloxInstance: ${what}`,
    group: 'infoblox',
    // A missing Secret is one named but never created.
    before: (ctx) => (data ? [secret(ctx, 'creds', data)] : []),
    input: (ctx) => [instance(ctx, 'ib', { ...spec, credentialsSecretRef: { name: ctx.cname('creds') } })],
    expect: [
      {
        answered: {
          kind: 'InfobloxInstance',
          clusterScoped: true,
          name: (ctx) => ctx.cname('ib'),
          type: 'Ready',
          status: 'False',
          reason,
          names,
        },
      },
    ],
  })),
  {
    name: 'InfobloxIPPool: instance missing, and a claim on it',
    group: 'infoblox',
    input: (ctx) => [
      ibPool('no-instance', ctx.cname('ghost'), [{ cidr: net(ctx) }]),
      machine('on-no-instance', 'no-instance', 'InfobloxIPPool'),
    ],
    expect: [
      {
        answered: {
          kind: 'InfobloxIPPool',
          name: 'no-instance',
          type: 'Ready',
          status: 'False',
          reason: 'InstanceNotFound',
          names: ['InfobloxInstance', 'does not exist'],
        },
      },
      {
        answered: {
          kind: 'IPAddressClaim',
          name: 'on-no-instance',
          type: 'Ready',
          status: 'False',
          reason: 'PoolNotReady',
          names: ['no-instance'],
        },
      },
    ],
  },
  {
    name: 'InfobloxIPPool: gateway outside its subnet',
    group: 'infoblox',
    input: (ctx) => [ibPool('gw-out-ib', 'x', [{ cidr: net(ctx), gateway: `10.${ctx.o}.9.1` }])],
    expect: [{ refused: { field: 'spec.subnets[0].gateway', says: 'gateway must lie inside cidr' } }],
  },
  {
    name: 'InfobloxIPPool: one subnet listed twice',
    group: 'infoblox',
    input: (ctx) => [ibPool('dup-subnet', 'x', [{ cidr: net(ctx) }, { cidr: net(ctx) }])],
    expect: [{ refused: { field: 'spec.subnets[1]', says: 'Duplicate value' } }],
  },
  {
    name: 'InfobloxIPPool: 17 subnets',
    group: 'infoblox',
    input: (ctx) => [
      ibPool(
        'many-subnets',
        'x',
        Array.from({ length: 17 }, (_, i) => ({ cidr: net(ctx, i) })),
      ),
    ],
    expect: [{ refused: { field: 'spec.subnets', says: 'must have at most 16 items' } }],
  },
];

/** Objects deleted while they are being served. */
export const lifecycle: HostileCase[] = [
  {
    name: 'a pool deleted while 20 claims are being served',
    group: 'mid-allocation',
    input: (ctx) => [pool(ctx, 'doomed', { addresses: [net(ctx)], prefix: 24 })],
    expect: [
      {
        check: async (ctx) => {
          const claims = Array.from({ length: 20 }, (_, i) => machine(`doomed-${i}`, 'doomed'));
          const created = await applyObjects(ctx, claims);
          if (created.code !== 0) throw new Error(created.stderr);
          // The delete races the allocations: refused by the webhook while some are held, or accepted (the pool
          // then stays, deleting, held by its finalizer). Either way: no address twice, none outside the pool.
          await ctx.kubectl(['delete', resources.InClusterIPPool!, 'doomed', '--wait=false'], { namespace: ctx.ns });
          let last = '';
          const settled = await until(
            async () => {
              const cs = await listNames(ctx, 'IPAddressClaim', 'doomed-');
              const states = cs.map((c) => {
                const r = (c.status?.conditions as Obj[] | undefined)?.find((x) => x.type === 'Ready');
                return c.status?.addressRef?.name
                  ? 'served'
                  : r?.status === 'False'
                    ? `${r.reason}: ${r.message}`
                    : 'pending';
              });
              last = JSON.stringify(states);
              return states.includes('pending') ? undefined : states;
            },
            'every claim of the doomed pool to be served or told why not',
            30_000,
            () => last,
          );
          for (const s of settled) {
            if (s !== 'served' && !/doomed/.test(s))
              throw new Error(`a claim was refused without naming the pool: ${s}`);
          }
          const addrs = (await listNames(ctx, 'IPAddress', 'doomed-')).map((a) => a.spec.address as string);
          if (new Set(addrs).size !== addrs.length) throw new Error(`an address handed out twice: ${addrs.join(', ')}`);
          const outside = addrs.filter((a) => !a.startsWith(`10.${ctx.o}.0.`));
          if (outside.length) throw new Error(`addresses outside the pool: ${outside.join(', ')}`);
          // the machines go: the pool goes too (no finalizer left behind)
          await must(ctx, ['delete', resources.IPAddressClaim!, ...claims.map((c) => c.metadata.name as string)]);
          await ctx.kubectl(['delete', resources.InClusterIPPool!, 'doomed', '--ignore-not-found', '--wait=false'], {
            namespace: ctx.ns,
          });
          // The pool waits for its ledger entries too. Within the sweep's reach: an entry made for a claim another
          // manager answered first with another address (npm test runs several managers on one control plane,
          // without leader election) goes once stale (30 s); one whose IPAddress was seen, at the next write of the
          // ledger or the sweep's tidy (about 30 s).
          await until(
            async () => ((await getObject(ctx, 'InClusterIPPool', 'doomed')) ? undefined : true),
            'the doomed pool to be gone once its claims are',
            90_000,
          );
          const left = await listNames(ctx, 'IPAddress', 'doomed-');
          if (left.length) throw new Error(`IPAddresses left behind: ${left.map((a) => a.metadata.name).join(', ')}`);
        },
      },
    ],
  },
  {
    name: '30 claims deleted right after they were created',
    group: 'mid-allocation',
    input: (ctx) => [pool(ctx, 'churn', { addresses: [net(ctx)], prefix: 24 })],
    expect: [
      {
        check: async (ctx) => {
          const claims = Array.from({ length: 30 }, (_, i) => machine(`churn-${i}`, 'churn'));
          const created = await applyObjects(ctx, claims);
          if (created.code !== 0) throw new Error(created.stderr);
          await must(ctx, [
            'delete',
            resources.IPAddressClaim!,
            '--wait=false',
            ...claims.map((c) => c.metadata.name as string),
          ]);
          await until(
            async () => ((await listNames(ctx, 'IPAddressClaim', 'churn-')).length === 0 ? true : undefined),
            'the deleted claims to be gone (no finalizer left behind)',
          );
          await until(
            async () => ((await listNames(ctx, 'IPAddress', 'churn-')).length === 0 ? true : undefined),
            'their IPAddresses to be gone',
          );
          let last = '';
          await until(
            async () => {
              const p = await getObject(ctx, 'InClusterIPPool', 'churn');
              last = JSON.stringify(p?.status?.ipAddresses);
              return p?.status?.ipAddresses?.used === 0 ? true : undefined;
            },
            'the pool to count 0 used',
            // A ledger entry left by a claim deleted mid-allocation goes once stale (30 s after a manager first saw
            // it), at the sweep after that (every 15 s at most), then its delete: 90 s, as for the doomed pool.
            90_000,
            () => last,
          );
        },
      },
    ],
  },
  {
    name: 'a ClusterIPAMClaim deleted while its ClusterDeployment uses it',
    group: 'mid-allocation',
    before: (ctx) => [
      claim('in-use', { cluster: 'user-cd', nodeNetwork: { cidr: net(ctx) } }),
      deployment('user-cd', { ipamClaim: { ref: 'in-use' } }),
    ],
    expect: [
      {
        check: async (ctx) => {
          await until(async () => {
            const d = await getObject(ctx, 'ClusterDeployment', 'user-cd');
            const c = (d?.status?.conditions as Obj[] | undefined)?.find((x) => x.type === 'IPAMReady');
            return c?.status === 'True' ? true : undefined;
          }, 'user-cd to be IPAMReady');
          await must(ctx, ['delete', resources.ClusterIPAMClaim!, 'in-use', '--wait=false']);
        },
      },
      {
        answered: {
          kind: 'ClusterIPAMClaim',
          name: 'in-use',
          type: 'Ready',
          status: 'False',
          reason: 'DeletionBlocked',
          names: ['user-cd'],
        },
      },
      {
        answered: {
          kind: 'ClusterDeployment',
          name: 'user-cd',
          type: 'IPAMReady',
          status: 'False',
          reason: 'ClaimDeleting',
          names: ['ClusterIPAMClaim in-use is being deleted'],
        },
      },
    ],
  },
  {
    name: 'a ClusterIPAMClaim deleted right after it was created',
    group: 'mid-allocation',
    input: (ctx) => [claim('fleeting', { nodeNetwork: { cidr: net(ctx) }, externalNetwork: { cidr: net(ctx, 1) } })],
    expect: [
      {
        check: async (ctx) => {
          await must(ctx, ['delete', resources.ClusterIPAMClaim!, 'fleeting', '--wait=false']);
          await until(async () => {
            const left = [
              await getObject(ctx, 'ClusterIPAMClaim', 'fleeting'),
              await getObject(ctx, 'ClusterIPAM', 'fleeting'),
              await getObject(ctx, 'InClusterIPPool', 'fleeting'),
              await getObject(ctx, 'InClusterIPPool', 'fleeting-external'),
            ].filter(Boolean);
            return left.length === 0 ? true : undefined;
          }, 'the claim, its ClusterIPAM and its pools to be gone');
        },
      },
    ],
  },
];
