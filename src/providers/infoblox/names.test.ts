// The pure rules of the Infoblox provider: views (spec 04 §4.2), subnets, resource names of owner kinds, and what a
// credentials Secret must hold (and that a complaint about it never quotes a value).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InfobloxInstance, InfobloxIPPool } from '../../api/index.ts';
import { parseCidr } from '../../core/ip.ts';
import { credentialsOf, InstanceConfigError } from './clients.ts';
import { pluralOf } from './hostname.ts';
import { dnsViewOf, inSubnet, isInfobloxPoolRef, networkViewOf, poolKeyOf } from './names.ts';

const pool = (spec: Partial<InfobloxIPPool['spec']> = {}) =>
  ({ spec: { instance: { name: 'i' }, subnets: [{ cidr: '10.0.0.0/24' }], ...spec } }) as InfobloxIPPool;
const instance = (spec: Partial<InfobloxInstance['spec']> = {}) =>
  ({ spec: { host: 'h', wapiVersion: '2.12', credentialsSecretRef: { name: 's' }, ...spec } }) as InfobloxInstance;

describe('infoblox provider: names and rules', () => {
  it('network view: the pool, else the instance default, else default', () => {
    assert.equal(networkViewOf(pool({ networkView: 'p' }), instance({ defaultNetworkView: 'i' })), 'p');
    assert.equal(networkViewOf(pool(), instance({ defaultNetworkView: 'i' })), 'i');
    assert.equal(networkViewOf(pool(), undefined), 'default');
  });

  it('DNS view: pool, instance default, default for the default network view, else default.<view>', () => {
    assert.equal(dnsViewOf(pool({ dnsView: 'pv', networkView: 'lab' }), instance({ defaultDNSView: 'iv' })), 'pv');
    assert.equal(dnsViewOf(pool({ networkView: 'lab' }), instance({ defaultDNSView: 'iv' })), 'iv');
    assert.equal(dnsViewOf(pool(), instance()), 'default');
    assert.equal(dnsViewOf(pool({ networkView: 'default' }), instance()), 'default');
    assert.equal(dnsViewOf(pool({ networkView: 'lab' }), instance()), 'default.lab');
    assert.equal(dnsViewOf(pool(), instance({ defaultNetworkView: 'lab' })), 'default.lab');
  });

  it('pool references and subnets', () => {
    const ref = { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InfobloxIPPool', name: 'p' };
    assert.ok(isInfobloxPoolRef(ref));
    assert.ok(!isInfobloxPoolRef({ ...ref, kind: 'InClusterIPPool' }));
    assert.ok(!isInfobloxPoolRef({ ...ref, apiGroup: 'example.com' }));
    assert.equal(poolKeyOf(ref, 'ns'), 'ns/p');
    assert.ok(inSubnet('10.0.0.9', parseCidr('10.0.0.0/24')));
    assert.ok(!inSubnet('10.0.1.9', parseCidr('10.0.0.0/24')));
    assert.ok(inSubnet('fd00::0:5', parseCidr('fd00::/64')));
    assert.ok(!inSubnet('not-an-address', parseCidr('fd00::/64')));
  });

  it("guesses an owner kind's resource name as Kubernetes does", () => {
    assert.equal(pluralOf('Machine'), 'machines');
    assert.equal(pluralOf('VSphereVM'), 'vspherevms');
    assert.equal(pluralOf('Metal3DataClaim'), 'metal3dataclaims');
    assert.equal(pluralOf('ProxmoxMachinePolicy'), 'proxmoxmachinepolicies');
    assert.equal(pluralOf('Address'), 'addresses');
  });

  it('credentials: basic auth or a client certificate, complete; complaints name keys, never values', () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const secret = (data: Record<string, string>) => ({ metadata: {}, data });
    assert.deepEqual(credentialsOf(secret({ username: b64('u'), password: b64('pw\n') }), 'ns/s'), {
      username: 'u',
      password: 'pw',
    });
    const cert = credentialsOf(secret({ clientCert: b64('CERT'), clientKey: b64('KEY') }), 'ns/s');
    assert.deepEqual(cert, { clientCert: 'CERT', clientKey: 'KEY' });
    assert.throws(
      () => credentialsOf(secret({ username: b64('u'), clientKey: b64('hunter2') }), 'ns/s'),
      (err) =>
        err instanceof InstanceConfigError &&
        err.reason === 'AuthenticationFailed' &&
        /Secret ns\/s holds username, clientKey: it needs username and password/.test(err.message) &&
        !err.message.includes('hunter2'),
    );
    assert.throws(() => credentialsOf({ metadata: {} }, 'ns/s'), /holds no credentials/);
  });
});
