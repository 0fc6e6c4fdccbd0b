// Which provider serves which pool kind, per manager. A provider registers the pool kinds it serves when it is
// created (by whichever controller needs it first); the claim controller looks a claim's provider up by its
// poolRef's apiGroup and kind, and follows the wakeups of providers registered after it was set up, so the order in
// which controllers are set up decides nothing.
import { ipamGroup } from '../api/index.ts';
import type { KubeObject, ResourceType } from '../kube/index.ts';
import type { Manager } from '../runtime/index.ts';
import type { IPAMProvider } from './types.ts';

/** A provider and the pool kind it serves for a poolRef. */
export interface Served {
  provider: IPAMProvider;
  poolType: ResourceType<KubeObject>;
}

// A v1beta1 poolRef may lack its apiGroup; absent is the IPAM group, as for coexistence's refusals.
const keyOf = (group: string | undefined, kind: string): string => `${group ?? ipamGroup}/${kind}`;

export class ProviderRegistry {
  private readonly byKind = new Map<string, Served>();
  private readonly providers: IPAMProvider[] = [];
  private readonly listeners: ((provider: IPAMProvider) => void)[] = [];

  /** Registers each of the provider's pool kinds; a kind another provider serves already is a setup error. */
  register(provider: IPAMProvider): void {
    if (this.providers.includes(provider)) return;
    for (const poolType of provider.poolTypes) {
      const key = keyOf(poolType.group, poolType.kind);
      const other = this.byKind.get(key);
      if (other) throw new Error(`pool kind ${key} is served by both ${other.provider.name} and ${provider.name}`);
    }
    for (const poolType of provider.poolTypes)
      this.byKind.set(keyOf(poolType.group, poolType.kind), { provider, poolType });
    this.providers.push(provider);
    for (const listener of this.listeners) listener(provider);
  }

  /**
   * The provider of a poolRef; undefined when no provider here serves it: such a claim (or IPAddress) is another
   * IPAM provider's, and the contract says to leave it alone (no finalizer, no status).
   */
  lookup(ref: { apiGroup?: string; kind: string }): Served | undefined {
    return this.byKind.get(keyOf(ref.apiGroup, ref.kind));
  }

  /** Calls `fn` with every provider registered, now and later. */
  each(fn: (provider: IPAMProvider) => void): void {
    for (const provider of this.providers) fn(provider);
    this.listeners.push(fn);
  }
}

const registries = new WeakMap<Manager, ProviderRegistry>();

export function providerRegistry(mgr: Manager): ProviderRegistry {
  let r = registries.get(mgr);
  if (!r) registries.set(mgr, (r = new ProviderRegistry()));
  return r;
}
