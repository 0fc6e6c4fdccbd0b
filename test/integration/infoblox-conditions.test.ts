// What InfobloxInstance and InfobloxIPPool say when they cannot be used, each with its own reason: a missing or wrong
// Secret (AuthenticationFailed, healed by fixing the Secret, without a restart), an unreachable appliance or an
// untrusted certificate (ConnectionFailed), missing default views (NetworkViewNotFound, DNSViewNotFound), and on pools
// also a missing view or network (NetworkNotFound), a missing instance, the instance's own failure; claims of a pool
// that is not ready wait with PoolNotReady, and never see a credential.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InfobloxInstances, InfobloxIPPools, IPAddressClaims } from '../../src/api/index.ts';
import { Events, Secrets } from '../../src/kube/index.ts';
import { freePort } from '../../src/local/controlplane.ts';
import { testNamespace } from '../support/cluster.ts';
import { waitFor } from '../support/wait.ts';
import {
  claimReason,
  createClaim,
  createInstance,
  createPool,
  createSecret,
  infobloxEnv,
  instanceReady,
  managerNamespace,
  password,
  poolReady,
  readyOf,
  testTuning,
  username,
  waitForAddress,
  type Env,
} from './infoblox-support.ts';

let env: Env;
const instanceReason = (name: string, reason: string) => instanceReady(env.client, name, reason);
/** The instance once its Ready condition has `reason` and a message matching `message`. */
const instanceSays = (name: string, reason: string, message: RegExp) =>
  waitFor(
    async () => {
      const i = await env.client.resource(InfobloxInstances).get({ name });
      const ready = readyOf(i);
      return ready?.reason === reason && message.test(ready.message) ? i : undefined;
    },
    { what: `InfobloxInstance ${name} to say ${reason}: ${message}` },
  );

