// The CRDs on a real kube-apiserver: they install, the examples apply, `kubectl get` shows the columns, and
// invalid objects are rejected with a message that names the field.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import {
  clusterDeploymentKind,
  clusterIPAMClaimKind,
  clusterIPAMKind,
  crdName,
  globalInClusterIPPoolKind,
  inClusterIPPoolKind,
  infobloxInstanceKind,
  infobloxIPPoolKind,
  ipAddressClaimKind,
  ipAddressKind,
  kinds,
  type KindDescriptor,
} from '../../src/api/index.ts';
import { kubectl, testNamespace } from '../support/cluster.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const examplesDir = join(repoRoot, 'examples');

type Manifest = { apiVersion: string; kind: string; metadata: Record<string, unknown>; [k: string]: unknown };

const manifest = (k: KindDescriptor, name: string, spec: unknown): Manifest => ({
  apiVersion: k.apiVersion,
  kind: k.kind,
  metadata: { name },
  spec,
});

const apply = (m: Manifest | Manifest[], namespace?: string) =>
  kubectl(['apply', '-f', '-'], {
    input: (Array.isArray(m) ? m : [m]).map((d) => stringify(d)).join('---\n'),
    namespace,
    check: false,
  });

const resource = (k: KindDescriptor) => `${k.plural}.${k.group}`;

const patchStatus = (k: KindDescriptor, name: string, status: unknown, namespace: string, check = true) =>
  kubectl(['patch', resource(k), name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })], {
    namespace,
    check,
  });

function assertRejected(r: { code: number; stderr: string }, path: string, message: string) {
  assert.notEqual(r.code, 0, 'the API server accepted it');
  assert.ok(r.stderr.includes(path), `stderr does not name ${path}:\n${r.stderr}`);
  assert.ok(r.stderr.includes(message), `stderr does not say "${message}":\n${r.stderr}`);
}

/** Header cells of `kubectl get` (cells are separated by two or more spaces; "POOL NAME" is one cell). */
async function headers(k: KindDescriptor, namespace: string, wide = false): Promise<string[]> {
  const args = ['get', resource(k), ...(wide ? ['-o', 'wide'] : [])];
  const { stdout } = await kubectl(args, k.namespaced ? { namespace } : {});
  return stdout
    .split('\n')[0]!
    .trim()
    .split(/\s{2,}/);
}

let ns: string;
const clusterScoped: string[] = [];

before(async () => {
  await kubectl(['apply', '-f', join(repoRoot, 'deploy/crds')]);
  await kubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    ...kinds.map((k) => `customresourcedefinition/${crdName(k)}`),
  ]);
  ns = await testNamespace('crds');
});

after(async () => {
  for (const ref of clusterScoped)
    await kubectl(['delete', '--ignore-not-found', '--wait=false', ref], { check: false });
  if (ns) await kubectl(['delete', 'namespace', ns, '--wait=false'], { check: false });
});

describe('CRDs', () => {
  it('are established with the names, short names and categories of the descriptors', async () => {
    for (const k of kinds) {
      const { stdout } = await kubectl(['get', 'crd', crdName(k), '-o', 'json']);
      const crd = JSON.parse(stdout);
      const conditions = Object.fromEntries(
        (crd.status.conditions as { type: string; status: string }[]).map((c) => [c.type, c.status]),
      );
      assert.equal(conditions.Established, 'True', crdName(k));
      assert.equal(conditions.NamesAccepted, 'True', crdName(k));
      assert.deepEqual(crd.status.acceptedNames.shortNames ?? [], k.shortNames ?? []);
      assert.deepEqual(crd.status.acceptedNames.categories ?? [], k.categories ?? []);
    }
  });
});

