// Manifests the hostile-input corpus builds on, written as a user writes them.
import type { Ctx, Obj } from './harness.ts';

const ipamV = 'ipam.cluster.x-k8s.io/v1alpha2';
const k0 = 'k0rdent.mirantis.com/v1beta1';
export const domainKey = 'ipam.k0rdent.mirantis.com/address-domain';

export const pool = (ctx: Ctx, name: string, spec: Obj, annotations?: Record<string, string>): Obj => ({
  apiVersion: ipamV,
  kind: 'InClusterIPPool',
  metadata: { name, labels: ctx.poolLabels, ...(annotations ? { annotations } : {}) },
  spec,
});

export const globalPool = (ctx: Ctx, name: string, spec: Obj): Obj => ({
  apiVersion: ipamV,
  kind: 'GlobalInClusterIPPool',
  metadata: { name: ctx.cname(name), labels: ctx.poolLabels },
  spec,
});

/** A ClusterIPAMClaim as written (no spec.cluster unless given). */
export const ipamClaim = (name: string, spec: Obj, annotations?: Record<string, string>): Obj => ({
  apiVersion: k0,
  kind: 'ClusterIPAMClaim',
  metadata: { name, ...(annotations ? { annotations } : {}) },
  spec: { provider: 'in-cluster', ...spec },
});

/** A ClusterIPAMClaim for the cluster of its own name. */
export const claim = (name: string, spec: Obj, annotations?: Record<string, string>): Obj =>
  ipamClaim(name, { cluster: name, ...spec }, annotations);

/** A machine's IPAddressClaim. */
export const machine = (name: string, poolName: string, kind = 'InClusterIPPool', annotations?: Obj): Obj => ({
  apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
  kind: 'IPAddressClaim',
  metadata: { name, ...(annotations ? { annotations } : {}) },
  spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind, name: poolName } },
});

export const deployment = (name: string, spec: Obj): Obj => ({
  apiVersion: k0,
  kind: 'ClusterDeployment',
  metadata: { name },
  spec: { template: 'vsphere-standalone-cp-1-0-14', credential: 'vsphere-cluster-identity-cred', ...spec },
});

export const instance = (ctx: Ctx, name: string, spec: Obj): Obj => ({
  apiVersion: 'ipam.cluster.x-k8s.io/v1alpha1',
  kind: 'InfobloxInstance',
  metadata: { name: ctx.cname(name) },
  spec: { host: 'infoblox.example.com', wapiVersion: '2.12', credentialsSecretRef: { name: 'ib-creds' }, ...spec },
});

export const ibPool = (name: string, instanceName: string, subnets: Obj[]): Obj => ({
  apiVersion: 'ipam.cluster.x-k8s.io/v1alpha1',
  kind: 'InfobloxIPPool',
  metadata: { name },
  spec: { instance: { name: instanceName }, subnets },
});

/** A Secret in the manager's namespace (`default` for the corpus's managers). */
export const secret = (ctx: Ctx, name: string, data: Record<string, string>): Obj => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: ctx.cname(name), namespace: 'default' },
  stringData: data,
});

/** The case's own /24 (the `third` one of its 10.<o>.0.0/16). */
export const net = (ctx: Ctx, third = 0): string => `10.${ctx.o}.${third}.0/24`;

/** An address domain of the case's own (enormous pools would otherwise overlap every other case's). */
export const ownDomain = (ctx: Ctx): Record<string, string> => ({ [domainKey]: `h-${ctx.run}-${ctx.o}` });
