// Real machines in the local mode (spec 07): Cluster API core and its vSphere provider (CAPV) run as supervised local
// processes next to a vCenter simulator, all from one multi-call binary (capi-binaries.ts). Their webhooks (admission
// and Cluster API's conversion) listen on loopback with a certificate made here; the CRDs and webhook configurations
// of both are installed pointing there, as a management cluster would reach them through Services.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { selfSignedServingCertificate } from '../admission/certs.ts';
import { ValidatingWebhookConfigurations } from '../admission/webhook.ts';
import {
  KubeClient,
  resourceType,
  type CustomResourceDefinition,
  type KubeObject,
  type ResourceType,
} from '../kube/index.ts';
import { clusterGroup, infraGroup, type VSphereTarget } from '../render/vsphere.ts';
import { capiBinaries, type CAPIBinaries } from './capi-binaries.ts';
import {
  Component,
  freePort,
  startControlPlane,
  waitUntil,
  type ControlPlane,
  type ProgressListener,
} from './controlplane.ts';
import { installCRDs, readManifests } from './install.ts';

/** A Cluster API object as the local mode reads it: spec and status inspected loosely. */
export interface CapiObject extends KubeObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

const capi = (kind: string, plural: string, group = clusterGroup, version = 'v1beta2'): ResourceType<CapiObject> =>
  resourceType<CapiObject>({ group, version, kind, plural, namespaced: true, optional: true });
export const Clusters = capi('Cluster', 'clusters');
export const Machines = capi('Machine', 'machines');
export const MachineDeployments = capi('MachineDeployment', 'machinedeployments');
export const VSphereClusters = capi('VSphereCluster', 'vsphereclusters', infraGroup, 'v1beta1');
export const VSphereMachines = capi('VSphereMachine', 'vspheremachines', infraGroup, 'v1beta1');
export const VSphereMachineTemplates = capi('VSphereMachineTemplate', 'vspheremachinetemplates', infraGroup, 'v1beta1');
export const VSphereVMs = capi('VSphereVM', 'vspherevms', infraGroup, 'v1beta1');
export const MutatingWebhookConfigurations = resourceType<KubeObject & { webhooks: Record<string, unknown>[] }>({
  group: 'admissionregistration.k8s.io',
  version: 'v1',
  kind: 'MutatingWebhookConfiguration',
  plural: 'mutatingwebhookconfigurations',
  namespaced: false,
});

/** The webhook servers of the two managers, on loopback. */
export interface WebhookEndpoints {
  /** https://127.0.0.1:<port> of Cluster API core (conversion and its admission webhooks). */
  clusterAPI: string;
  /** https://127.0.0.1:<port> of CAPV. */
  vsphere: string;
  caBundle: string;
}

/** CAPV resolves a v1beta2 infrastructureRef to a version through this label on its CRDs (Cluster API contract). */
const contractLabel = { 'cluster.x-k8s.io/v1beta1': 'v1beta1' };

const isVSphere = (group: string | undefined) => group === infraGroup;

/**
 * A CRD of Cluster API or CAPV as installed here: CAPV's carry the contract label; those serving more than one
 * version convert through their manager's webhook on loopback (Cluster API 1.11+ stores v1beta2 and CAPV reads
 * v1beta1, so conversion cannot be off).
 */
export function loopbackCRD(crd: CustomResourceDefinition, endpoints: WebhookEndpoints): CustomResourceDefinition {
  const spec = crd.spec as { group: string; versions: { served: boolean }[] };
  const vsphere = isVSphere(spec.group);
  const out = structuredClone(crd) as CustomResourceDefinition & { spec: Record<string, unknown> };
  if (vsphere) out.metadata.labels = { ...out.metadata.labels, ...contractLabel };
  if (spec.versions.filter((v) => v.served).length > 1) {
    out.spec.conversion = {
      strategy: 'Webhook',
      webhook: {
        conversionReviewVersions: ['v1', 'v1beta1'],
        clientConfig: {
          url: `${vsphere ? endpoints.vsphere : endpoints.clusterAPI}/convert`,
          caBundle: Buffer.from(endpoints.caBundle).toString('base64'),
        },
      },
    };
  } else {
    delete out.spec.conversion;
  }
  return out;
}

type WebhookConfiguration = KubeObject & { webhooks?: Record<string, unknown>[] };
type Manager = 'clusterAPI' | 'vsphere';

/**
 * A webhook configuration of `manager` pointed at its server on loopback (`url` instead of a Service), under a name of
 * its own: both projects call theirs `mutating-webhook-configuration` / `validating-webhook-configuration`.
 */