describe('examples', () => {
  it('every example applies as written', async () => {
    const dirs = (await readdir(examplesDir, { withFileTypes: true })).filter((d) => d.isDirectory());
    assert.ok(dirs.length >= 6, 'example scenarios');
    let files = 0;
    for (const dir of dirs) {
      for (const file of (await readdir(join(examplesDir, dir.name))).filter((f) => f.endsWith('.yaml')).sort()) {
        const path = join(examplesDir, dir.name, file);
        const docs = parseAllDocuments(await readFile(path, 'utf8')).map((d) => d.toJS() as Manifest);
        const cluster = docs.map((m) => kinds.find((k) => k.kind === m.kind && k.apiVersion === m.apiVersion));
        let r;
        if (cluster.some((k) => k && !k.namespaced)) {
          // Cluster-scoped objects are shared by every test of the run: apply them under a name of this test's own.
          const renamed = docs.map((m, i) => {
            const k = cluster[i];
            if (!k || k.namespaced) return m;
            const name = `${String(m.metadata.name)}-${ns}`;
            clusterScoped.push(`${resource(k)}/${name}`);
            return { ...m, metadata: { ...m.metadata, name } };
          });
          r = await apply(renamed);
        } else {
          r = await kubectl(['apply', '-f', path], { namespace: ns, check: false });
        }
        assert.equal(r.code, 0, `${dir.name}/${file}: ${r.stderr}`);
        files++;
      }
    }
    assert.ok(files >= 15, `${files} example files`);
  });

  it('keeps the ClusterDeployment fields this project does not act on, and types the ones it does', async () => {
    const { stdout } = await kubectl(['get', resource(clusterDeploymentKind), 'dev-vsphere-1', '-o', 'json'], {
      namespace: ns,
    });
    const spec = JSON.parse(stdout).spec;
    assert.equal(spec.propagateCredentials, true);
    assert.equal(spec.cleanupOnDeletion, true);
    assert.equal(spec.serviceSpec.services.length, 2);
    assert.equal(spec.config.controlPlaneNumber, 3);
    assert.equal(spec.config.workersNumber, 2);
    assert.equal(spec.dryRun, false);
    assert.equal(spec.ipamClaim.ref, 'dev-vsphere-1-ipam');
    const inline = JSON.parse(
      (await kubectl(['get', resource(clusterDeploymentKind), 'branch-vsphere', '-o', 'json'], { namespace: ns }))
        .stdout,
    ).spec;
    assert.equal(inline.dryRun, false, 'dryRun defaults to false');
    assert.equal(inline.ipamClaim.spec.nodeNetwork.cidr, '203.0.113.128/25');
  });

  it('defaults InfobloxInstance.spec.port to "443"', async () => {
    const name = `no-port-${ns}`;
    clusterScoped.push(`${resource(infobloxInstanceKind)}/${name}`);
    const r = await apply(
      manifest(infobloxInstanceKind, name, {
        host: '192.0.2.53',
        wapiVersion: '2.12',
        credentialsSecretRef: { name: 'infoblox-dc1-credentials' },
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    const { stdout } = await kubectl(['get', resource(infobloxInstanceKind), name, '-o', 'jsonpath={.spec.port}']);
    assert.equal(stdout, '443');
  });
});

describe('kubectl get', () => {
  before(async () => {
    // Kinds no example creates: a controller writes them.
    const r = await apply(
      [
        manifest(clusterIPAMKind, 'dev-vsphere-1-ipam', {
          provider: 'in-cluster',
          clusterIPAMClaimRefs: 'dev-vsphere-1-ipam',
        }),
        manifest(ipAddressKind, 'dev-vsphere-1-md-0-x7k2p-0-0', {
          claimRef: { name: 'dev-vsphere-1-md-0-x7k2p-0-0' },
          poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'workload-nodes' },
          address: '10.0.20.10',
          prefix: 24,
          gateway: '10.0.20.1',
        }),
      ],
      ns,
    );
    assert.equal(r.code, 0, r.stderr);
  });

  const expected: [KindDescriptor, string[]][] = [
    [clusterIPAMClaimKind, ['NAME', 'BOUND', 'AGE']],
    [clusterIPAMKind, ['NAME', 'PHASE', 'AGE']],
    [clusterDeploymentKind, ['NAME', 'IPAM', 'TEMPLATE', 'AGE']],
    [ipAddressClaimKind, ['NAME', 'POOL NAME', 'POOL KIND', 'AGE']],
    [ipAddressKind, ['NAME', 'ADDRESS', 'POOL NAME', 'POOL KIND', 'AGE']],
    [inClusterIPPoolKind, ['NAME', 'ADDRESSES', 'TOTAL', 'FREE', 'USED', 'AGE']],
    [globalInClusterIPPoolKind, ['NAME', 'ADDRESSES', 'TOTAL', 'FREE', 'USED', 'AGE']],
    [infobloxInstanceKind, ['NAME', 'HOST', 'READY', 'AGE']],
    [infobloxIPPoolKind, ['NAME', 'INSTANCE', 'READY', 'AGE']],
  ];
  for (const [k, columns] of expected) {
    it(`${k.kind}: ${columns.join(', ')}`, async () => {
      assert.deepEqual(await headers(k, ns), columns);
    });
  }

  it('ClusterIPAMClaim -o wide adds provider and cluster', async () => {
    assert.deepEqual(await headers(clusterIPAMClaimKind, ns, true), ['NAME', 'BOUND', 'PROVIDER', 'CLUSTER', 'AGE']);
  });

  it('shows status written through the status subresource', async () => {
    await patchStatus(clusterIPAMClaimKind, 'dev-vsphere-1-ipam', { bound: true }, ns);
    const counts = { total: 140, used: 1, free: 139, outOfRange: 0, totalHuman: '140', freeHuman: '139' };
    await patchStatus(inClusterIPPoolKind, 'workload-nodes', { ipAddresses: counts }, ns);
    const claim = await kubectl(['get', resource(clusterIPAMClaimKind), 'dev-vsphere-1-ipam', '--no-headers'], {
      namespace: ns,
    });
    assert.match(claim.stdout, /^dev-vsphere-1-ipam\s+true\s+/);
    const pool = await kubectl(['get', resource(inClusterIPPoolKind), 'workload-nodes', '--no-headers'], {
      namespace: ns,
    });
    assert.match(pool.stdout, /\s140\s+139\s+1\s+/);
  });

  it('answers to the short names and categories', async () => {
    for (const name of ['cic', 'cipam', 'cld', 'clusterd', 'k0rdent', 'cluster-ipam', 'cluster-api']) {
      const r = await kubectl(['get', name], { namespace: ns, check: false });
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      assert.ok(r.stdout.length > 0, name);
    }
  });
});

// Objects that must be accepted: the edges of what the rules allow.
const accepted: { name: string; objects: (n: string) => Manifest[] }[] = [
  {
    name: 'an in-cluster pool with an unaligned CIDR (masked by the provider)',
    objects: (n) => [manifest(inClusterIPPoolKind, n, { addresses: ['192.168.1.1/24'], prefix: 24 })],
  },
  {
    name: 'an IPv6 pool with ranges, exclusions and a gateway',
    objects: (n) => [
      manifest(inClusterIPPoolKind, n, {
        addresses: ['2001:db8:1::10-2001:db8:1::ff', '2001:db8:1::1:0/112'],
        excludedAddresses: ['2001:db8:1::20'],
        prefix: 64,
        gateway: '2001:db8:1::1',
      }),
    ],
  },
  {
    name: 'a pool of 128 ranges with 128 exclusions (CEL runtime cost at the bounds)',
    objects: (n) => [
      manifest(inClusterIPPoolKind, n, {
        addresses: Array.from({ length: 128 }, (_, i) => `10.1.${i}.0-10.1.${i}.255`),
        excludedAddresses: Array.from({ length: 128 }, (_, i) => `10.1.${i}.1`),
        prefix: 16,
      }),
    ],
  },
  {
    // Three networks of 128 long IPv6 ranges inside a cidr: the most CEL work one claim can ask for.
    name: 'a claim and an inline ClusterDeployment at the size bounds (CEL runtime cost)',
    objects: (n) => {
      const space = (net: number) => ({
        cidr: `2001:db8:${net}::/48`,
        ipAddresses: Array.from(
          { length: 128 },
          (_, i) =>
            `2001:db8:${net}:ffff:ffff:ffff:ffff:${i.toString(16)}00-2001:db8:${net}:ffff:ffff:ffff:ffff:${i.toString(16)}ff`,
        ),
        gateway: `2001:db8:${net}::1`,
        prefix: 64,
      });
      const spec = {
        provider: 'in-cluster',
        nodeNetwork: space(1),
        clusterNetwork: space(2),
        externalNetwork: space(3),
      };
      return [
        manifest(clusterIPAMClaimKind, n, spec),
        manifest(clusterDeploymentKind, n, { template: 't', ipamClaim: { spec } }),
      ];
    },
  },
  {
    name: 'a claim with every network, IPv6 and IPv4, gateways outside the cidr (a carve-out)',
    objects: (n) => [
      manifest(clusterIPAMClaimKind, n, {
        provider: 'in-cluster',
        nodeNetwork: { cidr: '10.0.10.0/25', prefix: 24, gateway: '10.0.10.254' },
        clusterNetwork: { ipAddresses: ['2001:db8:5::10-2001:db8:5::20'], prefix: 64 },
        externalNetwork: { ipAddresses: ['192.0.2.200'], prefix: 24 },
      }),
    ],
  },
  {
    name: 'ClusterDeployments with dryRun true and false, and with both ipamClaim.ref and ipamClaim.spec',
    objects: (n) => [
      manifest(clusterDeploymentKind, `${n}-a`, { template: 't', dryRun: true }),
      manifest(clusterDeploymentKind, `${n}-b`, { template: 't', dryRun: false }),
      manifest(clusterDeploymentKind, `${n}-c`, {
        template: 't',
        ipamClaim: { ref: `${n}-c-ipam`, spec: { provider: 'in-cluster', nodeNetwork: { cidr: '10.9.0.0/24' } } },
      }),
    ],
  },
  {
    name: 'an IPv6 IPAddress with prefix 64',
    objects: (n) => [
      manifest(ipAddressKind, n, {
        claimRef: { name: n },
        poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'p' },
        address: '2001:db8::10',
        prefix: 64,
        gateway: '2001:db8::1',
      }),
    ],
  },
  {
    name: 'an Infobox pool with two IPv6 subnets',
    objects: (n) => [
      manifest(infobloxIPPoolKind, n, {
        instance: { name: 'infoblox-dc1' },
        subnets: [{ cidr: '2001:db8:a::/64', gateway: '2001:db8:a::1' }, { cidr: '2001:db8:b::/64' }],
      }),
    ],
  },
];

describe('accepted', { concurrency: 4 }, () => {
  accepted.forEach((c, i) => {
    it(c.name, async () => {
      const r = await apply(c.objects(`ok-${i}`), ns);
      assert.equal(r.code, 0, r.stderr);
    });
  });

  it('setting spec.cluster and spec.clusterIPAMRef for the first time is an allowed update', async () => {
    const base = { provider: 'in-cluster', nodeNetwork: { cidr: '10.7.0.0/24' } };
    assert.equal((await apply(manifest(clusterIPAMClaimKind, 'set-once', base), ns)).code, 0);
    const r = await apply(
      manifest(clusterIPAMClaimKind, 'set-once', { ...base, cluster: 'c1', clusterIPAMRef: 'set-once' }),
      ns,
    );
    assert.equal(r.code, 0, r.stderr);
  });
});

interface Rejected {
  name: string;
  /** Applied first and must succeed (for update rules). */
  before?: Manifest;
  object: Manifest;
  /** The field path the API server must name. */
  path: string;
  /** A piece of the message. */
  message: string;
}

const claimOf = (name: string, spec: Record<string, unknown>) =>
  manifest(clusterIPAMClaimKind, name, { provider: 'in-cluster', nodeNetwork: { cidr: '10.0.0.0/24' }, ...spec });
const nodeNetwork = (name: string, space: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  claimOf(name, { nodeNetwork: space, ...extra });
const poolOf = (name: string, spec: Record<string, unknown>, k: KindDescriptor = inClusterIPPoolKind) =>
  manifest(k, name, { addresses: ['10.0.0.0/24'], prefix: 24, ...spec });
const poolRef = { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'pool' };
const ipAddressOf = (name: string, spec: Record<string, unknown>) =>
  manifest(ipAddressKind, name, { claimRef: { name }, poolRef, address: '10.0.0.5', prefix: 24, ...spec });
const instanceOf = (name: string, spec: Record<string, unknown>) =>
  manifest(infobloxInstanceKind, name, {
    host: 'infoblox.example.com',
    wapiVersion: '2.12',
    credentialsSecretRef: { name: 'creds' },
    ...spec,
  });
const infobloxPoolOf = (name: string, spec: Record<string, unknown>) =>
  manifest(infobloxIPPoolKind, name, { instance: { name: 'ib' }, subnets: [{ cidr: '10.0.0.0/24' }], ...spec });
const deploymentOf = (name: string, spec: Record<string, unknown>) =>
  manifest(clusterDeploymentKind, name, { template: 'vsphere-standalone-cp-1-0-14', ...spec });
const without = (o: Manifest, field: string): Manifest => {
  const spec = { ...(o.spec as Record<string, unknown>) };
  delete spec[field];
  return { ...o, spec };
};

const rejected: Rejected[] = [
  // ClusterIPAMClaim
  {
    name: 'unknown provider',
    object: claimOf('r', { provider: 'dhcp' }),
    path: 'spec.provider',
    message: 'Unsupported value: "dhcp"',
  },
  {
    name: 'missing provider',
    object: without(claimOf('r', {}), 'provider'),
    path: 'spec.provider',
    message: 'Required value',
  },
  {
    name: 'missing nodeNetwork',
    object: without(claimOf('r', {}), 'nodeNetwork'),
    path: 'spec.nodeNetwork',
    message: 'Required value',
  },
  {
    name: 'IPv4 CIDR prefix out of range',
    object: nodeNetwork('r', { cidr: '10.0.0.0/33' }),
    path: 'spec.nodeNetwork.cidr',
    message: 'is not a CIDR',
  },
  {
    name: 'CIDR with a bad octet',
    object: nodeNetwork('r', { cidr: '10.0.0.300/24' }),
    path: 'spec.nodeNetwork.cidr',
    message: 'is not a CIDR',
  },
  {
    name: 'claim CIDR with host bits',
    object: nodeNetwork('r', { cidr: '10.0.0.5/24' }),
    path: 'spec.nodeNetwork.cidr',
    message: 'host bits set',
  },
  {
    name: 'bad IP in ipAddresses',
    object: nodeNetwork('r', { ipAddresses: ['10.0.0.1', '10.0.0.256'], prefix: 24 }),
    path: 'spec.nodeNetwork.ipAddresses[1]',
    message: '"10.0.0.256" is not an IP address, an inclusive range',
  },
  {
    name: 'IPv4 range that ends before it starts',
    object: nodeNetwork('r', { ipAddresses: ['10.0.0.20-10.0.0.10'], prefix: 24 }),
    path: 'spec.nodeNetwork.ipAddresses[0]',
    message: 'ends before it starts',
  },
  {
    name: 'range across families',
    object: nodeNetwork('r', { ipAddresses: ['10.0.0.1-2001:db8::1'], prefix: 24 }),
    path: 'spec.nodeNetwork.ipAddresses[0]',
    message: 'mixes IPv4 and IPv6',
  },
  {
    name: 'mixed families in ipAddresses',
    object: nodeNetwork('r', { ipAddresses: ['10.0.0.1', '2001:db8::1'], prefix: 24 }),
    path: 'spec.nodeNetwork.ipAddresses',
    message: 'all IPv4 or all IPv6',
  },
  {
    name: 'ipAddresses without prefix',
    object: nodeNetwork('r', { ipAddresses: ['10.0.0.10-10.0.0.20'] }),
    path: 'spec.nodeNetwork.prefix',
    message: 'prefix is required',
  },
  {
    name: 'IPv4 prefix 33',
    object: nodeNetwork('r', { cidr: '10.0.0.0/24', prefix: 33 }),
    path: 'spec.nodeNetwork.prefix',
    message: 'at most 32',
  },
  {
    name: 'prefix 129',
    object: nodeNetwork('r', { cidr: '2001:db8::/64', prefix: 129 }),
    path: 'spec.nodeNetwork.prefix',
    message: 'less than or equal to 128',
  },
  {
    name: 'gateway of the other family',
    object: nodeNetwork('r', { cidr: '10.0.0.0/24', gateway: '2001:db8::1' }),
    path: 'spec.nodeNetwork.gateway',
    message: 'same IP family',
  },
  {
    name: 'gateway that is not an IP',
    object: nodeNetwork('r', { cidr: '10.0.0.0/24', gateway: 'gw.example.com' }),
    path: 'spec.nodeNetwork.gateway',
    message: 'is not an IP address',
  },
  {
    name: 'ipAddresses outside cidr',
    object: nodeNetwork('r', { cidr: '10.0.0.0/24', ipAddresses: ['10.0.0.10', '10.0.1.10-10.0.1.20'] }),
    path: 'spec.nodeNetwork.ipAddresses',
    message: 'inside cidr',
  },
  {
    name: 'ipAddresses of another family than cidr',
    object: nodeNetwork('r', { cidr: '10.0.0.0/24', ipAddresses: ['2001:db8::10'] }),
    path: 'spec.nodeNetwork.ipAddresses',
    message: 'same IP family as cidr',
  },
  {
    name: 'address space with neither cidr nor ipAddresses',
    object: nodeNetwork('r', { gateway: '10.0.0.1', prefix: 24 }),
    path: 'spec.nodeNetwork',
    message: 'one of cidr or ipAddresses',
  },
  {
    name: 'ipam-infoblox with ipAddresses',
    object: nodeNetwork('r', { ipAddresses: ['10.0.0.10'], prefix: 24 }, { provider: 'ipam-infoblox' }),
    path: 'spec.nodeNetwork',
    message: 'ipam-infoblox',
  },
  {
    name: 'bad externalNetwork cidr',
    object: claimOf('r', { externalNetwork: { cidr: '192.0.2.0/40' } }),
    path: 'spec.externalNetwork.cidr',
    message: 'is not a CIDR',
  },
  {
    name: 'cluster that is not a name',
    object: claimOf('r', { cluster: 'My_Cluster' }),
    path: 'spec.cluster',
    message: 'should match',
  },
  {
    name: 'misspelt field (strict field validation)',
    object: nodeNetwork('r', { cidrs: '10.0.0.0/24' }),
    path: 'spec.nodeNetwork.cidrs',
    message: 'unknown field',
  },
  {
    name: 'changing spec.cluster',
    before: claimOf('imm-cluster', { cluster: 'c1' }),
    object: claimOf('imm-cluster', { cluster: 'c2' }),
    path: 'spec.cluster',
    message: 'immutable once set',
  },
  {
    name: 'removing spec.cluster',
    before: claimOf('imm-cluster-rm', { cluster: 'c1' }),
    object: claimOf('imm-cluster-rm', {}),
    path: 'spec.cluster',
    message: 'immutable once set',
  },
  {
    name: 'changing spec.clusterIPAMRef',
    before: claimOf('imm-ref', { clusterIPAMRef: 'imm-ref' }),
    object: claimOf('imm-ref', { clusterIPAMRef: 'other' }),
    path: 'spec.clusterIPAMRef',
    message: 'immutable once set',
  },
  // ClusterIPAM
  {
    name: 'ClusterIPAM with an unknown provider',
    object: manifest(clusterIPAMKind, 'r', { provider: 'metal3' }),
    path: 'spec.provider',
    message: 'Unsupported value',
  },
  {
    name: 'changing spec.clusterIPAMClaimRefs',
    before: manifest(clusterIPAMKind, 'imm-refs', { provider: 'in-cluster', clusterIPAMClaimRefs: 'a' }),
    object: manifest(clusterIPAMKind, 'imm-refs', { provider: 'in-cluster', clusterIPAMClaimRefs: 'b' }),
    path: 'spec.clusterIPAMClaimRefs',
    message: 'immutable once set',
  },
  // ClusterDeployment
  {
    name: 'ClusterDeployment without template',
    object: without(deploymentOf('r', {}), 'template'),
    path: 'spec.template',
    message: 'Required value',
  },
  {
    name: 'dryRun as a quoted string',
    object: deploymentOf('r', { dryRun: 'true' }),
    path: 'spec.dryRun',
    message: 'must be of type boolean',
  },
  {
    name: 'empty ipamClaim',
    object: deploymentOf('r', { ipamClaim: {} }),
    path: 'spec.ipamClaim',
    message: 'ref or a spec',
  },
  {
    name: 'inline claim with a bad cidr',
    object: deploymentOf('r', { ipamClaim: { spec: { provider: 'in-cluster', nodeNetwork: { cidr: '10.0.0/24' } } } }),
    path: 'spec.ipamClaim.spec.nodeNetwork.cidr',
    message: 'is not a CIDR',
  },
  {
    name: 'inline claim with an unknown provider',
    object: deploymentOf('r', { ipamClaim: { spec: { provider: 'static', nodeNetwork: { cidr: '10.0.0.0/24' } } } }),
    path: 'spec.ipamClaim.spec.provider',
    message: 'Unsupported value',
  },
  {
    name: 'inline claim with ipAddresses and no prefix',
    object: deploymentOf('r', {
      ipamClaim: { spec: { provider: 'in-cluster', nodeNetwork: { ipAddresses: ['10.0.0.5'] } } },
    }),
    path: 'spec.ipamClaim.spec.nodeNetwork.prefix',
    message: 'prefix is required',
  },
  {
    name: 'config that is not an object',
    object: deploymentOf('r', { config: 'controlPlaneNumber=3' }),
    path: 'spec.config',
    message: 'must be of type object',
  },
  // IPAddressClaim
  {
    name: 'IPAddressClaim without poolRef',
    object: manifest(ipAddressClaimKind, 'r', { clusterName: 'c1' }),
    path: 'spec.poolRef',
    message: 'Required value',
  },
  {
    name: 'poolRef without apiGroup',
    object: manifest(ipAddressClaimKind, 'r', { poolRef: { kind: 'InClusterIPPool', name: 'p' } }),
    path: 'spec.poolRef.apiGroup',
    message: 'Required value',
  },
  {
    name: 'clusterName longer than 63',
    object: manifest(ipAddressClaimKind, 'r', { clusterName: 'c'.repeat(64), poolRef }),
    path: 'spec.clusterName',
    message: 'may not be more than 63',
  },
  {
    name: 'changing an IPAddressClaim spec',
    before: manifest(ipAddressClaimKind, 'imm-claim', { poolRef }),
    object: manifest(ipAddressClaimKind, 'imm-claim', { poolRef: { ...poolRef, name: 'other' } }),
    path: 'spec',
    message: 'spec is immutable',
  },
  // IPAddress
  {
    name: 'IPAddress with a bad address',
    object: ipAddressOf('r', { address: '10.0.0.x' }),
    path: 'spec.address',
    message: 'is not an IP address',
  },
  {
    name: 'IPAddress with IPv4 prefix 33',
    object: ipAddressOf('r', { prefix: 33 }),
    path: 'spec.prefix',
    message: 'at most 32',
  },
  {
    name: 'IPAddress gateway of the other family',
    object: ipAddressOf('r', { gateway: 'fe80::1' }),
    path: 'spec.gateway',
    message: 'same IP family',
  },
  {
    name: 'IPAddress without claimRef',
    object: without(ipAddressOf('r', {}), 'claimRef'),
    path: 'spec.claimRef',
    message: 'Required value',
  },
  {
    name: 'changing an IPAddress spec',
    before: ipAddressOf('imm-ip', {}),
    object: ipAddressOf('imm-ip', { address: '10.0.0.6' }),
    path: 'spec',
    message: 'spec is immutable',
  },
  // InClusterIPPool / GlobalInClusterIPPool
  {
    name: 'pool without addresses',
    object: poolOf('r', { addresses: [] }),
    path: 'spec.addresses',
    message: 'at least 1 items',
  },
  {
    name: 'pool entry that is not an address',
    object: poolOf('r', { addresses: ['10.0.0.0/24', 'not-an-ip'] }),
    path: 'spec.addresses[1]',
    message: '"not-an-ip" is not an IP address',
  },
  {
    name: 'pool entries of mixed families',
    object: poolOf('r', { addresses: ['10.0.0.0/24', '2001:db8::/120'] }),
    path: 'spec.addresses',
    message: 'all IPv4 or all IPv6',
  },
  { name: 'pool IPv4 prefix 33', object: poolOf('r', { prefix: 33 }), path: 'spec.prefix', message: 'at most 32' },
  {
    name: 'pool negative prefix',
    object: poolOf('r', { prefix: -1 }),
    path: 'spec.prefix',
    message: 'greater than or equal to 0',
  },
  {
    name: 'pool without prefix',
    object: without(poolOf('r', {}), 'prefix'),
    path: 'spec.prefix',
    message: 'Required value',
  },
  {
    name: 'pool gateway of the other family',
    object: poolOf('r', { gateway: '2001:db8::1' }),
    path: 'spec.gateway',
    message: 'same IP family',
  },
  {
    name: 'pool excluded addresses of the other family',
    object: poolOf('r', { excludedAddresses: ['2001:db8::5'] }),
    path: 'spec.excludedAddresses',
    message: 'same IP family',
  },
  {
    name: 'pool excluded entry unparsable',
    object: poolOf('r', { excludedAddresses: ['10.0.0.5-'] }),
    path: 'spec.excludedAddresses[0]',
    message: 'is not an IP address',
  },
  {
    name: 'pool negative grace period',
    object: poolOf('r', { addressReuseGracePeriodSeconds: -5 }),
    path: 'spec.addressReuseGracePeriodSeconds',
    message: 'greater than or equal to 0',
  },
  {
    name: 'pool entry outside <lowest address>/<prefix>',
    object: poolOf('r', { addresses: ['10.0.1.5', '10.0.0.0/24'] }),
    path: 'spec.addresses',
    message: 'must all lie inside one /24 subnet',
  },
  {
    name: 'global pool range that ends before it starts',
    object: poolOf('r', { addresses: ['10.0.0.200-10.0.0.100'] }, globalInClusterIPPoolKind),
    path: 'spec.addresses[0]',
    message: 'ends before it starts',
  },
  {
    name: 'global pool IPv6 CIDR prefix 129',
    object: poolOf('r', { addresses: ['2001:db8::/129'], prefix: 64 }, globalInClusterIPPoolKind),
    path: 'spec.addresses[0]',
    message: 'is not an IP address',
  },
  // InfobloxInstance / InfobloxIPPool
  {
    name: 'instance without credentialsSecretRef',
    object: without(instanceOf('r', {}), 'credentialsSecretRef'),
    path: 'spec.credentialsSecretRef',
    message: 'Required value',
  },
  {
    name: 'instance port out of range',
    object: instanceOf('r', { port: '70000' }),
    path: 'spec.port',
    message: 'must be 1-65535',
  },
  {
    name: 'instance host with a scheme',
    object: instanceOf('r', { host: 'https://infoblox.example.com' }),
    path: 'spec.host',
    message: 'host name or an IP address',
  },
  {
    name: 'instance wapiVersion with a v',
    object: instanceOf('r', { wapiVersion: 'v2.12' }),
    path: 'spec.wapiVersion',
    message: 'should match',
  },
  {
    name: 'Infoblox pool without subnets',
    object: infobloxPoolOf('r', { subnets: [] }),
    path: 'spec.subnets',
    message: 'at least 1 items',
  },
  {
    name: 'Infoblox subnet with host bits',
    object: infobloxPoolOf('r', { subnets: [{ cidr: '10.0.0.1/24' }] }),
    path: 'spec.subnets[0].cidr',
    message: 'host bits set',
  },
  {
    name: 'Infoblox gateway outside the subnet',
    object: infobloxPoolOf('r', { subnets: [{ cidr: '10.0.0.0/24', gateway: '10.0.1.1' }] }),
    path: 'spec.subnets[0].gateway',
    message: 'inside cidr',
  },
  {
    name: 'Infoblox duplicate subnets',
    object: infobloxPoolOf('r', { subnets: [{ cidr: '10.0.0.0/24' }, { cidr: '10.0.0.0/24' }] }),
    path: 'spec.subnets[1]',
    message: 'Duplicate value',
  },
  {
    name: 'Infoblox pool without instance',
    object: without(infobloxPoolOf('r', {}), 'instance'),
    path: 'spec.instance',
    message: 'Required value',
  },
];

describe('rejected', { concurrency: 4 }, () => {
  it(`has at least 30 cases (${rejected.length})`, () => assert.ok(rejected.length >= 30));

  rejected.forEach((c, i) => {
    it(`${c.name} → ${c.path}`, async () => {
      // Distinct names per case: the cases run concurrently in one namespace.
      const rename = (m: Manifest): Manifest => ({
        ...m,
        metadata: { ...m.metadata, name: `${m.metadata.name}-${i}` },
      });
      if (c.before) {
        const r = await apply(rename(c.before), ns);
        assert.equal(r.code, 0, `before: ${r.stderr}`);
      }
      assertRejected(await apply(rename(c.object), ns), c.path, c.message);
    });
  });

  const statusCases: {
    name: string;
    k: KindDescriptor;
    spec: unknown;
    status: unknown;
    path: string;
    message: string;
  }[] = [
    {
      name: 'a condition with status Maybe',
      k: clusterIPAMClaimKind,
      spec: { provider: 'in-cluster', nodeNetwork: { cidr: '10.0.0.0/24' } },
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'Maybe',
            reason: 'Allocating',
            message: '',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
      },
      path: 'status.conditions[0].status',
      message: 'Unsupported value: "Maybe"',
    },
    {
      name: 'a condition without reason',
      k: ipAddressClaimKind,
      spec: { poolRef },
      status: {
        conditions: [{ type: 'Ready', status: 'False', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }],
      },
      path: 'status.conditions[0].reason',
      message: 'Required value',
    },
    {
      name: 'an unknown ClusterIPAM phase',
      k: clusterIPAMKind,
      spec: { provider: 'in-cluster' },
      status: { phase: 'Ready' },
      path: 'status.phase',
      message: 'Unsupported value: "Ready"',
    },
  ];
  statusCases.forEach((c, i) => {
    it(`status: ${c.name} → ${c.path}`, async () => {
      const name = `status-${i}`;
      assert.equal((await apply(manifest(c.k, name, c.spec), ns)).code, 0);
      assertRejected(await patchStatus(c.k, name, c.status, ns, false), c.path, c.message);
    });
  });
});
