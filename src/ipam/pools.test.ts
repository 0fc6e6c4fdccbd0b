import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterIPAMClaim, InClusterIPPool, InfobloxIPPool } from '../api/index.ts';
import { planClaim } from './claim.ts';
import { claimHolder, planOf, poolHolder, representedBy } from './holders.ts';
import {
  desiredPoolSpec,
  managedFields,
  poolReadiness,
  providerEntry,
  specMatches,
  managedSpecPatch,
} from './pools.ts';

const node = planClaim('c', { provider: 'in-cluster', nodeNetwork: { cidr: '10.0.0.0/24', gateway: '10.0.0.1' } })
  .networks[0]!;

const pool = (status?: InClusterIPPool['status'], generation = 1): InClusterIPPool => ({
  apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
  kind: 'InClusterIPPool',
  metadata: { name: 'c', namespace: 'ns', generation, ownerReferences: [] },
  spec: { addresses: ['10.0.0.0/24'], prefix: 24, gateway: '10.0.0.1' },
  status,
});

const ready = (status: 'True' | 'False', observedGeneration?: number) => ({
  conditions: [
    {
      type: 'Ready',
      status,
      reason: status === 'True' ? 'Ready' : 'NoUsableAddresses',
      message: status === 'True' ? '' : 'nothing left',
      lastTransitionTime: '2026-01-01T00:00:00Z',
      ...(observedGeneration === undefined ? {} : { observedGeneration }),
    },
  ],
});

describe('desired pools', () => {
  it('writes the in-cluster pool from the plan', () => {
    assert.deepEqual(desiredPoolSpec('InClusterIPPool', node), {
      addresses: ['10.0.0.0/24'],
      prefix: 24,
      gateway: '10.0.0.1',
    });
  });

  it('writes an Infoblox pool with one subnet on the chosen instance', () => {
    const ib = planClaim('e', { provider: 'ipam-infoblox', nodeNetwork: { cidr: '203.0.113.0/24' } }).networks[0]!;
    assert.deepEqual(desiredPoolSpec('InfobloxIPPool', ib, 'dc1'), {
      instance: { name: 'dc1' },
      subnets: [{ cidr: '203.0.113.0/24' }],
    });
    assert.throws(() => desiredPoolSpec('InfobloxIPPool', ib));
  });

  it('compares and replaces only the fields it manages', () => {
    const spec = { addresses: ['10.0.0.0/24'], prefix: 24, gateway: '10.0.0.254', allocateReservedIPAddresses: true };
    const desired = { addresses: ['10.0.0.0/24'], prefix: 24 };
    assert.equal(specMatches(spec, desired, managedFields.InClusterIPPool), false); // the gateway must go
    assert.deepEqual(managedSpecPatch(desired, managedFields.InClusterIPPool), {
      addresses: ['10.0.0.0/24'],
      prefix: 24,
      gateway: null,
    });
    assert.equal(
      specMatches({ ...desired, allocateReservedIPAddresses: false }, desired, managedFields.InClusterIPPool),
      true,
    );
  });

  it('shapes providerData as a typed pool reference', () => {
    assert.deepEqual(providerEntry(node, 'InClusterIPPool', true), {
      name: 'ipPool',
      config: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'c' },
      ready: true,
    });
  });
});

describe('poolReadiness', () => {
  it('is ready only with Ready=True for the current generation', () => {
    assert.equal(poolReadiness(pool(ready('True', 1))).ready, true);
    assert.equal(poolReadiness(pool(ready('True'))).ready, true);
    const stale = poolReadiness(pool(ready('True', 1), 2));
    assert.equal(stale.ready, false);
    assert.equal(stale.why, 'waiting for the provider to process InClusterIPPool c generation 2');
  });

  it('says why not', () => {
    assert.equal(
      poolReadiness(pool(ready('False', 1))).why,
      'InClusterIPPool c is not ready (NoUsableAddresses): nothing left',
    );
    assert.match(poolReadiness(pool()).why, /no Ready condition yet \(is the in-cluster provider running\?\)/);
    const ib = { ...pool(), kind: 'InfobloxIPPool' } as unknown as InfobloxIPPool;
    assert.match(poolReadiness(ib).why, /InfobloxIPPool c to report Ready.*ipam-infoblox provider/);
  });
});

