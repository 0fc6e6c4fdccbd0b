// What k0rdent's `vsphere-standalone-cp` cluster template renders from a ClusterDeployment once its IPAMReady is True
// (spec 07 §7.4), written here without kcm: the Cluster API objects whose VSphereMachines draw their addresses from
// the pool the gate merged into spec.config. No k0s bootstrap or control-plane provider runs in the local mode, so
// control-plane Machines are made here one by one (each with its VSphereMachine) instead of by K0sControlPlane, and
// every machine's bootstrap data is a Secret of our own. Pure: the caller applies the objects.
import type { ClusterDeployment } from '../api/index.ts';
import type { KubeObject } from '../kube/index.ts';
import { clusterNameLabel } from '../providers/claims.ts';

/** Where the machines are cloned: the vCenter (or the simulator) and its inventory. */
export interface VSphereTarget {
  /** `host:port` (CAPV adds `/sdk`). */
  server: string;
  /** The server certificate's SHA-1 thumbprint; empty: not verified (the simulator's self-signed certificate). */
  thumbprint: string;
  username: string;
  password: string;
  datacenter: string;
  datastore: string;
  resourcePool: string;
  folder?: string;
  /** The VM every machine is cloned from (full clone: no snapshot needed). */
  template: string;
  network: string;
  /** The template's disk: CAPV refuses to shrink it, so no machine asks for less. */
  minDiskGiB: number;
}

export const clusterGroup = 'cluster.x-k8s.io';
export const infraGroup = 'infrastructure.cluster.x-k8s.io';
export const controlPlaneLabel = 'cluster.x-k8s.io/control-plane';
export const deploymentNameLabel = 'cluster.x-k8s.io/deployment-name';
const infraVersion = `${infraGroup}/v1beta1`;
const capiVersion = `${clusterGroup}/v1beta2`;
const apiServerPort = 6443;
/** What k0rdent's template gives machines that say nothing (spec.config.<role>.cpus/memory/diskSize). */
const machineDefaults = { cpus: 2, memory: 4096, diskSize: 20 };

/** A ClusterDeployment that cannot be rendered; the message names the field. */
export class RenderError extends Error {}

/** A rendered object: its kind's fields (spec, or a Secret's type and stringData) next to the metadata. */
export interface RenderedObject extends KubeObject {
  [field: string]: unknown;
}

export const bootstrapSecretName = (cluster: string): string => `${cluster}-bootstrap`;
export const credentialsSecretName = (cluster: string): string => `${cluster}-vsphere-credentials`;
export const controlPlaneMachineName = (cluster: string, i: number): string => `${cluster}-cp-${i}`;
export const machineDeploymentName = (cluster: string): string => `${cluster}-md`;

interface PoolRef {
  apiGroup: string;
  kind: string;
  name: string;
}

interface Values {
  name: string;
  namespace: string;
  endpoint: string;
  pool: PoolRef;
  controlPlaneNumber: number;
  workersNumber: number;
  nameservers: string[] | undefined;
  controlPlane: Record<string, unknown>;
  worker: Record<string, unknown>;
}

function fail(field: string, why: string): never {
  throw new RenderError(`spec.config.${field}: ${why}`);
}

function count(config: Record<string, unknown>, key: string): number {
  const n = config[key] ?? 0;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
    fail(key, `${JSON.stringify(n)} is not a whole number`);
  return n;
}

function object(config: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = config[key] ?? {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(key, 'not an object');
  return v as Record<string, unknown>;
}

/** The template's values: what the gate merged (ipamEnabled, ipPool, controlPlaneEndpointIP) and the sizes. */
function values(d: ClusterDeployment): Values {
  const config = (d.spec.config ?? {}) as Record<string, unknown>;
  if (config.ipamEnabled !== true) fail('ipamEnabled', 'not true: IPAM has not made this cluster ready yet');
  const pool = (config.ipPool as { config?: Partial<PoolRef> } | undefined)?.config;
  if (!pool?.kind || !pool.name) fail('ipPool.config', 'no pool reference {apiGroup, kind, name}');
  const endpoint = config.controlPlaneEndpointIP;
  if (typeof endpoint !== 'string' || endpoint === '') fail('controlPlaneEndpointIP', 'no address');
  const nameservers = config.nameservers;
  if (nameservers !== undefined && !(Array.isArray(nameservers) && nameservers.every((s) => typeof s === 'string'))) {
    fail('nameservers', 'not a list of addresses');
  }
  return {
    name: d.metadata.name!,
    namespace: d.metadata.namespace!,
    endpoint,
    pool: { apiGroup: pool.apiGroup ?? 'ipam.cluster.x-k8s.io', kind: pool.kind, name: pool.name },
    controlPlaneNumber: count(config, 'controlPlaneNumber'),
    workersNumber: count(config, 'workersNumber'),
    nameservers: nameservers as string[] | undefined,
    controlPlane: object(config, 'controlPlane'),
    worker: object(config, 'worker'),
  };
}

function size(v: Values, role: 'controlPlane' | 'worker', key: keyof typeof machineDefaults): number {
  const n = v[role][key] ?? machineDefaults[key];
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) {
    fail(`${role}.${key}`, `${JSON.stringify(n)} is not a positive whole number`);
  }
  return n;
}

