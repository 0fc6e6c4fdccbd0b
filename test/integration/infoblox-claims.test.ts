// Machine claims against InfobloxIPPools: the host name (annotation, claim name, `<Machine>.<dnsZone>` found through
// owner references; written with the finalizer in one patch), DNS records in their view, two devices of one Machine
// with a host record each (IPv4 and IPv6), subnet fallback that never hands out a gateway, a full pool that serves its
// waiting claim once an address is given back, two claims that resolve to one host name, and a release the appliance
// refuses for a while: visible on the claim, retried until it is done.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { IPAddressClaims, type IPAddressClaim } from '../../src/api/index.ts';
import { CustomResourceDefinitions, resourceType, type KubeObject } from '../../src/kube/index.ts';
import { testNamespace } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  claimReason,
  createClaim,
  createInstance,
  createPool,
  gone,
  infobloxEnv,
  instanceReady,
  poolReady,
  readyOf,
  readyPool,
  recordsByName,
  waitForAddress,
  ownerKindCRD as crd,
  type Env,
} from './infoblox-support.ts';

let env: Env;
const hostnameAnnotation = 'ipam.cluster.x-k8s.io/hostname';

const Machines = resourceType<KubeObject>({
  group: 'cluster.x-k8s.io',
  version: 'v1beta2',
  kind: 'Machine',
  plural: 'machines',
  namespaced: true,
});
const InfraMachines = resourceType<KubeObject>({
  group: 'infrastructure.cluster.x-k8s.io',
  version: 'v1beta1',
  kind: 'TestMachine',
  plural: 'testmachines',
  namespaced: true,
});
const ownerRef = (o: KubeObject) => ({
  apiVersion: o.apiVersion!,
  kind: o.kind!,
  name: o.metadata.name!,
  uid: o.metadata.uid!,
  controller: true,
});

/** A Machine and its infrastructure machine, as Cluster API makes them; returns the infrastructure machine. */
async function machine(ns: string, name: string): Promise<KubeObject> {
  const m = await env.client.resource(Machines).create({
    apiVersion: 'cluster.x-k8s.io/v1beta2',
    kind: 'Machine',
    metadata: { namespace: ns, name },
  });
  return env.client.resource(InfraMachines).create({
    apiVersion: 'infrastructure.cluster.x-k8s.io/v1beta1',
    kind: 'TestMachine',
    metadata: { namespace: ns, name: `${name}-infra`, ownerReferences: [ownerRef(m)] },
  });
}

const hostname = async (ns: string, claim: string) =>
  (await env.client.resource(IPAddressClaims).get({ namespace: ns, name: claim })).metadata.annotations?.[
    hostnameAnnotation
  ];

