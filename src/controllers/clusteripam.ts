// ClusterIPAM: once its claim is admitted (valid, no blocking overlap), creates and updates the provider pool of each
// of the claim's address spaces (owned by the claim), deletes pools it no longer needs, and reports providerData and
// phase: Bound when every pool is Ready at its provider for its current generation.
import {
  addressDomainAnnotation,
  ClusterIPAMClaims,
  ClusterIPAMs,
  InClusterIPPools,
  InfobloxInstances,
  InfobloxIPPools,
  ipamGroup,
  type ClusterIPAMClaim,
  type InClusterIPPool,
  type InfobloxIPPool,
  type ProviderData,
} from '../api/index.ts';
import { isAlreadyExists, isNotFound, type ResourceClient } from '../kube/index.ts';
import {
  chooseInstance,
  Conditions,
  controlledBy,
  desiredPoolSpec,
  infobloxInstanceAnnotation,
  managedFields,
  planOf,
  poolKindFor,
  poolReadiness,
  providerEntry,
  Reasons,
  specMatches,
  managedSpecPatch,
  type NetworkPlan,
  type PoolKind,
  type ProviderPool,
} from '../ipam/index.ts';
import {
  controllerRef,
  type ConditionInput,
  type ControllerSetup,
  type Request,
  type Result,
  tolerateRaces,
} from '../runtime/index.ts';
import {
  controllerIndex,
  currentCondition,
  ensureIndex,
  nsKey,
  refusal,
  watch,
  writeStatus,
} from './clusteripam-shared.ts';
import { poolLookup } from './clusteripamclaim.ts';
import { claimRefOf, defaultInfobloxInstance } from './coexistence.ts';

export interface ClusterIPAMControllerOptions {
  /**
   * The InfobloxInstance for claims that name none, when several exist. Defaults to the manager's
   * (`--default-infoblox-instance`, else the environment variable CLUSTER_IPAM_DEFAULT_INFOBLOX_INSTANCE).
   */
  defaultInfobloxInstance?: string;
}

const poolsByClaim = 'clusteripam.pools-by-claim';

/**
 * The annotation a claim's pool should have (merged into the pool's others): the claim's address domain, so the
 * provider puts the pool where the claim's overlap check counted it. Undefined when there is nothing to set.
 */
function poolAnnotations(claim: ClusterIPAMClaim, pool: ProviderPool | undefined): Record<string, string> | undefined {
  const domain = claim.metadata.annotations?.[addressDomainAnnotation];
  if (domain === undefined || pool?.metadata.annotations?.[addressDomainAnnotation] === domain) return undefined;
  return { [addressDomainAnnotation]: domain };
}

/** A pool write the API server refused: the reason for the conditions, and what it said. */
interface Refused {
  readonly reason: string;
  readonly message: string;
}

/** The claim has been checked at its current generation and may use its addresses; or why not. */
function admission(claim: ClusterIPAMClaim): { admitted: boolean; pending: boolean; message: string } {
  const valid = currentCondition(claim, Conditions.Valid);
  const available = currentCondition(claim, Conditions.AddressSpaceAvailable);
  if (!valid || !available) return { admitted: false, pending: true, message: '' };
  const refused = [valid, available].find((c) => c.status !== 'True');
  return refused
    ? { admitted: false, pending: false, message: `${refused.reason}: ${refused.message}` }
    : { admitted: true, pending: false, message: '' };
}