export function loopbackWebhooks(config: WebhookConfiguration, manager: Manager, endpoints: WebhookEndpoints) {
  return {
    ...config,
    metadata: { name: `local-${manager === 'vsphere' ? 'capv' : 'capi'}-${config.metadata.name}` },
    webhooks: (config.webhooks ?? []).map((w) => {
      const { service } = (w.clientConfig ?? {}) as { service?: { path?: string } };
      return {
        ...w,
        clientConfig: {
          url: `${endpoints[manager]}${service?.path ?? '/'}`,
          caBundle: Buffer.from(endpoints.caBundle).toString('base64'),
        },
      };
    }),
  };
}

export interface CapiManifests {
  crds: CustomResourceDefinition[];
  webhooks: { manager: Manager; config: WebhookConfiguration }[];
}

export async function readCapiManifests(files: Omit<CAPIBinaries, 'bin'>): Promise<CapiManifests> {
  const crds = (await readManifests(files.crdFiles)).filter(
    (o) => o.kind === 'CustomResourceDefinition',
  ) as CustomResourceDefinition[];
  const webhooks = (['clusterAPI', 'vsphere'] as const).map(async (manager) =>
    (await readManifests([files.webhookFiles[manager]]))
      .filter((o) => o.kind === 'MutatingWebhookConfiguration' || o.kind === 'ValidatingWebhookConfiguration')
      .map((config) => ({ manager, config })),
  );
  return { crds, webhooks: (await Promise.all(webhooks)).flat() };
}

export interface RealMachinesPorts extends WebhookEndpoints {
  clusterAPIPort: number;
  vspherePort: number;
  certDir: string;
}

/** Ports and the serving certificate of the two webhook servers, written to `<dir>/webhook-certs` (tls.crt, tls.key). */
export async function prepareWebhooks(dir: string): Promise<RealMachinesPorts> {
  const certDir = join(dir, 'webhook-certs');
  await mkdir(certDir, { recursive: true });
  const cert = selfSignedServingCertificate(['127.0.0.1']);
  await writeFile(join(certDir, 'tls.crt'), cert.certPem);
  await writeFile(join(certDir, 'tls.key'), cert.keyPem, { mode: 0o600 });
  const [clusterAPIPort, vspherePort] = [await freePort(), await freePort()];
  return {
    clusterAPIPort,
    vspherePort,
    certDir,
    clusterAPI: `https://127.0.0.1:${clusterAPIPort}`,
    vsphere: `https://127.0.0.1:${vspherePort}`,
    caBundle: cert.caPem,
  };
}

/** What a vSphere client needs to look at the simulator. */
export interface VCenter {
  /** https://USER:PASSWORD@127.0.0.1:PORT/sdk */
  url: string;
  username: string;
  password: string;
  /** 127.0.0.1:PORT */
  server: string;
}

export interface RealMachines {
  vcenter: VCenter;
  /** Where the rendered machines are cloned: the simulator's inventory. */
  target: VSphereTarget;
  stop(): Promise<void>;
}

export interface RealMachinesOptions {
  /** The multi-call binary (cluster-api, vsphere, vcsim, vms). */
  bin: string;
  kubeconfig: string;
  dir: string;
  ports: RealMachinesPorts;
  webhooks: CapiManifests['webhooks'];
  client: KubeClient;
  log?: (line: string) => void;
  progress?: ProgressListener;
}

/** The simulator's default VPX inventory (spec 07 §7.3). */
const simulatorInventory = {
  datacenter: 'DC0',
  datastore: 'LocalDS_0',
  resourcePool: '/DC0/host/DC0_C0/Resources',
  folder: '/DC0/vm',
  template: 'DC0_H0_VM0',
  network: 'VM Network',
  minDiskGiB: 10,
};

async function healthy(url: string): Promise<boolean> {
  return (await fetch(url)).ok;
}

/**
 * Starts the vCenter simulator, Cluster API core and CAPV (their CRDs must be installed with `ports`), registers their
 * admission webhooks, and resolves once all three serve.
 */
