// The provider pools a claim's plan asks for, whether existing pools match them and are ready, and the ClusterIPAM's
// providerData (spec 01 §1.2). Pure.
import {
  ipamGroup,
  type Condition,
  type InClusterIPPool,
  type InfobloxIPPool,
  type ProviderData,
} from '../api/index.ts';
import type { NetworkPlan } from './claim.ts';
import { sameJSON } from '../api/index.ts';

export type PoolKind = 'InClusterIPPool' | 'InfobloxIPPool';
export type ProviderPool = InClusterIPPool | InfobloxIPPool;

export const poolKindFor = (provider: string): PoolKind =>
  provider === 'ipam-infoblox' ? 'InfobloxIPPool' : 'InClusterIPPool';

/** The spec a network's pool should have. `instance` is required for Infoblox. */
export function desiredPoolSpec(
  kind: PoolKind,
  network: NetworkPlan,
  instance?: string,
): InClusterIPPool['spec'] | InfobloxIPPool['spec'] {
  if (kind === 'InfobloxIPPool') {
    if (!instance) throw new Error('an InfobloxIPPool needs an instance');
    if (!network.subnet) throw new Error(`${network.path}: an InfobloxIPPool needs a cidr`);
    return { instance: { name: instance }, subnets: [network.subnet] };
  }
  const { addresses, prefix, gateway } = network.inCluster;
  return { addresses: [...addresses!], prefix: prefix!, ...(gateway ? { gateway } : {}) };
}

/** The spec fields the workflow writes; others (allocateReservedIPAddresses, networkView, ...) are left to admins. */
export const managedFields: Readonly<Record<PoolKind, readonly string[]>> = {
  InClusterIPPool: ['addresses', 'prefix', 'gateway'],
  InfobloxIPPool: ['instance', 'subnets'],
};

/** Whether `spec` has `desired`'s value for each of `fields` (absent where desired has none). */
export function specMatches(spec: object, desired: object, fields: readonly string[]): boolean {
  const get = (o: object, k: string) => (o as Record<string, unknown>)[k];
  return fields.every((k) => sameJSON(get(spec, k), get(desired, k)));
}

/** A merge patch of a pool's spec setting the managed fields to `desired`'s (null removes one `desired` has not). */
export function managedSpecPatch(desired: object, fields: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(fields.map((k) => [k, (desired as Record<string, unknown>)[k] ?? null]));
}

export interface Readiness {
  readonly ready: boolean;
  /** Why not, for a condition message; '' when ready. */
  readonly why: string;
}

/**
 * The contract with the providers: a pool is ready when its Ready condition is True for its current generation.
 * A condition without observedGeneration is taken at its word (it cannot be dated).
 */
export function poolReadiness(pool: ProviderPool): Readiness {
  const conditions: readonly Condition[] = pool.status?.conditions ?? [];
  const ready = conditions.find((c) => c.type === 'Ready');
  const what = `${pool.kind} ${pool.metadata.name}`;
  if (pool.metadata.deletionTimestamp) return { ready: false, why: `${what} is being deleted` };
  if (!ready) {
    const provider = pool.kind === 'InfobloxIPPool' ? 'ipam-infoblox' : 'in-cluster';
    return {
      ready: false,
      why: `waiting for ${what} to report Ready: no Ready condition yet (is the ${provider} provider running?)`,
    };
  }
  const observed = ready.observedGeneration ?? pool.status?.observedGeneration;
  if (observed !== undefined && observed !== pool.metadata.generation) {
    return { ready: false, why: `waiting for the provider to process ${what} generation ${pool.metadata.generation}` };
  }
  if (ready.status !== 'True') {
    return { ready: false, why: `${what} is not ready (${ready.reason}): ${ready.message}` };
  }
  return { ready: true, why: '' };
}

/** One providerData entry: a typed reference to the pool, as templates consume it (`addressesFromPools`). */
export function providerEntry(network: NetworkPlan, kind: PoolKind, ready: boolean): ProviderData {
  return { name: network.entry, config: { apiGroup: ipamGroup, kind, name: network.poolName }, ready };
}