/** VSphereMachine(Template) spec: the clone, and the one NIC whose address comes from the pool. */
function machineSpec(v: Values, role: 'controlPlane' | 'worker', target: VSphereTarget): Record<string, unknown> {
  return {
    server: target.server,
    thumbprint: target.thumbprint,
    datacenter: target.datacenter,
    datastore: target.datastore,
    resourcePool: target.resourcePool,
    ...(target.folder ? { folder: target.folder } : {}),
    template: target.template,
    cloneMode: 'fullClone',
    os: 'Linux',
    numCPUs: size(v, role, 'cpus'),
    memoryMiB: size(v, role, 'memory'),
    diskGiB: Math.max(size(v, role, 'diskSize'), target.minDiskGiB),
    network: {
      devices: [
        {
          networkName: target.network,
          // The template's `dhcp4: {{ not .Values.ipamEnabled }}` and `addressesFromPools: [ {{ .Values.ipPool.config }} ]`.
          dhcp4: false,
          addressesFromPools: [v.pool],
          ...(v.nameservers ? { nameservers: v.nameservers } : {}),
        },
      ],
    },
  };
}

/** A short, stable digest of a spec: VSphereMachineTemplate specs are immutable, so a new spec gets a new name. */
function digest(value: unknown): string {
  let h = 0x811c9dc5;
  for (const ch of JSON.stringify(value)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/**
 * The objects for `d`, each labelled with the cluster's name and owned by the ClusterDeployment (deleting it deletes
 * the Cluster, and Cluster API then the machines in order). The Cluster comes first: the rest refer to it.
 */
export function renderVSphereCluster(d: ClusterDeployment, target: VSphereTarget): RenderedObject[] {
  const v = values(d);
  const { name, namespace } = v;
  const metadata = (objectName: string, labels: Record<string, string> = {}) => ({
    name: objectName,
    namespace,
    labels: { [clusterNameLabel]: name, ...labels },
    ownerReferences: [
      { apiVersion: d.apiVersion!, kind: d.kind!, name, uid: d.metadata.uid!, blockOwnerDeletion: true },
    ],
  });
  const endpoint = { host: v.endpoint, port: apiServerPort };
  const infraRef = (kind: string, objectName: string) => ({ apiGroup: infraGroup, kind, name: objectName });
  const bootstrap = { dataSecretName: bootstrapSecretName(name) };

  const templates = (['controlPlane', 'worker'] as const).map((role) => {
    const spec = machineSpec(v, role, target);
    return {
      role,
      spec,
      object: {
        apiVersion: infraVersion,
        kind: 'VSphereMachineTemplate',
        metadata: metadata(`${name}-${role === 'controlPlane' ? 'cp' : 'worker'}-${digest(spec)}`),
        spec: { template: { spec } },
      },
    };
  });
  const [cpTemplate, workerTemplate] = templates;

  const controlPlane = Array.from({ length: v.controlPlaneNumber }, (_, i) => {
    const machine = controlPlaneMachineName(name, i);
    const labels = { [controlPlaneLabel]: '' };
    return [
      {
        apiVersion: infraVersion,
        kind: 'VSphereMachine',
        metadata: {
          ...metadata(machine, labels),
          // As K0sControlPlane marks the machines it clones from the template.
          annotations: {
            'cluster.x-k8s.io/cloned-from-name': cpTemplate!.object.metadata.name,
            'cluster.x-k8s.io/cloned-from-groupkind': `VSphereMachineTemplate.${infraGroup}`,
          },
        },
        spec: cpTemplate!.spec,
      },
      {
        apiVersion: capiVersion,
        kind: 'Machine',
        metadata: metadata(machine, labels),
        spec: { clusterName: name, bootstrap, infrastructureRef: infraRef('VSphereMachine', machine) },
      },
    ];
  }).flat();

  const md = machineDeploymentName(name);
  const workerLabels = { [clusterNameLabel]: name, [deploymentNameLabel]: md };
  return [
    {
      apiVersion: capiVersion,
      kind: 'Cluster',
      metadata: metadata(name),
      spec: { controlPlaneEndpoint: endpoint, infrastructureRef: infraRef('VSphereCluster', name) },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: metadata(credentialsSecretName(name)),
      type: 'Opaque',
      stringData: { username: target.username, password: target.password },
    },
    {
      apiVersion: infraVersion,
      kind: 'VSphereCluster',
      metadata: metadata(name),
      spec: {
        server: target.server,
        thumbprint: target.thumbprint,
        controlPlaneEndpoint: endpoint,
        identityRef: { kind: 'Secret', name: credentialsSecretName(name) },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: metadata(bootstrapSecretName(name)),
      type: 'cluster.x-k8s.io/secret',
      stringData: {
        format: 'cloud-config',
        // k0s would write the node's bootstrap here; the local mode has no bootstrap provider (docs/local-machines.md).
        value: '#cloud-config\n# cluster-ipam local mode: no bootstrap provider, the machine only gets its address\n',
      },
    },
    ...templates.map((t) => t.object),
    ...controlPlane,
    {
      apiVersion: capiVersion,
      kind: 'MachineDeployment',
      metadata: metadata(md),
      spec: {
        clusterName: name,
        replicas: v.workersNumber,
        selector: { matchLabels: workerLabels },
        template: {
          metadata: { labels: workerLabels },
          spec: {
            clusterName: name,
            bootstrap,
            infrastructureRef: infraRef('VSphereMachineTemplate', workerTemplate!.object.metadata.name),
          },
        },
      },
    },
  ];
}
