// The local mode's real machines: one multicall binary built by hack/build-capi.sh from Go modules (Cluster API core
// v1.12, the vSphere provider CAPV v1.15, a vCenter simulator with a guest agent, a small vSphere client), cached like
// the control plane, and the upstream manifests the two managers need in the API server.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { buildProgress, runBuildScript, type ProgressListener } from './controlplane.ts';

export interface CAPIBinaries {
  /**
   * The multicall binary; its first argument picks `cluster-api` or `vsphere` (the managers, upstream flags),
   * `vcsim --listen HOST:PORT --username U --password P [--url-file F]` (prints its URL once serving; SIGTERM stops
   * it) or `vms --url URL [--insecure]` (one JSON line per VM: name, powerState, guestIP, metadataAddresses).
   */
  bin: string;
  /** Cluster API core's and CAPV's CRDs, one YAML file each, as upstream ships them (no contract label, no conversion). */
  crdFiles: string[];
  /** Their admission webhook configurations (in-cluster service references). */
  webhookFiles: { clusterAPI: string; vsphere: string };
}

let built: Promise<CAPIBinaries> | undefined;

/**
 * The binary and manifests, building them first if this machine has none (about 10 minutes on 2 cores, once); the
 * build's output becomes progress as the control plane's does.
 */
export function capiBinaries(progress?: ProgressListener): Promise<CAPIBinaries> {
  built ??= (async () => {
    const script = 'hack/build-capi.sh';
    const onLine = buildProgress(progress ?? (() => {}), 'Cluster API binaries', '~10 min on 2 cores');
    const bin = await runBuildScript(script, [], onLine);
    const manifests = await runBuildScript(script, ['--manifests-dir'], onLine);
    const crds = join(manifests, 'crds');
    const crdFiles = (await readdir(crds))
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .map((f) => join(crds, f));
    const webhooks = join(manifests, 'webhooks');
    return {
      bin,
      crdFiles,
      webhookFiles: { clusterAPI: join(webhooks, 'cluster-api.yaml'), vsphere: join(webhooks, 'vsphere.yaml') },
    };
  })();
  // A failed build is not remembered: the next caller tries again.
  built.catch(() => (built = undefined));
  return built;
}
