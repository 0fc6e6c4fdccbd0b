// Manifests the cluster IPAM e2e tests apply, as a user writes them, and applying them expecting success.
import assert from 'node:assert/strict';
import { apply, type Obj } from './ipam-support.ts';

/** `kubectl apply` of objects, failing the test with kubectl's message if the API server refuses them. */
export async function applyOk(ns: string, ...objs: Obj[]): Promise<void> {
  const r = await apply(ns, ...objs);
  assert.equal(r.code, 0, r.stderr);
}

export const bound = (o: Obj): boolean => o.status?.bound === true;

/** A machine's IPAddressClaim, as an infrastructure provider makes it, from an InClusterIPPool of its namespace. */
export const machine = (name: string, pool: string): Obj => ({
  apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
  kind: 'IPAddressClaim',
  metadata: { name },
  spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: pool } },
});

/** An in-cluster ClusterIPAMClaim for the cluster of its own name. */
export const inClusterClaim = (name: string, spec: Obj, annotations?: Record<string, string>): Obj => ({
  apiVersion: 'k0rdent.mirantis.com/v1beta1',
  kind: 'ClusterIPAMClaim',
  metadata: { name, ...(annotations ? { annotations } : {}) },
  spec: { provider: 'in-cluster', cluster: name, ...spec },
});

/** A ClusterDeployment of the guide's vSphere template; `spec` adds config, ipamClaim, ... */
export const deployment = (name: string, spec: Obj): Obj => ({
  apiVersion: 'k0rdent.mirantis.com/v1beta1',
  kind: 'ClusterDeployment',
  metadata: { name },
  spec: { template: 'vsphere-standalone-cp-1-0-14', credential: 'vsphere-cluster-identity-cred', ...spec },
});
