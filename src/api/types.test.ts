// The derived types, checked by the compiler (`npm run typecheck`): what the API server keeps compiles, what it
// prunes or rejects does not. The runtime assertions only keep node:test honest about the file.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  clusterIPAMClaimKind,
  type ClusterDeployment,
  type ClusterDeploymentSpec,
  type ClusterIPAM,
  type ClusterIPAMClaim,
  type ClusterIPAMClaimSpec,
  type Condition,
  type GlobalInClusterIPPool,
  type InfobloxInstanceSpec,
  type IPAddress,
  type IPAddressClaim,
} from './index.ts';

const claim = {
  apiVersion: 'k0rdent.mirantis.com/v1beta1',
  kind: 'ClusterIPAMClaim',
  metadata: { name: 'dev-ipam', namespace: 'default' },
  spec: {
    provider: 'in-cluster',
    cluster: 'dev',
    nodeNetwork: { ipAddresses: ['10.0.0.10-10.0.0.20'], prefix: 24, gateway: '10.0.0.1' },
  },
  status: { bound: true },
} satisfies ClusterIPAMClaim;

const ready: Condition = {
  type: 'Ready',
  status: 'False',
  reason: 'PoolExhausted',
  message: 'no free address',
  lastTransitionTime: '2026-01-01T00:00:00Z',
};

const deployment = {
  apiVersion: 'k0rdent.mirantis.com/v1beta1',
  kind: 'ClusterDeployment',
  metadata: { name: 'dev' },
  spec: {
    template: 'vsphere-standalone-cp-1-0-14',
    dryRun: false,
    config: { controlPlaneNumber: 3, ipamEnabled: true },
    // Fields this project does not model are kept by the API server, so the type keeps them too.
    serviceSpec: { services: [] },
    ipamClaim: { ref: 'dev-ipam', spec: claim.spec },
  },
  status: { conditions: [ready], observedGeneration: 2 },
} satisfies ClusterDeployment;

const clusterIPAM = {
  apiVersion: 'k0rdent.mirantis.com/v1beta1',
  kind: 'ClusterIPAM',
  metadata: { name: 'dev-ipam' },
  spec: { provider: 'in-cluster', clusterIPAMClaimRefs: 'dev-ipam' },
  status: {
    phase: 'Bound',
    providerData: [
      {
        name: 'ipPool',
        ready: true,
        config: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'x' },
      },
    ],
  },
} satisfies ClusterIPAM;

const address = {
  apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
  kind: 'IPAddress',
  metadata: { name: 'm-0' },
  spec: {
    claimRef: { name: 'm-0' },
    poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: 'p' },
    address: '10.0.0.10',
    prefix: 24,
  },
} satisfies IPAddress;

const pool = {
  apiVersion: 'ipam.cluster.x-k8s.io/v1alpha2',
  kind: 'GlobalInClusterIPPool',
  metadata: { name: 'shared' },
  spec: { addresses: ['10.0.0.0/24'], prefix: 24 },
  status: { ipAddresses: { total: 253, used: 0, free: 253, outOfRange: 0 } },
} satisfies GlobalInClusterIPPool;

// Defaulted fields stay optional for writers.
const instance: InfobloxInstanceSpec = { host: 'ib', wapiVersion: '2.12', credentialsSecretRef: { name: 's' } };

// @ts-expect-error a misspelt field would be pruned by the API server, so it is not part of the type
const misspelt: ClusterIPAMClaimSpec = { provider: 'in-cluster', nodeNetwork: { cidrs: '10.0.0.0/24' } };
// @ts-expect-error provider is an enum
const badProvider: ClusterIPAMClaimSpec = { provider: 'dhcp', nodeNetwork: {} };
// @ts-expect-error dryRun is a boolean, not "true"
const quotedDryRun: ClusterDeploymentSpec = { template: 't', dryRun: 'true' };
// @ts-expect-error poolRef.apiGroup is required in v1beta2
const noGroup: IPAddressClaim['spec'] = { poolRef: { kind: 'InClusterIPPool', name: 'p' } };
// @ts-expect-error the envelope's apiVersion is the kind's
const wrongVersion: ClusterIPAMClaim['apiVersion'] = 'k0rdent.mirantis.com/v1alpha1';
// Cluster API's kinds carry the version the cluster serves (v1beta1 up to Cluster API 1.10), in the v1beta2 shape.
const servedVersion: IPAddressClaim['apiVersion'] = 'ipam.cluster.x-k8s.io/v1beta1';
// @ts-expect-error but always of their group
const wrongGroup: IPAddressClaim['apiVersion'] = 'cluster.x-k8s.io/v1beta1';

it('derived types accept valid objects and constants match them', () => {
  assert.equal(claim.apiVersion, clusterIPAMClaimKind.apiVersion);
  assert.equal(clusterIPAMClaimKind.plural, 'clusteripamclaims');
  assert.equal(clusterIPAMClaimKind.namespaced, true);
  for (const o of [deployment, clusterIPAM, address, pool, instance, misspelt, badProvider, quotedDryRun, noGroup]) {
    assert.ok(o);
  }
  assert.ok(wrongVersion && servedVersion && wrongGroup);
});
