// What each controller reads and writes in the Kubernetes API: the one declaration the Helm chart's RBAC is generated
// from (`npm run gen:chart-rbac` writes deploy/chart/templates/rbac.yaml; src/rbac/chart.test.ts fails when it is
// stale). A controller that starts using another kind or verb adds it here, in the entry named like its setup in
// src/controllers/index.ts. test/e2e/chart.test.ts runs the manager with exactly these rules, and without one of them.
import {
  ClusterDeployments,
  ClusterIPAMClaims,
  ClusterIPAMs,
  GlobalInClusterIPPools,
  InClusterIPPools,
  InfobloxInstances,
  InfobloxIPPools,
  IPAddressClaims,
  IPAddresses,
  IPAddressLedgers,
  IPAddressReservations,
} from '../api/resources.ts';
import { CustomResourceDefinitions, Events, Leases, Secrets } from '../kube/index.ts';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

/** A kind as RBAC names it. */
export interface Kind {
  group: string;
  plural: string;
}

export interface Access {
  kind: Kind;
  verbs: readonly Verb[];
  /** On the status subresource (status writes). */
  status?: readonly Verb[];
  /**
   * On the finalizers subresource: an owner reference with blockOwnerDeletion needs `update` on the owner's
   * finalizers where the API server enforces it (OwnerReferencesPermissionEnforcement).
   */
  finalizers?: readonly Verb[];
  /** Only in the manager's own namespace (a Role there), not cluster-wide. */
  ownNamespace?: boolean;
}

export interface Permissions {
  /** The ControllerSetup's name (`cluster-ipam run --controllers`), or what else in the manager needs it. */
  name: string;
  /** The chart value that turns it on (`controllers.<key>` for a controller); absent: always on. */
  value?: string;
  /** One line for the generated template. */
  what: string;
  access: readonly Access[];
}

/** Informers list and watch; reconcilers also GET live objects. */
const read: readonly Verb[] = ['get', 'list', 'watch'];
const statusWrites: readonly Verb[] = ['patch', 'update'];
const ownerOf: readonly Verb[] = ['update'];

// The Cluster API Cluster, read to honour pause (src/providers/clusters.ts discovers its version).
const Clusters: Kind = { group: 'cluster.x-k8s.io', plural: 'clusters' };

/** The in-cluster provider (src/providers/in-cluster), shared by the claim and pool controllers and the webhook. */
const inClusterProvider: readonly Access[] = [
  { kind: IPAddressClaims, verbs: [...read, 'patch'], status: statusWrites, finalizers: ownerOf },
  { kind: IPAddresses, verbs: [...read, 'create', 'patch', 'delete'] },
  // Reservations of older releases are honoured and deleted on release; the ledgers are written instead.
  { kind: IPAddressReservations, verbs: [...read, 'patch', 'delete'] },
  { kind: IPAddressLedgers, verbs: [...read, 'create', 'patch'] },
  { kind: InClusterIPPools, verbs: [...read, 'patch'], status: statusWrites, finalizers: ownerOf },
  { kind: GlobalInClusterIPPools, verbs: [...read, 'patch'], status: statusWrites, finalizers: ownerOf },
  { kind: Clusters, verbs: read },
];

/**
 * The Infoblox provider (src/providers/infoblox): its pools and instances, the instances' credentials Secrets in the
 * manager's namespace only, the claims it names hosts on (hostname annotation), and the owners it walks up to the
 * claim's Machine (for `<machine>.<dnsZone>` host names). Served only while its controllers are on.
 */
const infobloxProvider: readonly Access[] = [
  { kind: InfobloxIPPools, verbs: [...read, 'patch', 'update'], status: statusWrites, finalizers: ownerOf },
  { kind: InfobloxInstances, verbs: [...read, 'patch', 'update'], status: statusWrites },
  { kind: Secrets, verbs: read, ownNamespace: true },
  { kind: IPAddressClaims, verbs: [...read, 'patch'] },
  { kind: IPAddresses, verbs: read },
  { kind: { group: 'cluster.x-k8s.io', plural: 'machines' }, verbs: ['get'] },
  { kind: { group: 'infrastructure.cluster.x-k8s.io', plural: 'vspheremachines' }, verbs: ['get'] },
  { kind: { group: 'infrastructure.cluster.x-k8s.io', plural: 'vspherevms' }, verbs: ['get'] },
];