describe('ipam-infoblox: machine claims', () => {
  before(async () => {
    env = await infobloxEnv({
      network: [{ network: '10.30.0.0/24' }, { network: '10.31.0.0/30' }, { network: '10.31.1.0/29' }],
      ipv6network: [{ network: 'fd00:30::/64' }],
      zone_auth: [{ fqdn: 'lab.test', view: 'default' }],
    });
    const crds = env.client.resource(CustomResourceDefinitions);
    await crds.create(crd('cluster.x-k8s.io', 'Machine', 'machines', 'v1beta2'));
    await crds.create(crd('infrastructure.cluster.x-k8s.io', 'TestMachine', 'testmachines', 'v1beta1'));
    await env.startManager();
    await createInstance(env.client, 'ib', env.instanceSpec());
    await instanceReady(env.client, 'ib');
  });
  after(async () => {
    await env?.stop();
  });

  it('host names: <Machine>.<dnsZone> through owner references, the claim name, or the annotation', async () => {
    const ns = await testNamespace('ib-names');
    await createPool(env.client, ns, 'dns', {
      instance: { name: 'ib' },
      subnets: [{ cidr: '10.30.0.0/24', gateway: '10.30.0.254' }],
      dnsZone: 'lab.test',
    });
    await createPool(env.client, ns, 'v6', {
      instance: { name: 'ib' },
      subnets: [{ cidr: 'fd00:30::/64', gateway: 'fd00:30::ffff' }],
      dnsZone: 'lab.test',
    });
    await poolReady(env.client, ns, 'dns');
    await poolReady(env.client, ns, 'v6');
    const infra = await machine(ns, 'cp-0');
    // Two devices of one machine: a host record each (a DNS name is unique: the second goes without DNS).
    const owned = { ownerReferences: [ownerRef(infra)] };
    await createClaim(env.client, ns, 'cp-0-eth0', 'dns', owned);
    await createClaim(env.client, ns, 'cp-0-eth1', 'v6', owned);
    await createClaim(env.client, ns, 'standalone', 'dns');
    await createClaim(env.client, ns, 'named', 'dns', { annotations: { [hostnameAnnotation]: 'api.lab.test' } });
    const [eth0, eth1, standalone, named] = await Promise.all(
      ['cp-0-eth0', 'cp-0-eth1', 'standalone', 'named'].map((c) => waitForAddress(env.client, ns, c)),
    );
    assert.equal(await hostname(ns, 'cp-0-eth0'), 'cp-0.lab.test');
    assert.equal(await hostname(ns, 'cp-0-eth1'), 'cp-0.lab.test');
    assert.equal(await hostname(ns, 'standalone'), 'standalone.lab.test');
    assert.equal(await hostname(ns, 'named'), 'api.lab.test');
    assert.equal(eth1!.spec.address, 'fd00:30::1');
    assert.deepEqual([eth1!.spec.prefix, eth1!.spec.gateway], [64, 'fd00:30::ffff']);
    assert.deepEqual([eth0!.spec.prefix, eth0!.spec.gateway], [24, '10.30.0.254']);
    const records = recordsByName(env.sim);
    assert.deepEqual((records.get('cp-0.lab.test') ?? []).sort(), [[eth0!.spec.address], ['fd00:30::1']].sort());
    assert.deepEqual(records.get('standalone.lab.test'), [[standalone!.spec.address]]);
    assert.deepEqual(records.get('api.lab.test'), [[named!.spec.address]]);
    const inDNS = env.sim.state.hostRecords().filter((r) => r.name === 'cp-0.lab.test' && r.configureForDNS);
    assert.equal(inDNS.length, 1);
    assert.deepEqual([inDNS[0]!.view, inDNS[0]!.zone], ['default', 'lab.test']);

    // One device goes: its record goes, the other's stays; then that one goes with its claim.
    await env.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'cp-0-eth1' });
    await waitFor(() => gone(() => env.client.resource(IPAddressClaims).get({ namespace: ns, name: 'cp-0-eth1' })));
    assert.deepEqual(recordsByName(env.sim).get('cp-0.lab.test'), [[eth0!.spec.address]]);
    await env.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'cp-0-eth0' });
    await waitFor(() => gone(() => env.client.resource(IPAddressClaims).get({ namespace: ns, name: 'cp-0-eth0' })));
    assert.equal(recordsByName(env.sim).get('cp-0.lab.test'), undefined);
  });

  it('a fresh claim gets its finalizer and its host name in one write, which never changes after', async () => {
    const ns = await testNamespace('ib-one-write');
    await readyPool(env.client, ns, 'p', {
      instance: { name: 'ib' },
      subnets: [{ cidr: '10.30.0.0/24' }],
      dnsZone: 'lab.test',
    });
    const claims = env.client.resource(IPAddressClaims);
    const created = await createClaim(env.client, ns, 'fresh', 'p');
    // Every version of the claim after its creation, in order (a watch from the created version misses none).
    const versions: IPAddressClaim[] = [];
    const stop = new AbortController();
    const watching = claims
      .watch(
        {
          namespace: ns,
          fieldSelector: 'metadata.name=fresh',
          resourceVersion: created.metadata.resourceVersion,
          signal: stop.signal,
        },
        (e) => void (e.type === 'MODIFIED' && versions.push(e.object)),
      )
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    try {
      await waitFor(() => versions.some((c) => c.status?.addressRef?.name === 'fresh'), {
        what: 'the watch to show the claim reporting its IPAddress',
      });
    } finally {
      stop.abort();
    }
    const failed = await watching;
    if (failed) throw failed;
    const metadata = versions.map((c) => ({
      finalizers: c.metadata.finalizers,
      hostname: c.metadata.annotations?.[hostnameAnnotation],
    }));
    const changes = metadata.filter((m, i) => i === 0 || !isDeepStrictEqual(m, metadata[i - 1]));
    assert.deepEqual(
      changes,
      [{ finalizers: ['ipam.cluster.x-k8s.io/ReleaseAddress'], hostname: 'fresh.lab.test' }],
      "the claim's first change carries both its finalizer and its host name, and neither changes after",
    );
  });

  it('falls back to the next subnet; a full pool waits and is served when an address is given back', async () => {
    const ns = await testNamespace('ib-fallback');
    await createPool(env.client, ns, 'p', {
      instance: { name: 'ib' },
      subnets: [
        { cidr: '10.31.0.0/30', gateway: '10.31.0.1' },
        { cidr: '10.31.1.0/29', gateway: '10.31.1.1' },
      ],
    });
    await createPool(env.client, ns, 'small', {
      instance: { name: 'ib' },
      subnets: [{ cidr: '10.31.0.0/30', gateway: '10.31.0.1' }],
    });
    await poolReady(env.client, ns, 'p');
    await poolReady(env.client, ns, 'small');
    const addresses: string[] = [];
    for (const m of ['m0', 'm1', 'm2']) {
      await createClaim(env.client, ns, m, 'p');
      const a = await waitForAddress(env.client, ns, m);
      addresses.push(`${a.spec.address}/${a.spec.prefix} via ${a.spec.gateway}`);
    }
    // 10.31.0.0/30 holds two addresses, .1 and .2, and .1 is its gateway: never a machine's.
    assert.deepEqual(addresses, [
      '10.31.0.2/30 via 10.31.0.1',
      '10.31.1.2/29 via 10.31.1.1',
      '10.31.1.3/29 via 10.31.1.1',
    ]);

    await createClaim(env.client, ns, 'waits', 'small');
    const full = await claimReason(env.client, ns, 'waits', 'PoolExhausted');
    assert.match(readyOf(full)!.message, /10\.31\.0\.0\/30 is full/);
    await env.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'm0' });
    const served = await waitForAddress(env.client, ns, 'waits');
    assert.equal(served.spec.address, '10.31.0.2');
  });

  it('two claims that resolve to one host name: a record each, and either goes without touching the other', async () => {
    const ns = await testNamespace('ib-same-name');
    await createPool(env.client, ns, 'p', { instance: { name: 'ib' }, subnets: [{ cidr: '10.30.0.0/24' }] });
    await poolReady(env.client, ns, 'p');
    const same = { annotations: { [hostnameAnnotation]: 'shared-name' } };
    await createClaim(env.client, ns, 'first', 'p', same);
    const first = await waitForAddress(env.client, ns, 'first');
    await createClaim(env.client, ns, 'second', 'p', same);
    const second = await waitForAddress(env.client, ns, 'second');
    assert.notEqual(second.spec.address, first.spec.address);
    assert.deepEqual(
      (recordsByName(env.sim).get('shared-name') ?? []).sort(),
      [[first.spec.address], [second.spec.address]].sort(),
    );
    await env.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'first' });
    await waitFor(() => gone(() => env.client.resource(IPAddressClaims).get({ namespace: ns, name: 'first' })), {
      what: 'the first claim to be released and gone',
    });
    assert.deepEqual(recordsByName(env.sim).get('shared-name'), [[second.spec.address]]);
  });

  it('a release the appliance refuses shows ReleaseFailed on the claim and is retried until it is done', async () => {
    const ns = await testNamespace('ib-release');
    await createPool(env.client, ns, 'p', { instance: { name: 'ib' }, subnets: [{ cidr: '10.30.0.0/24' }] });
    await poolReady(env.client, ns, 'p');
    await createClaim(env.client, ns, 'm', 'p');
    const a = await waitForAddress(env.client, ns, 'm');
    const fault = env.sim.faults.add({
      kind: 'status',
      status: 503,
      method: 'DELETE',
      object: 'record:host',
      count: 1000,
    });
    await env.client.resource(IPAddressClaims).delete({ namespace: ns, name: 'm' });
    const failing = await claimReason(env.client, ns, 'm', 'ReleaseFailed');
    assert.match(
      readyOf(failing)!.message,
      new RegExp(`releasing ${a.spec.address.replaceAll('.', '\\.')} failed, retrying: .*503`),
    );
    assert.deepEqual(recordsByName(env.sim).get('m'), [[a.spec.address]], 'still on the appliance');
    env.sim.faults.remove(fault.id);
    await waitFor(() => gone(() => env.client.resource(IPAddressClaims).get({ namespace: ns, name: 'm' })), {
      what: 'the claim to be released and gone',
    });
    assert.equal(recordsByName(env.sim).get('m'), undefined);
  });
});
