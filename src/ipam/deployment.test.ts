import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterDeployment } from '../api/index.ts';
import { planClaim } from './claim.ts';
import {
  attachment,
  checkEndpointConfig,
  checkNodeCapacity,
  endpointInNodeNetwork,
  inlineClaimSpec,
  mergeIpamConfig,
} from './deployment.ts';

const deployment = (ipamClaim: ClusterDeployment['spec']['ipamClaim']): ClusterDeployment => ({
  apiVersion: 'k0rdent.mirantis.com/v1beta1',
  kind: 'ClusterDeployment',
  metadata: { name: 'prod' },
  spec: { template: 't', ipamClaim },
});

const inline = { provider: 'in-cluster', nodeNetwork: { cidr: '10.0.0.0/24' } } as const;

describe('attachment', () => {
  it('reads the two documented modes', () => {
    assert.deepEqual(attachment(deployment({ ref: 'c' })), { mode: 'ref', claim: 'c' });
    assert.deepEqual(attachment(deployment({ spec: inline })), { mode: 'inline', claim: 'prod-ipam', spec: inline });
    assert.deepEqual(attachment(deployment(undefined)), { mode: 'none' });
  });

  it('treats ref plus spec as an inline claim of that name', () => {
    assert.deepEqual(attachment(deployment({ ref: 'prod-ipam', spec: inline })).mode, 'inline');
    assert.deepEqual(attachment(deployment({ ref: 'mine', spec: inline })), {
      mode: 'inline',
      claim: 'mine',
      spec: inline,
    });
  });
});

describe('inlineClaimSpec', () => {
  it('binds the claim to the deployment and keeps the clusterIPAMRef the controller wrote', () => {
    assert.deepEqual(inlineClaimSpec('prod', { ...inline, cluster: 'someone-else' }), { ...inline, cluster: 'prod' });
    assert.deepEqual(inlineClaimSpec('prod', inline, { ...inline, cluster: 'prod', clusterIPAMRef: 'prod-ipam' }), {
      ...inline,
      cluster: 'prod',
      clusterIPAMRef: 'prod-ipam',
    });
  });
});

describe('mergeIpamConfig', () => {
  const entry = {
    name: 'ipPool',
    config: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'prod-ipam' },
    ready: true,
  };

  it('adds ipamEnabled and one key per entry, touching nothing else', () => {
    const config = { controlPlaneNumber: 3, vsphere: { server: 'vc' } };
    assert.deepEqual(mergeIpamConfig(config, [entry]), { ...config, ipamEnabled: true, ipPool: entry });
  });

  it('is idempotent: nothing to write once merged, whatever the key order', () => {
    const merged = mergeIpamConfig({ a: 1 }, [entry])!;
    const reordered = {
      ipPool: {
        ready: true,
        config: { name: 'prod-ipam', kind: 'InClusterIPPool', apiGroup: 'ipam.cluster.x-k8s.io' },
        name: 'ipPool',
      },
      ...merged,
    };
    assert.equal(mergeIpamConfig(merged, [entry]), undefined);
    assert.equal(mergeIpamConfig(reordered, [entry]), undefined);
  });

  it('corrects a stale value', () => {
    assert.deepEqual(mergeIpamConfig({ ipamEnabled: false }, []), { ipamEnabled: true });
  });
});

