import {
  CustomResourceDefinitions,
  type KubeClient,
  type KubeObject,
  type ResourceType,
  type Selectors,
} from '../kube/index.ts';
import { Informer, type InformerOptions } from './informer.ts';
import type { Logger } from './log.ts';

export interface InformerScope extends Selectors {
  /** Watch one namespace only; all namespaces when omitted. */
  namespace?: string;
}

/**
 * The shared informers of a manager, one per resource type and scope, like controller-runtime's cache: every
 * controller asking for the same kind gets the same informer, so each kind is listed and watched once. A kind marked
 * `optional` that is not served counts as synced and empty, and is followed as soon as its CRD is installed; the
 * first request for a kind decides whether it is optional.
 */
export class InformerCache {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly runs: Promise<void>[] = [];
  private signal: AbortSignal | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly logger: Logger,
    private readonly defaults: Omit<InformerOptions, keyof InformerScope | 'logger'> = {},
  ) {}

  informer<T extends KubeObject>(type: ResourceType<T>, scope: InformerScope = {}): Informer<T> {
    const key = [type.group, type.version, type.plural, scope.namespace, scope.labelSelector, scope.fieldSelector]
      .map((part) => part ?? '')
      .join('|');
    let informer = this.informers.get(key) as Informer<T> | undefined;
    if (!informer) {
      informer = new Informer(this.client.resource(type), {
        ...this.defaults,
        ...scope,
        logger: this.logger,
        crds: type.optional ? this.client.resource(CustomResourceDefinitions) : undefined,
      });
      this.informers.set(key, informer as unknown as Informer<KubeObject>);
      if (this.signal) this.run(informer as unknown as Informer<KubeObject>, this.signal);
    }
    return informer;
  }

  /** Starts every informer, and those created later as they come; they stop when `signal` aborts. */
  start(signal: AbortSignal): void {
    if (this.signal) throw new Error('cache already started');
    this.signal = signal;
    for (const informer of this.informers.values()) this.run(informer, signal);
  }

  hasSynced(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced());
  }

  async waitForSync(signal?: AbortSignal): Promise<boolean> {
    const results = await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
    return results.every(Boolean);
  }

  /** Resolves when every started informer has returned. */
  async stopped(): Promise<void> {
    await Promise.all(this.runs);
  }

  private run(informer: Informer<KubeObject>, signal: AbortSignal): void {
    this.runs.push(informer.run(signal));
  }
}