export function clusterIPAMController(opts: ClusterIPAMControllerOptions = {}): ControllerSetup {
  return {
    name: 'clusteripam',
    setup(mgr) {
      const defaultInstance = opts.defaultInfobloxInstance ?? defaultInfobloxInstance(mgr);
      const cipams = mgr.informer(ClusterIPAMs);
      const claims = mgr.informer(ClusterIPAMClaims);
      const instances = mgr.informer(InfobloxInstances);
      const inCluster = mgr.informer(InClusterIPPools);
      const infoblox = mgr.informer(InfobloxIPPools);
      ensureIndex(inCluster, poolsByClaim, controllerIndex('ClusterIPAMClaim'));
      ensureIndex(infoblox, poolsByClaim, controllerIndex('ClusterIPAMClaim'));
      const poolNamed = poolLookup(mgr);
      const client = mgr.client.resource(ClusterIPAMs);
      const poolClients = {
        InClusterIPPool: mgr.client.resource(InClusterIPPools) as ResourceClient<ProviderPool>,
        InfobloxIPPool: mgr.client.resource(InfobloxIPPools) as ResourceClient<ProviderPool>,
      };
      const recorder = mgr.eventRecorder('cluster-ipam');

      const pending = (reason: string, message: string): ConditionInput => ({
        type: Conditions.Ready,
        status: 'False',
        reason,
        message,
      });

      /** Creates or updates one pool; a condition when it cannot, and the API server's refusal if it refused. */
      async function ensurePool(
        claim: ClusterIPAMClaim,
        kind: PoolKind,
        network: NetworkPlan,
        instance: string | undefined,
      ): Promise<{ problem?: ConditionInput; refused?: Refused }> {
        const desired = desiredPoolSpec(kind, network, instance);
        const existing = poolNamed(kind, claim.metadata.namespace, network.poolName);
        const what = `${kind} ${network.poolName}`;
        const annotations = poolAnnotations(claim, existing);
        const refused = (err: unknown, reason: string, verb: string) => {
          const said = refusal(err);
          if (said === undefined) throw err;
          const message = `the API server refused to ${verb} ${what}: ${said}`;
          return { problem: pending(reason, message), refused: { reason, message } };
        };
        if (!existing) {
          const pool = {
            apiVersion: `${ipamGroup}/${kind === 'InfobloxIPPool' ? 'v1alpha1' : 'v1alpha2'}`,
            kind,
            metadata: {
              name: network.poolName,
              namespace: claim.metadata.namespace,
              ownerReferences: [controllerRef(claim)],
              ...(annotations ? { annotations } : {}),
            },
            spec: desired,
          } as ProviderPool;
          try {
            await poolClients[kind].create(pool);
          } catch (err) {
            if (isAlreadyExists(err)) return {}; // the cache lags: its event brings us back
            return refused(err, Reasons.PoolCreateRefused, 'create');
          }
          return {};
        }
        if (!controlledBy(existing, claim.metadata.uid)) {
          const ofClaim = existing.metadata.ownerReferences?.some((r) => r.controller && r.kind === 'ClusterIPAMClaim');
          return {
            problem:
              ofClaim && existing.metadata.deletionTimestamp
                ? pending(Reasons.PoolDeleting, `${what} of an earlier claim of this name is being deleted`)
                : pending(Reasons.PoolNameTaken, `${what} exists and is not owned by this claim: rename one of them`),
          };
        }
        if (existing.metadata.deletionTimestamp) {
          // Its finalizer holds it while machines still have addresses from it; it is recreated once gone.
          return { problem: pending(Reasons.PoolDeleting, `${what} is being deleted; it is recreated once gone`) };
        }
        const fields = managedFields[kind];
        if (!specMatches(existing.spec, desired, fields) || annotations) {
          // Only what the workflow manages; the resourceVersion read keeps it from racing another writer of them.
          const metadata = {
            resourceVersion: existing.metadata.resourceVersion,
            ...(annotations ? { annotations } : {}),
          };
          const patch = { metadata, spec: managedSpecPatch(desired, fields) };
          try {
            await poolClients[kind].patch({ namespace: claim.metadata.namespace, name: network.poolName }, patch);
          } catch (err) {
            return refused(err, Reasons.PoolUpdateRefused, 'update');
          }
        }
        return {};
      }

      /** Deletes the claim's pools it no longer asks for; the API server's refusals. */
      async function deleteUnwanted(claim: ClusterIPAMClaim, wanted: ReadonlySet<string>): Promise<Refused[]> {
        const ns = claim.metadata.namespace;
        const key = nsKey(ns, claim.metadata.name ?? '');
        const owned = [...inCluster.byIndex(poolsByClaim, key), ...infoblox.byIndex(poolsByClaim, key)];
        const refusals: Refused[] = [];
        for (const pool of owned as (InClusterIPPool | InfobloxIPPool)[]) {
          if (wanted.has(`${pool.kind}/${pool.metadata.name}`) || pool.metadata.deletionTimestamp) continue;
          if (!controlledBy(pool, claim.metadata.uid)) continue;
          try {
            await poolClients[pool.kind as PoolKind].delete(
              { namespace: ns, name: pool.metadata.name ?? '' },
              { preconditions: { uid: pool.metadata.uid } },
            );
          } catch (err) {
            if (isNotFound(err)) continue;
            const said = refusal(err);
            if (said === undefined) throw err;
            const message =
              `the API server refused to delete ${pool.kind} ${pool.metadata.name}, which the claim no longer asks ` +
              `for: ${said}`;
            refusals.push({ reason: Reasons.PoolDeleteRefused, message });
          }
        }
        return refusals;
      }

      async function reconcile(req: Request): Promise<Result | void> {
        const cipam = cipams.get(req);
        if (!cipam || cipam.metadata.deletionTimestamp) return;
        const ns = cipam.metadata.namespace;
        const claimName = claimRefOf(cipam.spec) || cipam.metadata.name || '';
        const claim = claims.get(nsKey(ns, claimName));
        const setPhase = (ready: ConditionInput, providerData?: ProviderData[]) =>
          writeStatus(client, recorder, cipam, [ready], {
            phase: ready.status === 'True' ? 'Bound' : 'Pending',
            ...(providerData ? { providerData } : {}),
          });
        if (!claim || !controlledBy(cipam, claim.metadata.uid)) {
          await setPhase(pending(Reasons.ClaimNotFound, `ClusterIPAMClaim ${claimName} not found`));
          return;
        }
        const gate = admission(claim);
        if (gate.pending) return; // the claim's controller has not judged this generation yet: its status event returns us
        if (!gate.admitted) {
          await setPhase(
            pending(Reasons.ClaimNotAdmitted, `ClusterIPAMClaim ${claimName} is not admitted: ${gate.message}`),
          );
          return;
        }

        const plan = planOf(claim);
        const kind = poolKindFor(plan.provider);
        let instance: string | undefined;
        if (kind === 'InfobloxIPPool') {
          const node = plan.networks[0] && poolNamed(kind, ns, plan.networks[0].poolName);
          const choice = chooseInstance({
            annotation: claim.metadata.annotations?.[infobloxInstanceAnnotation],
            current:
              node && controlledBy(node, claim.metadata.uid) ? (node as InfobloxIPPool).spec.instance.name : undefined,
            defaultInstance,
            instances: instances.list().map((i) => i.metadata.name ?? ''),
          });
          if (!choice.name) {
            await setPhase(pending(choice.reason, choice.message));
            return;
          }
          instance = choice.name;
        }

        const problems: ConditionInput[] = [];
        const refusals: Refused[] = [];
        for (const network of plan.networks) {
          const { problem, refused } = await ensurePool(claim, kind, network, instance);
          if (problem) problems.push(problem);
          if (refused) refusals.push(refused);
        }
        // Pools the claim no longer asks for (a network removed, the provider changed) go; their finalizers keep
        // them while machines still hold addresses from them, and the pools' webhook may refuse the delete.
        refusals.push(...(await deleteUnwanted(claim, new Set(plan.networks.map((n) => `${kind}/${n.poolName}`)))));

        const readiness = plan.networks.map((n) => {
          const pool = poolNamed(kind, ns, n.poolName);
          const ok =
            pool &&
            controlledBy(pool, claim.metadata.uid) &&
            specMatches(pool.spec, desiredPoolSpec(kind, n, instance), managedFields[kind]) &&
            !poolAnnotations(claim, pool);
          return {
            n,
            r: ok ? poolReadiness(pool) : { ready: false, why: `waiting for ${kind} ${n.poolName} to be written` },
          };
        });
        const providerData = readiness.map(({ n, r }) => providerEntry(n, kind, r.ready));
        const notReady = readiness.filter(({ r }) => !r.ready);
        const ready: ConditionInput =
          problems[0] ??
          (notReady.length > 0
            ? pending(Reasons.PoolNotReady, notReady.map(({ r }) => r.why).join('; '))
            : {
                type: Conditions.Ready,
                status: 'True',
                reason: Reasons.Bound,
                message: `every pool is ready: ${readiness.map(({ n }) => `${n.entry} = ${kind} ${n.poolName}`).join(', ')}`,
              });
        const synced: ConditionInput = refusals[0]
          ? {
              type: Conditions.PoolsSynced,
              status: 'False',
              reason: refusals[0].reason,
              message: refusals.map((r) => r.message).join('; '),
            }
          : {
              type: Conditions.PoolsSynced,
              status: 'True',
              reason: Reasons.PoolsSynced,
              message: 'the API server took every pool write',
            };
        await writeStatus(client, recorder, cipam, [ready, synced], {
          phase: ready.status === 'True' ? 'Bound' : 'Pending',
          providerData,
        });
        // A refusal stands until something changes (allocations released, the claim edited back): retry with the
        // work queue's backoff, and events of the pool or claim bring us back sooner.
        return refusals.length > 0 ? { requeue: true } : undefined;
      }

      mgr.addController({
        name: 'clusteripam',
        for: ClusterIPAMs,
        watches: [
          watch(ClusterIPAMClaims, (c) => [{ namespace: c.metadata.namespace ?? '', name: c.metadata.name ?? '' }]),
          ...[InClusterIPPools, InfobloxIPPools].map((type) =>
            watch(type as typeof InClusterIPPools, (p) =>
              controllerIndex('ClusterIPAMClaim')(p).map((key) => {
                const [namespace = '', name = ''] = key.split('/');
                return { namespace, name };
              }),
            ),
          ),
          watch(InfobloxInstances, () =>
            cipams
              .list()
              .filter((c) => c.spec.provider === 'ipam-infoblox')
              .map((c) => ({ namespace: c.metadata.namespace ?? '', name: c.metadata.name ?? '' })),
          ),
        ],
        reconcile: tolerateRaces((req) => reconcile(req)),
      });
    },
  };
}

/** With the default options (the default Infoblox instance from the environment). */
export const clusterIPAMControllerSetup: ControllerSetup = clusterIPAMController();
