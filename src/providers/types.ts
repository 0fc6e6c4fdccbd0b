// What the IPAddressClaim controller needs from an IPAM provider (in-cluster and Infoblox). The controller does
// everything the Cluster API contract asks of any provider: finalizers, the IPAddress object, owner references,
// the claim's status, pause and deletion order. A provider says which pools it serves and whether a pool can
// allocate, allocates, adopts and releases, reports duplicates, says which events concern which claims, and keeps
// its own record of which address belongs to which claim.
import type { IPAddressClaim } from '../api/index.ts';
import type { KubeObject, ResourceType } from '../kube/index.ts';

/** IPAddressClaim.spec.poolRef */
export interface PoolRef {
  apiGroup: string;
  kind: string;
  name: string;
}

/** The part of an IPAddress's spec that the provider decides. */
export interface Allocation {
  address: string;
  prefix: number;
  gateway?: string;
}

/** The Ready=False reasons of the contract. */
export type FailureReason = 'AllocationFailed' | 'PoolNotReady' | 'PoolExhausted';

export type AllocateResult =
  | {
      allocated: Allocation;
      /** When the provider must look again though the claim is bound (a check of the address it could not finish). */
      retryAfterMs?: number;
    }
  | {
      failed: FailureReason;
      /** For the claim's Ready condition: which pool, and why, in words a user acts on. */
      message: string;
      /** When a retry may succeed without any event bringing the claim back (e.g. a grace period ends). */
      retryAfterMs?: number;
    };

export type PoolReadiness = { ready: true } | { ready: false; message: string };

/** A kind whose events concern claims: `map` names the claims (namespace/name) to reconcile again. */
export interface ClaimWakeup<T extends KubeObject = KubeObject> {
  type: ResourceType<T>;
  predicate?: (event: { type: string; object: T; old?: T }) => boolean;
  map: (obj: T) => { namespace: string; name: string }[];
}

export interface IPAMProvider {
  readonly name: string;
  /**
   * The pool kinds whose claims are this provider's (registry.ts); others are ignored. Also how a pool is read from
   * the API (pause is checked against the API server, not a cache).
   */
  readonly poolTypes: readonly ResourceType<KubeObject>[];
  /** The pool a claim names, from the cache; undefined if it does not exist. It owns the claim's IPAddress. */
  pool(claim: IPAddressClaim): KubeObject | undefined;
  /**
   * What else should bring claims back (their pool changed, an address was freed, ...), beyond the claim, its
   * IPAddress and its Cluster, which the controller follows itself.
   */
  wakeups(): ClaimWakeup[];
  /**
   * The handler of one reconcile of `claim`, bound to it and to `pool`, the pool that reconcile read (from the API
   * unless the claim is settled; undefined once the pool is gone): no step of the reconcile can be handed another
   * (a cached, superseded) pool. Once the claim's metadata is written the reconcile goes on with a new handler of the
   * claim as written and the same pool.
   */
  handler(claim: IPAddressClaim, pool: KubeObject | undefined): ClaimHandler;
}

/**
 * One reconcile's dealings with a provider for one claim and one pool (see IPAMProvider.handler). Only `release`
 * works without the pool; the others throw then.
 */
export interface ClaimHandler {
  /** Whether the pool can hand out addresses at all (valid, not being deleted). */
  readiness(): PoolReadiness;
  /**
   * Annotations the claim must carry before its address is allocated (the Infoblox host name, which must not change
   * between allocation and release); undefined when it carries them, or when they cannot be decided yet (then
   * `ensureAddress` says why). The controller writes them, in one patch with the finalizer when that is missing too,
   * and goes on with a handler of the claim as written.
   */
  annotations(signal: AbortSignal): Promise<Record<string, string> | undefined>;
  /**
   * The claim's address. Idempotent per claim: until released, a claim gets the same allocation every time.
   * `existing` is the allocation of an IPAddress already written for the claim: the provider must record it as the
   * claim's (or fail with AllocationFailed if the address belongs to someone else), never change it.
   */
  ensureAddress(existing: Allocation | undefined, signal: AbortSignal): Promise<AllocateResult>;
  /**
   * Whether others hold the claim's allocated address too (in the same address domain), in words naming them;
   * undefined when the claim is its only holder. Never true of a correct system; reported, never acted upon.
   */
  duplicates(allocation: Allocation): string | undefined;
  /**
   * Called before the claim's IPAddress is deleted, with its allocation: whatever must hold the address once the
   * IPAddress no longer does (the in-cluster grace period) is written now. Throws while it cannot be: the IPAddress
   * stays and the release is retried.
   */
  retain(allocation: Allocation, signal: AbortSignal): Promise<void>;
  /**
   * Gives the claim's address back. Called after the claim's IPAddress is gone, with its allocation if it existed.
   * Idempotent, also when the pool no longer exists. Throws while the release cannot be done (the appliance is
   * unreachable, ...): the claim keeps its finalizer, says why, and the release is retried.
   */
  release(allocation: Allocation | undefined, signal: AbortSignal): Promise<void>;
}

/** The pool a handler was built with, for the steps that need one. */
export function presentPool<T extends KubeObject>(pool: T | undefined, claim: IPAddressClaim): T {
  if (pool) return pool;
  const ref = claim.spec.poolRef;
  throw new Error(
    `${ref.kind} ${ref.name} of IPAddressClaim ${claim.metadata.namespace}/${claim.metadata.name} is gone`,
  );
}
