// The claims' Cluster API Clusters, read only to honour pause. Cluster API may be absent (standalone users), or
// installed after the manager started, and it serves Cluster at v1beta2 or only at v1beta1, so the version is
// discovered lazily: the first claim that names a Cluster triggers a GET; once a version answers, an informer (of an
// optional kind: it copes with the CRD going away) follows Clusters and reports their changes (unpause must resume
// the claims at once). While the kind is absent every lookup asks the API again (a cached "absent" would let a claim
// through in the seconds after Cluster API is installed and a Cluster paused), so callers look only when they are
// about to act. Pause fails closed: a Cluster that exists but cannot be read is an error, never "not paused".
import { isApiError, resourceType, type KubeObject, type ResourceType } from '../kube/index.ts';
import type { Informer, Logger, Manager } from '../runtime/index.ts';

export interface Cluster extends KubeObject {
  spec?: { paused?: boolean };
}

const versions = ['v1beta2', 'v1beta1'];

const clusterType = (version: string): ResourceType<Cluster> =>
  resourceType<Cluster>({
    group: 'cluster.x-k8s.io',
    version,
    kind: 'Cluster',
    plural: 'clusters',
    namespaced: true,
    optional: true,
  });

/** A 404 for an object of a served kind carries reason NotFound; an unknown path is a bare 404. */
const objectMissing = (err: unknown): boolean => isApiError(err) && err.statusCode === 404 && err.reason === 'NotFound';
const kindMissing = (err: unknown): boolean => isApiError(err) && err.statusCode === 404 && err.reason !== 'NotFound';

/**
 * A Cluster that may exist could not be read (403, 5xx, timeout, ...): whether it is paused is unknown, so nothing
 * may be allocated or released for it now. Callers requeue.
 */
export class ClusterUnreadableError extends Error {
  override readonly name = 'ClusterUnreadableError';

  constructor(
    readonly namespace: string,
    readonly clusterName: string,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`cannot read Cluster ${namespace}/${clusterName} to tell whether it is paused: ${why}`, { cause });
  }
}

export class ClusterLookup {
  private informer: Informer<Cluster> | undefined;
  private readonly log: Logger;

  constructor(
    private readonly mgr: Manager,
    private readonly onChange: (namespace: string, name: string) => void,
  ) {
    this.log = mgr.logger.child({ component: 'clusters' });
  }

  /**
   * The Cluster; undefined if it does not exist or Cluster API serves no Cluster kind. Throws ClusterUnreadableError
   * when it cannot be read now.
   */
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
        if (!kindMissing(err)) throw new ClusterUnreadableError(namespace, name, err);
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