export const permissions: readonly Permissions[] = [
  {
    name: 'manager',
    what: 'the runtime: leader election, Events, the CRDs it follows and discovers, reference providers',
    access: [
      { kind: Leases, verbs: ['get', 'create', 'update'], ownNamespace: true },
      // Events go to the namespace of the object they are about, so cluster-wide.
      { kind: Events, verbs: ['create', 'patch'] },
      // Optional kinds, and what src/cli/discovery.ts reads at start: the served Cluster API version, kcm's CRDs.
      { kind: CustomResourceDefinitions, verbs: read },
      // A running reference provider is found by its leader election Lease, in whatever namespace it runs.
      { kind: Leases, verbs: ['list'] },
    ],
  },
  {
    // Started only while a reference provider runs and is not taken over (src/controllers/coexistence.ts).
    name: 'reference-provider-guard',
    what: 'while a reference IPAM provider runs: reads the pools it serves, to put an Event on each',
    access: [InClusterIPPools, GlobalInClusterIPPools, InfobloxIPPools].map((kind) => ({ kind, verbs: read })),
  },
  {
    name: 'clusteripamclaim',
    value: 'controllers.clusterIPAMClaim',
    what: 'ClusterIPAMClaim: checks, creates its ClusterIPAM, reports Bound',
    access: [
      { kind: ClusterIPAMClaims, verbs: [...read, 'patch', 'update'], status: statusWrites, finalizers: ownerOf },
      { kind: ClusterIPAMs, verbs: [...read, 'create', 'patch'] },
      { kind: InClusterIPPools, verbs: read },
      { kind: GlobalInClusterIPPools, verbs: read },
      { kind: InfobloxIPPools, verbs: read },
      { kind: ClusterDeployments, verbs: read },
    ],
  },
  {
    name: 'clusteripam',
    value: 'controllers.clusterIPAM',
    what: "ClusterIPAM: writes the claim's provider pools",
    access: [
      { kind: ClusterIPAMs, verbs: read, status: statusWrites },
      { kind: ClusterIPAMClaims, verbs: read, finalizers: ownerOf },
      { kind: InClusterIPPools, verbs: [...read, 'create', 'patch', 'delete'] },
      { kind: InfobloxIPPools, verbs: [...read, 'create', 'patch', 'delete'] },
      { kind: InfobloxInstances, verbs: read },
    ],
  },
  {
    name: 'clusterdeployment-ipam',
    value: 'controllers.clusterDeployment',
    what: 'the ClusterDeployment gate: inline claims, IPAMReady, the pool and endpoint address in spec.config',
    access: [
      { kind: ClusterDeployments, verbs: [...read, 'patch'], status: statusWrites, finalizers: ownerOf },
      { kind: ClusterIPAMClaims, verbs: [...read, 'create', 'patch', 'delete'] },
      { kind: ClusterIPAMs, verbs: read },
      // The endpoint address: its IPAddressClaim and IPAddress, and a hand-set one in the node pool's excludedAddresses.
      { kind: IPAddressClaims, verbs: [...read, 'create'] },
      { kind: IPAddresses, verbs: read },
      { kind: IPAddressReservations, verbs: read },
      { kind: IPAddressLedgers, verbs: read },
      { kind: InClusterIPPools, verbs: [...read, 'patch'] },
      { kind: GlobalInClusterIPPools, verbs: read },
    ],
  },
  {
    name: 'infobloxinstance',
    value: 'controllers.infobloxInstance',
    what: 'InfobloxInstance: credentials, the appliance reached, its default views',
    access: infobloxProvider,
  },
  {
    name: 'infobloxippool',
    value: 'controllers.infobloxPool',
    what: 'InfobloxIPPool: views and subnets on the appliance, protection',
    access: infobloxProvider,
  },
  {
    name: 'ipaddressclaim',
    value: 'controllers.ipAddressClaim',
    what: 'IPAddressClaim: an IPAddress from an in-cluster pool',
    access: inClusterProvider,
  },
  {
    name: 'inclusterippool',
    value: 'controllers.inClusterPool',
    what: 'InClusterIPPool / GlobalInClusterIPPool: status, protection, released addresses',
    access: inClusterProvider,
  },
  {
    // It reads what the in-cluster provider reads; its ValidatingWebhookConfiguration is the chart's, not written.
    name: 'inclusterippool-webhook',
    value: 'webhook.enabled',
    what: 'the pool webhook: reads the addresses held from a pool',
    access: inClusterProvider.map((a) => ({ kind: a.kind, verbs: read })),
  },
];

const controllerValue = /^controllers\.(\w+)$/;

/** The controllers' entries (named like their setups) with their `controllers.<key>` value. */
export const controllerPermissions = permissions.flatMap((p) => {
  const key = controllerValue.exec(p.value ?? '')?.[1];
  return key ? [{ ...p, key }] : [];
});
