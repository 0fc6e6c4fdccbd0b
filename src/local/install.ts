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

export async function installCRDs(client: KubeClient, signal?: AbortSignal): Promise<void> {
  const crds = client.resource(CustomResourceDefinitions);
  for (const kind of kinds) {
    await crds.apply(toCRD(kind) as CustomResourceDefinition, { force: true, signal });
  }
  for (const kind of kinds) {
    const name = `${kind.plural}.${kind.group}`;
    for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
      const crd = await crds.get({ name }, { signal });
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