describe('holders', () => {
  const claim: ClusterIPAMClaim = {
    apiVersion: 'k0rdent.mirantis.com/v1beta1',
    kind: 'ClusterIPAMClaim',
    metadata: { name: 'c', namespace: 'ns', uid: 'u1', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { provider: 'in-cluster', nodeNetwork: { cidr: '10.0.0.0/24', gateway: '10.0.0.1' } },
  };
  const owned = (uid: string) => {
    const p = pool();
    p.metadata.ownerReferences = [{ apiVersion: 'v', kind: 'ClusterIPAMClaim', name: 'c', uid, controller: true }];
    return p;
  };

  it('a claim holds its space once its own pool serves it as planned', () => {
    assert.equal(claimHolder(claim, () => owned('u1'))!.holds, true);
    assert.equal(claimHolder(claim, () => owned('old-uid'))!.holds, false); // a deleted namesake's pool
    assert.equal(claimHolder(claim, () => undefined)!.holds, false);
    assert.equal(claimHolder(claim)!.holds, false);
    assert.equal(
      claimHolder({ ...claim, spec: { ...claim.spec, nodeNetwork: { cidr: '10.0.1.0/24' } } }, () => owned('u1'))!
        .holds,
      false,
    );
  });

  it("a claim's pool is accounted for by the claim only while it serves the claim as planned", () => {
    assert.equal(representedBy(owned('u1'), claim), true);
    assert.equal(representedBy(owned('u1'), undefined), false); // its claim is gone: the pool holds on its own
    const edited = { ...claim, spec: { ...claim.spec, nodeNetwork: { cidr: '10.9.0.0/24' } } };
    assert.equal(representedBy(owned('u1'), edited), false);
    const invalid = { ...claim, spec: { provider: 'in-cluster' as const, nodeNetwork: { ipAddresses: ['10.0.0.1'] } } };
    assert.equal(representedBy(owned('u1'), invalid), false);
  });

  it('an invalid claim holds nothing', () => {
    assert.equal(
      claimHolder({ ...claim, spec: { provider: 'in-cluster', nodeNetwork: { ipAddresses: ['10.0.0.1'] } } }),
      undefined,
    );
  });

  it('pools hold what they name', () => {
    assert.equal(poolHolder(pool())!.spaces[0]!.set.toString(), '10.0.0.0/24');
    const ib = {
      apiVersion: 'ipam.cluster.x-k8s.io/v1alpha1',
      kind: 'InfobloxIPPool',
      metadata: { name: 'ib' },
      spec: { instance: { name: 'x' }, subnets: [{ cidr: '203.0.113.0/24' }, { cidr: '2001:db8::/64' }] },
    } as InfobloxIPPool;
    const h = poolHolder(ib)!;
    assert.equal(h.infoblox, true);
    assert.deepEqual(
      h.spaces.map((s) => s.set.toString()),
      ['203.0.113.0/24', '2001:db8::/64'],
    );
  });

  it('claims and pools are in the domain of their namespace, or the one their annotation names', () => {
    const named = { 'ipam.k0rdent.mirantis.com/address-domain': 'lab' };
    assert.equal(claimHolder(claim)!.domain, 'namespace/ns');
    assert.equal(claimHolder({ ...claim, metadata: { ...claim.metadata, annotations: named } })!.domain, 'lab');
    assert.equal(poolHolder(pool())!.domain, 'namespace/ns');
    const g = { ...pool(), kind: 'GlobalInClusterIPPool', metadata: { name: 'g' } } as unknown as InClusterIPPool;
    assert.equal(poolHolder(g)!.domain, 'global');
  });

  it('a claim whose address-domain annotation is not a domain name is invalid, naming the annotation', () => {
    const bad = {
      ...claim,
      metadata: { ...claim.metadata, annotations: { 'ipam.k0rdent.mirantis.com/address-domain': 'Lab/1' } },
    };
    const plan = planOf(bad);
    assert.deepEqual(plan.networks, []);
    assert.equal(plan.errors[0]!.field, 'metadata.annotations[ipam.k0rdent.mirantis.com/address-domain]');
    assert.match(plan.errors[0]!.message, /^"Lab\/1" is not a valid domain name/);
    assert.equal(claimHolder(bad), undefined);
  });
});
