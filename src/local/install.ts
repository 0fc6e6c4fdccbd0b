// Puts the product on a cluster the way `local up` needs it: our CRDs (server-side apply, waiting until
// Established) and the example manifests.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { kinds, toCRD } from '../api/index.ts';
import {
  CustomResourceDefinitions,
  Namespaces,
  Secrets,
  apiVersionOf,
  type CustomResourceDefinition,
  type KubeClient,
  type KubeObject,
  type ResourceType,
} from '../kube/index.ts';

/**
 * Our CRDs, or with `replacing` (Cluster API's own, on a management cluster that runs it) those in their place:
 * applied server-side, then waited for until Established.
 */
export async function installCRDs(
  client: KubeClient,
  signal?: AbortSignal,
  replacing: readonly CustomResourceDefinition[] = [],
): Promise<void> {
  const theirs = new Set(replacing.map((c) => c.metadata.name));
  const ours = kinds.map((k) => toCRD(k) as CustomResourceDefinition).filter((c) => !theirs.has(c.metadata.name));
  const all = [...ours, ...replacing];
  const crds = client.resource(CustomResourceDefinitions);
  for (const crd of all) await crds.apply(crd, { force: true, signal });
  for (const { metadata } of all) {
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      const crd = await crds.get({ name: metadata.name! }, { signal });
      const conditions = (crd as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions;
      if (conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

const knownTypes: ResourceType[] = [...kinds, Secrets, Namespaces];

/** Parses every YAML document of the given files; comments and empty documents are skipped. */
export async function readManifests(paths: string[]): Promise<KubeObject[]> {
  const objects: KubeObject[] = [];
  for (const path of paths) {
    for (const doc of parseAllDocuments(await readFile(path, 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]!.message}`);
      const obj = doc.toJS() as KubeObject | null;
      if (obj) objects.push(obj);
    }
  }
  return objects;
}

export async function yamlFilesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f));
}

/** Server-side applies each object; namespaced ones without a namespace go to `namespace`. */
export async function applyManifests(client: KubeClient, objects: KubeObject[], namespace: string): Promise<void> {
  for (const obj of objects) {
    const type = knownTypes.find((t) => apiVersionOf(t) === obj.apiVersion && t.kind === obj.kind);
    if (!type) throw new Error(`cannot apply ${obj.apiVersion} ${obj.kind} ${obj.metadata?.name}: unknown kind`);
    const metadata = type.namespaced ? { namespace, ...obj.metadata } : obj.metadata;
    await client.resource(type).apply({ ...obj, metadata }, { force: true });
  }
}