describe('ipam-infoblox: instance and pool conditions', () => {
  before(async () => {
    env = await infobloxEnv({
      networkview: [{ name: 'lab' }],
      network: [{ network: '10.20.0.0/24' }, { network: '10.21.0.0/24', network_view: 'lab' }],
    });
    // Failing instances and pools are checked again only after a minute: what heals them here is an event (the
    // Secret's, the instance's), not the periodic check.
    await env.startManager({ ...testTuning, retryMs: 60_000 });
    await createInstance(env.client, 'ok', env.instanceSpec());
  });
  after(async () => {
    await env?.stop();
  });

  it('a missing Secret, then wrong credentials, say AuthenticationFailed; fixing the Secret heals the instance', async () => {
    await createInstance(env.client, 'auth', env.instanceSpec({ credentialsSecretRef: { name: 'auth-creds' } }));
    const missing = await instanceReason('auth', 'AuthenticationFailed');
    assert.match(readyOf(missing)!.message, /credentials Secret cluster-ipam-system\/auth-creds not found/);

    await createSecret(env.client, 'auth-creds', { username, password: 'wrong-password-1' });
    const refused = await instanceSays(
      'auth',
      'AuthenticationFailed',
      /the appliance refused the credentials of Secret .*auth-creds \(401\)/,
    );

    await env.client.resource(Secrets).delete({ namespace: managerNamespace, name: 'auth-creds' });
    await createSecret(env.client, 'auth-creds', { username });
    const incomplete = await instanceSays(
      'auth',
      'AuthenticationFailed',
      /holds username: it needs username and password, or clientCert/,
    );

    // A fixed Secret is picked up from its watch, not at the next periodic check (a minute away).
    await createSecret(env.client, 'auth-creds', { username, password });
    const fixed = await instanceReason('auth', 'ConfigurationValid');
    assert.match(readyOf(fixed)!.message, /https:\/\/127\.0\.0\.1:\d+\/wapi\/v2\.12\/ answers/);

    const { items } = await env.client.resource(Events).listAll();
    const shown = JSON.stringify([missing, refused, incomplete, fixed, items]);
    for (const secret of [password, 'wrong-password-1']) assert.ok(!shown.includes(secret), 'no credential shows');
  });

  it('an unreachable appliance or an untrusted certificate says ConnectionFailed', async () => {
    await createInstance(env.client, 'down', env.instanceSpec({ port: String(await freePort()) }));
    const down = await instanceReason('down', 'ConnectionFailed');
    assert.match(readyOf(down)!.message, /cannot connect to https:\/\/127\.0\.0\.1:\d+\/wapi\/v2\.12\//);

    const { customCAPath: _, ...untrusted } = env.instanceSpec();
    await createInstance(env.client, 'untrusted', untrusted);
    const tls = await instanceReason('untrusted', 'ConnectionFailed');
    assert.match(readyOf(tls)!.message, /TLS with .* failed/);
    // Lab use: verification off.
    await env.client
      .resource(InfobloxInstances)
      .patch({ name: 'untrusted' }, { spec: { disableTLSVerification: true } });
    await instanceReason('untrusted', 'ConfigurationValid');

    await createInstance(env.client, 'no-ca-file', env.instanceSpec({ customCAPath: '/nonexistent/ca.crt' }));
    const noCA = await instanceReason('no-ca-file', 'ConnectionFailed');
    assert.match(readyOf(noCA)!.message, /custom CA \/nonexistent\/ca\.crt/);
  });

  it('missing default views say NetworkViewNotFound and DNSViewNotFound', async () => {
    await createInstance(env.client, 'noview', env.instanceSpec({ defaultNetworkView: 'nope' }));
    const nv = await instanceReason('noview', 'NetworkViewNotFound');
    assert.match(readyOf(nv)!.message, /defaultNetworkView "nope" does not exist/);
    await createInstance(env.client, 'nodns', env.instanceSpec({ defaultNetworkView: 'lab', defaultDNSView: 'nope' }));
    const dv = await instanceReason('nodns', 'DNSViewNotFound');
    assert.match(readyOf(dv)!.message, /defaultDNSView "nope" does not exist/);
    await createInstance(env.client, 'lab', env.instanceSpec({ defaultNetworkView: 'lab' }));
    await instanceReason('lab', 'ConfigurationValid');
  });

  it("pools: the instance's state, then their own views and networks; their claims wait with PoolNotReady", async () => {
    const ns = await testNamespace('ib-conditions');
    const subnets = [{ cidr: '10.20.0.0/24' }];
    await createPool(env.client, ns, 'orphan', { instance: { name: 'absent' }, subnets });
    assert.match(readyOf(await poolReady(env.client, ns, 'orphan', 'InstanceNotFound'))!.message, /absent does not/);

    await createPool(env.client, ns, 'on-down', { instance: { name: 'down' }, subnets });
    const onDown = await poolReady(env.client, ns, 'on-down', 'ConnectionFailed');
    assert.match(readyOf(onDown)!.message, /^InfobloxInstance down: WAPI GET networkview: cannot connect/);
    await createClaim(env.client, ns, 'waits', 'on-down');
    const waiting = await claimReason(env.client, ns, 'waits', 'PoolNotReady');
    assert.match(readyOf(waiting)!.message, /InfobloxIPPool on-down is not ready \(ConnectionFailed\)/);

    await createPool(env.client, ns, 'bad-view', { instance: { name: 'ok' }, subnets, networkView: 'nope' });
    await poolReady(env.client, ns, 'bad-view', 'NetworkViewNotFound');
    await createPool(env.client, ns, 'bad-dns', { instance: { name: 'ok' }, subnets, dnsView: 'nope' });
    await poolReady(env.client, ns, 'bad-dns', 'DNSViewNotFound');
    // The network view of the instance, its DNS view default.lab (spec 04 §4.2).
    await createPool(env.client, ns, 'in-lab', { instance: { name: 'lab' }, subnets: [{ cidr: '10.21.0.0/24' }] });
    const inLab = await poolReady(env.client, ns, 'in-lab');
    assert.match(readyOf(inLab)!.message, /network view "lab", DNS view "default\.lab"/);

    await createPool(env.client, ns, 'no-net', {
      instance: { name: 'ok' },
      subnets: [{ cidr: '10.20.0.0/24' }, { cidr: '10.99.0.0/24' }, { cidr: 'fd00:99::/64' }],
    });
    const noNet = await poolReady(env.client, ns, 'no-net', 'NetworkNotFound');
    assert.match(
      readyOf(noNet)!.message,
      /networks 10\.99\.0\.0\/24, fd00:99::\/64 not found in network view "default"/,
    );
    await createClaim(env.client, ns, 'waits-for-net', 'no-net');
    await claimReason(env.client, ns, 'waits-for-net', 'PoolNotReady');
    // Made on the appliance: the pool sees them at its next check (here brought forward by an edit of the pool), and
    // its claim is served.
    env.sim.state.create('network', { network: '10.99.0.0/24' });
    env.sim.state.create('ipv6network', { network: 'fd00:99::/64' });
    await env.client
      .resource(InfobloxIPPools)
      .patch({ namespace: ns, name: 'no-net' }, { metadata: { annotations: { touched: 'now' } } });
    await poolReady(env.client, ns, 'no-net');
    const served = await waitForAddress(env.client, ns, 'waits-for-net');
    assert.equal(served.spec.address, '10.20.0.1');

    // A claim of the failing pool is served once its instance heals.
    await env.client.resource(InfobloxInstances).patch({ name: 'down' }, { spec: { port: String(env.sim.port) } });
    await poolReady(env.client, ns, 'on-down');
    await waitForAddress(env.client, ns, 'waits');
    const claim = await env.client.resource(IPAddressClaims).get({ namespace: ns, name: 'waits' });
    assert.equal(readyOf(claim)?.reason, 'AddressAllocated');
    const pool = await env.client.resource(InfobloxIPPools).get({ namespace: ns, name: 'on-down' });
    assert.ok(pool.metadata.finalizers?.includes('ipam.cluster.x-k8s.io/ProtectPool'));
  });
});