export async function startRealMachines(opts: RealMachinesOptions): Promise<RealMachines> {
  const { bin, dir, ports, client } = opts;
  const log = opts.log ?? (() => {});
  const progress = opts.progress ?? (() => {});
  const username = 'vsphere-admin';
  const password = Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString('hex');
  const urlFile = join(dir, 'vcsim.url');
  const vcsim = new Component(
    bin,
    'vcsim',
    ['--listen', '127.0.0.1:0', '--username', username, '--password', password, '--url-file', urlFile],
    join(dir, 'vcsim.log'),
  );
  const [capiHealth, capvHealth] = [await freePort(), await freePort()];
  const common = (webhookPort: number, health: number) => [
    `--kubeconfig=${opts.kubeconfig}`,
    '--leader-elect=false',
    `--webhook-port=${webhookPort}`,
    `--webhook-cert-dir=${ports.certDir}`,
    `--health-addr=127.0.0.1:${health}`,
    '--diagnostics-address=0',
  ];
  const clusterAPI = new Component(
    bin,
    'cluster-api',
    common(ports.clusterAPIPort, capiHealth),
    join(dir, 'cluster-api.log'),
  );
  // CAPV's lease and the namespace it reads VSphereClusterIdentities from.
  const vsphere = new Component(bin, 'vsphere', common(ports.vspherePort, capvHealth), join(dir, 'vsphere.log'), {
    POD_NAMESPACE: 'default',
  });
  const components = [vsphere, clusterAPI, vcsim];
  const stop = async () => {
    for (const c of components) await c.stop();
  };
  try {
    progress('starting the vCenter simulator');
    vcsim.start();
    await waitUntil('the vCenter simulator', vcsim, async () => existsSync(urlFile), 60_000);
    const server = new URL((await readFile(urlFile, 'utf8')).trim()).host;
    const url = `https://${username}:${password}@${server}/sdk`;
    log(`vCenter simulator serving on ${server}`);
    progress('starting Cluster API and its vSphere provider');
    clusterAPI.start();
    vsphere.start();
    await waitUntil('Cluster API /readyz', clusterAPI, () => healthy(`http://127.0.0.1:${capiHealth}/readyz`), 120_000);
    await waitUntil('CAPV /readyz', vsphere, () => healthy(`http://127.0.0.1:${capvHealth}/readyz`), 120_000);
    for (const { manager, config } of opts.webhooks) {
      const type =
        config.kind === 'MutatingWebhookConfiguration'
          ? MutatingWebhookConfigurations
          : ValidatingWebhookConfigurations;
      await client.resource(type).apply(loopbackWebhooks(config, manager, ports), { force: true });
    }
    log('Cluster API and CAPV serving, their webhooks registered on loopback');
    return {
      vcenter: { url, username, password, server },
      target: { server, thumbprint: '', username, password, ...simulatorInventory },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** What vCenter reports about one VM, read with a vSphere client (the binary's `vms`). */
export interface VCenterVM {
  name: string;
  powerState: string;
  /** The address the guest reports (guest.ipAddress): what a vSphere admin sees. */
  guestIP: string;
  /** The static addresses CAPV wrote into the VM's guestinfo.metadata. */
  metadataAddresses: string[];
}

/** Every VM of the vCenter at `url`, as a vSphere client lists them. */
export async function listVMs(bin: string, url: string): Promise<VCenterVM[]> {
  const { stdout } = await promisify(execFile)(bin, ['vms', '--url', url, '--insecure'], { maxBuffer: 16 << 20 });
  return stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as VCenterVM);
}

/** A control plane with Cluster API, CAPV and the vCenter simulator running next to it. */
export interface VSphereControlPlane {
  cp: ControlPlane;
  machines: RealMachines;
  /** The multi-call binary (for `listVMs`). */
  bin: string;
  stop(): Promise<void>;
}

/**
 * Starts the local control plane as a management cluster running Cluster API would look: Cluster API's and CAPV's
 * CRDs (their IPAM kinds in place of ours) installed before kube-controller-manager starts, then the two managers and
 * the simulator. Builds the binaries first on a machine that has none.
 */
export async function startVSphereControlPlane(
  opts: { dir?: string; log?: (line: string) => void; progress?: ProgressListener } = {},
): Promise<VSphereControlPlane> {
  const binaries = await capiBinaries(opts.progress);
  const manifests = await readCapiManifests(binaries);
  let ports: RealMachinesPorts | undefined;
  const cp = await startControlPlane({
    ...opts,
    beforeControllerManager: async (kubeconfig) => {
      opts.progress?.('installing CRDs (Cluster API, CAPV and ours)');
      ports = await prepareWebhooks(join(dirname(kubeconfig), 'capi'));
      const crds = manifests.crds.map((c) => loopbackCRD(c, ports!));
      const client = KubeClient.load({ kubeconfig });
      await installCRDs(client, undefined, crds).finally(() => client.close());
    },
  });
  const client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
  try {
    const machines = await startRealMachines({
      bin: binaries.bin,
      kubeconfig: cp.kubeconfigPath,
      dir: join(cp.dir, 'capi'),
      ports: ports!,
      webhooks: manifests.webhooks,
      client,
      log: opts.log,
      progress: opts.progress,
    });
    return {
      cp,
      machines,
      bin: binaries.bin,
      async stop() {
        await machines.stop();
        await cp.stop();
      },
    };
  } catch (err) {
    await cp.stop();
    throw err;
  } finally {
    client.close();
  }
}
