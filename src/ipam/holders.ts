// Claims and pools seen as holders of address spaces, for the overlap check. Pure; plans are memoised per object,
// which works because cached objects are immutable and replaced on every change.
import {
  addressDomain,
  domainIssue,
  type ClusterIPAMClaim,
  type GlobalInClusterIPPool,
  type InClusterIPPool,
  type InfobloxIPPool,
} from '../api/index.ts';
import { IntervalSet, parseCidr, validatePool, type Family } from '../core/index.ts';
import { planClaim, type ClaimPlan, type NetworkPlan } from './claim.ts';
import type { Holder } from './conflicts.ts';
import { sameJSON } from '../api/index.ts';
import { allowOverlapAnnotation } from './kinds.ts';
import { desiredPoolSpec, managedFields, poolKindFor, specMatches, type ProviderPool } from './pools.ts';

export type AnyPool = InClusterIPPool | GlobalInClusterIPPool | InfobloxIPPool;

const plans = new WeakMap<ClusterIPAMClaim, ClaimPlan>();

/** The claim's plan; an invalid address-domain annotation makes it invalid too (its pools would be refused). */
export function planOf(claim: ClusterIPAMClaim): ClaimPlan {
  let plan = plans.get(claim);
  if (!plan) {
    plan = planClaim(claim.metadata.name ?? '', claim.spec);
    const issue = domainIssue(claim);
    if (issue) plan = { ...plan, networks: [], errors: [...plan.errors, issue] };
    plans.set(claim, plan);
  }
  return plan;
}

export const allowsOverlap = (claim: ClusterIPAMClaim): boolean =>
  claim.metadata.annotations?.[allowOverlapAnnotation] === 'true';

/** Whether `pool` is the claim's (by uid: a pool of a deleted namesake is not) and serves `network` as planned. */
export function poolServes(pool: ProviderPool | undefined, claim: ClusterIPAMClaim, network: NetworkPlan): boolean {
  if (!pool || pool.metadata.deletionTimestamp || !controlledBy(pool, claim.metadata.uid)) return false;
  // The Infoblox instance is not part of the address space: choosing another one is no reason to give it up.
  if (pool.kind === 'InfobloxIPPool') return sameJSON((pool as InfobloxIPPool).spec.subnets, [network.subnet]);
  return specMatches(pool.spec, desiredPoolSpec('InClusterIPPool', network), managedFields.InClusterIPPool);
}

export function controlledBy(obj: { metadata: ClusterIPAMClaim['metadata'] }, uid: string | undefined): boolean {
  return uid !== undefined && (obj.metadata.ownerReferences ?? []).some((r) => r.controller && r.uid === uid);
}

/**
 * A valid claim as a holder; `holds` when each of its pools exists as planned (never without `poolNamed`, which is
 * enough to find who overlaps whom). Undefined for an invalid claim: it holds nothing.
 */
export function claimHolder(
  claim: ClusterIPAMClaim,
  poolNamed?: (kind: string, name: string) => ProviderPool | undefined,
): Holder | undefined {
  const plan = planOf(claim);
  if (plan.errors.length > 0) return undefined;
  const kind = poolKindFor(plan.provider);
  return {
    kind: 'ClusterIPAMClaim',
    name: claim.metadata.name ?? '',
    namespace: claim.metadata.namespace,
    domain: addressDomain(claim),
    createdAt: claim.metadata.creationTimestamp ?? '',
    holds: !!poolNamed && plan.networks.every((n) => poolServes(poolNamed(kind, n.poolName), claim, n)),
    infoblox: plan.provider === 'ipam-infoblox',
    allowOverlap: allowsOverlap(claim),
    spaces: plan.networks.map((n) => ({ path: n.path, set: n.pool.addresses })),
  };
}

/**
 * Whether a pool is already accounted for by the claim that controls it (`claim`, looked up by the pool's controller
 * reference): that claim is valid and the pool serves one of its networks as planned. Any other pool — hand-made,
 * left over from a claim edited or being deleted, still holding allocations — holds addresses in its own right.
 */
export function representedBy(pool: AnyPool, claim: ClusterIPAMClaim | undefined): boolean {
  if (!claim || pool.kind === 'GlobalInClusterIPPool') return false;
  const plan = planOf(claim);
  return plan.networks.some((n) => n.poolName === pool.metadata.name && poolServes(pool as ProviderPool, claim, n));
}

/** A pool as a holder (it holds its addresses by existing); undefined if its spec does not parse. */
export function poolHolder(pool: AnyPool): Holder | undefined {
  const base = {
    kind: pool.kind,
    name: pool.metadata.name ?? '',
    namespace: pool.metadata.namespace,
    domain: addressDomain(pool),
    createdAt: pool.metadata.creationTimestamp ?? '',
    holds: true,
    allowOverlap: false,
  };
  if (pool.kind === 'InfobloxIPPool') {
    const spaces: Holder['spaces'][number][] = [];
    (pool as InfobloxIPPool).spec.subnets.forEach((s, i) => {
      try {
        const c = parseCidr(s.cidr);
        spaces.push({ path: `spec.subnets[${i}]`, set: IntervalSet.fromRanges(c.family as Family, [c]) });
      } catch {
        // an unparsable subnet holds nothing; the Infoblox provider reports it
      }
    });
    return { ...base, infoblox: true, spaces };
  }
  const check = validatePool((pool as InClusterIPPool).spec);
  if (!check.pool) return undefined;
  return { ...base, infoblox: false, spaces: [{ path: 'spec.addresses', set: check.pool.addresses }] };
}
