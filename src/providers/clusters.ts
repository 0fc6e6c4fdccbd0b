// The claims' Cluster API Clusters, read only to honour pause. Cluster API may be absent (standalone users), or
// installed after the manager started, so the Cluster kind is discovered lazily: the first claim that names a
// Cluster triggers a GET; once the kind answers, an informer follows Clusters and reports their changes (unpause
// must resume the claims at once). While the kind is absent every lookup asks the API again (a cached "absent"
// would let a claim through in the seconds after Cluster API is installed and a Cluster paused), so callers look
// only when they are about to act. A Cluster that cannot be read never blocks a claim.
import { isApiError, resourceType, type KubeObject, type ResourceType } from '../kube/index.ts';
import type { Informer, Logger, Manager } from '../runtime/index.ts';

export interface Cluster extends KubeObject {
  spec?: { paused?: boolean };
}

const versions = ['v1beta2', 'v1beta1'];

const clusterType = (version: string): ResourceType<Cluster> =>
  resourceType<Cluster>({ group: 'cluster.x-k8s.io', version, kind: 'Cluster', plural: 'clusters', namespaced: true });

/** A 404 for an object of a served kind carries reason NotFound; an unknown path is a bare 404. */
const objectMissing = (err: unknown): boolean => isApiError(err) && err.statusCode === 404 && err.reason === 'NotFound';

export class ClusterLookup {
  private informer: Informer<Cluster> | undefined;
  private readonly log: Logger;

  constructor(
    private readonly mgr: Manager,
    private readonly onChange: (namespace: string, name: string) => void,
  ) {
    this.log = mgr.logger.child({ component: 'clusters' });
  }

  /** The Cluster, or undefined if it (or its kind) does not exist or cannot be read now. */
  async get(namespace: string, name: string, signal: AbortSignal): Promise<Cluster | undefined> {
    // A Cluster missing from the cache may be too new for it: the API has the last word.
    const cached = this.informer?.hasSynced() ? this.informer.get(`${namespace}/${name}`) : undefined;
    if (cached) return cached;
    for (const version of versions) {
      const type = clusterType(version);
      try {
        const cluster = await this.mgr.client.resource(type).get({ namespace, name }, { signal });
        this.follow(type);
        return cluster;
      } catch (err) {
        if (objectMissing(err)) {
          this.follow(type);
          return undefined;
        }
        if (!(isApiError(err) && err.statusCode === 404)) {
          this.log.warn({ err, cluster: `${namespace}/${name}` }, 'cannot read the Cluster; not treating it as paused');
          return undefined;
        }
      }
    }
    return undefined;
  }

  private follow(type: ResourceType<Cluster>): void {
    if (this.informer) return;
    this.log.info({ version: type.version }, 'following Cluster API Clusters for pause');
    this.informer = this.mgr.informer(type);
    const changed = (c: Cluster) => this.onChange(c.metadata.namespace ?? '', c.metadata.name ?? '');
    this.informer.addEventHandler({ onAdd: changed, onUpdate: (_, c) => changed(c), onDelete: changed });
  }
}