describe('checkNodeCapacity', () => {
  const node = planClaim('c', {
    provider: 'in-cluster',
    nodeNetwork: { ipAddresses: ['10.0.0.10-10.0.0.15'], prefix: 24 },
  }).networks[0]!;

  it('says exactly how many addresses are missing, counting one for a rolling update', () => {
    const r = checkNodeCapacity({ controlPlaneNumber: 3, workersNumber: 5 }, node, 'c', false);
    assert.equal(r.ok, false);
    assert.equal(
      r.message,
      'spec.config asks for 3 control plane + 5 worker machines plus 1 for a rolling update: 9 addresses, but the ' +
        'node network of ClusterIPAMClaim c (spec.nodeNetwork: 10.0.0.10-10.0.0.15) has 6 usable: 3 addresses missing',
    );
  });

  it('counts one more for a control-plane endpoint inside the node network', () => {
    const plan = planClaim('c', { provider: 'in-cluster', nodeNetwork: { cidr: '10.0.0.0/29' } });
    const net = plan.networks[0]!;
    const d = (config: Record<string, unknown>, annotations?: Record<string, string>) => ({
      metadata: { name: 'prod', ...(annotations ? { annotations } : {}) },
      spec: { template: 't', config },
    });
    assert.equal(endpointInNodeNetwork(d({ controlPlaneEndpointIP: '10.0.0.3' }), plan, net), true);
    assert.equal(endpointInNodeNetwork(d({ controlPlaneEndpointIP: '10.0.1.3' }), plan, net), false);
    assert.equal(endpointInNodeNetwork(d({}), plan, net), false);
    const annotated = d({}, { 'k0rdent.mirantis.com/endpoint-from-node-network': 'true' });
    assert.equal(endpointInNodeNetwork(annotated, plan, net), true);
    const r = checkNodeCapacity({ controlPlaneNumber: 3, workersNumber: 1 }, node, 'c', false, undefined, true);
    assert.equal(r.ok, true);
    assert.match(r.message, /plus 1 for a rolling update and 1 for the control-plane endpoint: 6 addresses/);
    assert.equal(
      checkNodeCapacity({ controlPlaneNumber: 3, workersNumber: 2 }, node, 'c', false, undefined, true).ok,
      false,
    );
  });

  it('does not count what other pools of the address domain hold', () => {
    const held = { count: 2n, domain: 'lab' };
    const r = checkNodeCapacity({ controlPlaneNumber: 3, workersNumber: 1 }, node, 'c', false, held);
    assert.equal(r.ok, false);
    assert.equal(
      r.message,
      'spec.config asks for 3 control plane + 1 worker machines plus 1 for a rolling update: 5 addresses, but the ' +
        'node network of ClusterIPAMClaim c (spec.nodeNetwork: 10.0.0.10-10.0.0.15) has 6 usable, 2 of them held ' +
        'by other pools of address domain lab, so 4 available: 1 address missing',
    );
    const fits = checkNodeCapacity({ controlPlaneNumber: 3 }, node, 'c', false, held);
    assert.equal(fits.ok, true);
    assert.match(fits.message, /has 6 usable, 2 of them held by other pools of address domain lab, so 4 available$/);
    const none = checkNodeCapacity({ controlPlaneNumber: 3 }, node, 'c', false, { count: 0n, domain: 'lab' });
    assert.match(none.message, /the node network has 6 usable$/);
    const all = checkNodeCapacity({ workersNumber: 0 }, node, 'c', false, { count: 9n, domain: 'namespace/ns' });
    assert.match(all.message, /6 of them held by other pools of the address domain of namespace ns, so 0 available/);
  });

  it('passes when the network holds them all, and when the config does not say', () => {
    assert.equal(checkNodeCapacity({ controlPlaneNumber: 3, workersNumber: 2 }, node, 'c', false).ok, true);
    assert.equal(checkNodeCapacity({ controlPlaneNumber: 3, workersNumber: 3 }, node, 'c', false).ok, false);
    assert.deepEqual(checkNodeCapacity({ other: 1 }, node, 'c', false), { ok: true, message: '' });
    assert.equal(checkNodeCapacity(undefined, node, 'c', false).ok, true);
  });

  it('refuses a machine count that is not a whole number', () => {
    const r = checkNodeCapacity({ workersNumber: '5' }, node, 'c', false);
    assert.deepEqual(r, {
      ok: false,
      reason: 'InvalidConfig',
      message: 'spec.config.workersNumber: "5" is not a whole number of machines',
    });
  });

  it('calls an Infoblox network size an upper bound', () => {
    const r = checkNodeCapacity({ controlPlaneNumber: 1 }, node, 'c', true);
    assert.match(r.message, /has at most 6 usable$/);
  });
});

describe('checkEndpointConfig', () => {
  it('refuses a hand-set endpoint that is no IP address, naming the field and the value', () => {
    assert.deepEqual(checkEndpointConfig({ controlPlaneEndpointIP: '10.0.0.300' }), {
      reason: 'InvalidConfig',
      message:
        'spec.config.controlPlaneEndpointIP: "10.0.0.300" is not a valid IPv4 address (four decimal numbers 0-255, no leading zeros)',
    });
    assert.match(checkEndpointConfig({ controlPlaneEndpointIP: '::gg' })!.message, /"::gg" is not a valid IPv6/);
    assert.match(
      checkEndpointConfig({ controlPlaneEndpointIP: 167772161 })!.message,
      /^spec\.config\.controlPlaneEndpointIP: 167772161 is not an IP address/,
    );
  });

  it('accepts an address, and an unset or empty one (allocated, or left to the user)', () => {
    assert.equal(checkEndpointConfig({ controlPlaneEndpointIP: '10.0.0.5' }), undefined);
    assert.equal(checkEndpointConfig({ controlPlaneEndpointIP: 'fd00::5' }), undefined);
    assert.equal(checkEndpointConfig({ controlPlaneEndpointIP: '' }), undefined);
    assert.equal(checkEndpointConfig({}), undefined);
    assert.equal(checkEndpointConfig(undefined), undefined);
  });
});
