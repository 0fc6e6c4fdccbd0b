// ClusterIPAMClaim: validates the claim, admits its address spaces (no overlap with other claims or pools), creates
// its ClusterIPAM, writes spec.clusterIPAMRef and mirrors status.bound. Protects a claim that a live ClusterDeployment
// still uses from deletion. Decisions are src/ipam's; this file reads the cache and writes.
import {
  addressDomain,
  ClusterDeployments,
  ClusterIPAMClaims,
  ClusterIPAMs,
  domainTitle,
  GlobalInClusterIPPools,
  globalDomain,
  InClusterIPPools,
  InfobloxIPPools,
  type AddressDomain,
  type ClusterIPAM,
  type ClusterIPAMClaim,
} from '../api/index.ts';
import { isAlreadyExists } from '../kube/index.ts';
import {
  attachment,
  claimHolder,
  claimInUseFinalizer,
  Conditions,
  controlledBy,
  describeConflicts,
  describeIssues,
  holderTitle,
  judge,
  overlaps,
  allowOverlapAnnotation,
  allowsOverlap,
  planOf,
  poolHolder,
  poolKindFor,
  poolReadiness,
  Reasons,
  representedBy,
  type AnyPool,
  type Holder,
  type ProviderPool,
  type Verdict,
} from '../ipam/index.ts';
import {
  addFinalizer,
  controllerRef,
  hasFinalizer,
  removeFinalizer,
  type ConditionInput,
  type ControllerSetup,
  type Manager,
  type Request,
  tolerateRaces,
} from '../runtime/index.ts';
import { ensureIndex, nsKey, watch, writeStatus } from './clusteripam-shared.ts';
import { claimRefOf, settingsOf } from './coexistence.ts';

/** Deployments by `namespace/claim` they attach (by ref, or the inline claim they manage). */
export const deploymentsByClaim = 'clusteripam.claim';

export function indexDeploymentsByClaim(mgr: Manager) {
  const deployments = mgr.informer(ClusterDeployments);
  ensureIndex(deployments, deploymentsByClaim, (d) => {
    const a = attachment(d);
    return a.mode === 'none' ? [] : [nsKey(d.metadata.namespace, a.claim)];
  });
  return deployments;
}

/** Claims and pools by address domain (src/api/domains.ts). */
export const byDomain = 'clusteripam.domain';

/** How the claim and ClusterIPAM controllers find pools: by kind and `namespace/name`. */
export function poolLookup(mgr: Manager) {
  const inCluster = mgr.informer(InClusterIPPools);
  const infoblox = mgr.informer(InfobloxIPPools);
  return (kind: string, namespace: string | undefined, name: string): ProviderPool | undefined =>
    kind === 'InfobloxIPPool' ? infoblox.get(nsKey(namespace, name)) : inCluster.get(nsKey(namespace, name));
}

export const clusterIPAMClaimController: ControllerSetup = {
  name: 'clusteripamclaim',
  setup(mgr) {
    const claims = mgr.informer(ClusterIPAMClaims);
    const cipams = mgr.informer(ClusterIPAMs);
    const inCluster = mgr.informer(InClusterIPPools);
    const infoblox = mgr.informer(InfobloxIPPools);
    const global = mgr.informer(GlobalInClusterIPPools);
    const deployments = indexDeploymentsByClaim(mgr);
    const poolNamed = poolLookup(mgr);
    const client = mgr.client.resource(ClusterIPAMClaims);
    const cipamClient = mgr.client.resource(ClusterIPAMs);
    const recorder = mgr.eventRecorder('cluster-ipam');

    const domainOf = (obj: AnyPool | ClusterIPAMClaim) => [addressDomain(obj)];
    ensureIndex(claims, byDomain, domainOf);
    ensureIndex(inCluster, byDomain, domainOf);
    ensureIndex(infoblox, byDomain, domainOf);
    ensureIndex(global, byDomain, domainOf);

    const holderOf = (claim: ClusterIPAMClaim): Holder | undefined =>
      claimHolder(claim, (kind, name) => poolNamed(kind, claim.metadata.namespace, name));

    /**
     * Claims and pools whose addresses can conflict with those of `domain`: its own members (in any namespace, for a
     * named domain) and the global domain's; every one for the global domain (see domainsMeet in src/ipam).
     */
    function inReach(domain: AddressDomain): { claims: ClusterIPAMClaim[]; pools: AnyPool[] } {
      const pools = [inCluster, infoblox, global] as const;
      if (domain === globalDomain) {
        return { claims: claims.list(), pools: pools.flatMap((i) => i.list() as AnyPool[]) };
      }
      const domains = [domain, globalDomain];
      return {
        claims: domains.flatMap((d) => claims.byIndex(byDomain, d)),
        pools: domains.flatMap((d) => pools.flatMap((i) => i.byIndex(byDomain, d) as AnyPool[])),
      };
    }

    /** Everyone else who could hold the claim's addresses: claims, and pools no valid claim stands for. */
    function othersOf(claim: ClusterIPAMClaim, domain: AddressDomain): Holder[] {
      const reach = inReach(domain);
      const ownerOf = (p: AnyPool) => {
        const ref = p.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'ClusterIPAMClaim');
        const owner = ref && claims.get(nsKey(p.metadata.namespace, ref.name));
        return owner?.metadata.uid === ref?.uid ? owner : undefined;
      };
      return [
        ...reach.claims.filter((c) => c.metadata.uid !== claim.metadata.uid).map(holderOf),
        ...reach.pools
          .filter((p) => !controlledBy(p, claim.metadata.uid) && !representedBy(p, ownerOf(p)))
          .map(poolHolder),
      ].filter((h): h is Holder => h !== undefined);
    }

    // An event about `holder` concerns the claims whose addresses it overlaps, in any namespace its domain reaches:
    // precedence may have changed.
    const overlappingClaims = (obj: AnyPool | ClusterIPAMClaim, holder: Holder | undefined): Request[] => {
      if (!holder) return [];
      return inReach(holder.domain)
        .claims.filter((c) => c.metadata.uid !== obj.metadata.uid)
        .filter((c) => {
          const h = claimHolder(c);
          return h !== undefined && overlaps(h, holder);
        })
        .map((c) => ({ namespace: c.metadata.namespace ?? '', name: c.metadata.name ?? '' }));
    };
    const poolEvent = (pool: AnyPool): Request[] => {
      const owner = pool.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'ClusterIPAMClaim');
      const own = owner ? [{ namespace: pool.metadata.namespace ?? '', name: owner.name }] : [];
      return [...own, ...overlappingClaims(pool, poolHolder(pool))];
    };

    // A pool has no status of ours to carry the overlap: tell its owner with an Event, once per change.
    function reportOnPools(claim: ClusterIPAMClaim, conflicts: Verdict['conflicts'], before: string | undefined) {
      const subject = { namespace: claim.metadata.namespace };
      for (const c of conflicts) {
        const title = holderTitle(subject, c.other);
        if (c.other.kind === 'ClusterIPAMClaim' || before?.includes(`${title} `)) continue;
        const pool =
          c.other.kind === 'GlobalInClusterIPPool'
            ? global.get(c.other.name)
            : poolNamed(c.other.kind, c.other.namespace, c.other.name);
        if (!pool) continue;
        const outcome = c.first
          ? 'the claim came first'
          : allowsOverlap(claim)
            ? 'the claim allows overlap and binds anyway'
            : 'this pool keeps these addresses; the claim is not bound';
        const domains = c.crossDomain
          ? ` (different address domains: this pool's is ${domainTitle(c.other.domain)}, the claim's ` +
            `${domainTitle(addressDomain(claim))}; the same address can be handed out twice)`
          : '';
        const message =
          `${c.otherPath} overlaps ClusterIPAMClaim ${claim.metadata.namespace}/${claim.metadata.name} ${c.path} ` +
          `(${c.shared})${domains}: ${outcome}`;
        recorder.event(pool, 'Warning', Reasons.Overlap, message);
      }
    }

    async function finalize(claim: ClusterIPAMClaim): Promise<void> {
      if (!hasFinalizer(claim, claimInUseFinalizer)) return;
      const users = deployments
        .byIndex(deploymentsByClaim, nsKey(claim.metadata.namespace, claim.metadata.name ?? ''))
        .filter((d) => !d.metadata.deletionTimestamp)
        .map((d) => d.metadata.name)
        .sort();
      if (users.length === 0) {
        await removeFinalizer(client, claim, claimInUseFinalizer);
        return;
      }
      await writeStatus(client, recorder, claim, [
        {
          type: Conditions.Ready,
          status: 'False',
          reason: Reasons.DeletionBlocked,
          message:
            `deletion waits until no ClusterDeployment uses this claim; still used by ${users.join(', ')} ` +
            `(spec.ipamClaim): delete ${users.length === 1 ? 'it' : 'them'} or point spec.ipamClaim elsewhere`,
        },
      ]);
    }

    /** Creates the ClusterIPAM, or says why it cannot; returns it when it is this claim's. */
    async function ensureClusterIPAM(
      claim: ClusterIPAMClaim,
    ): Promise<{ cipam: ClusterIPAM | undefined; blocked?: ConditionInput }> {
      const name = claim.metadata.name ?? '';
      const provider = claim.spec.provider;
      const cipam = cipams.get(nsKey(claim.metadata.namespace, name));
      if (!cipam) {
        try {
          const created = await cipamClient.create({
            apiVersion: 'k0rdent.mirantis.com/v1beta1',
            kind: 'ClusterIPAM',
            metadata: { name, namespace: claim.metadata.namespace, ownerReferences: [controllerRef(claim)] },
            // The claim field the served ClusterIPAM CRD has: the guide's plural, or kcm's singular.
            spec: { provider, [settingsOf(mgr).claimRefField]: name },
          });
          return { cipam: created };
        } catch (err) {
          if (isAlreadyExists(err)) return { cipam: undefined }; // the cache lags: its event brings us back
          throw err;
        }
      }
      if (!controlledBy(cipam, claim.metadata.uid)) {
        const previous = cipam.metadata.ownerReferences?.some((r) => r.controller && r.kind === 'ClusterIPAMClaim');
        return {
          cipam: undefined,
          blocked: previous
            ? {
                type: Conditions.Ready,
                status: 'False',
                reason: Reasons.WaitingForClusterIPAM,
                message: `ClusterIPAM ${name} belongs to an earlier claim of this name; waiting for it to be deleted`,
              }
            : {
                type: Conditions.Ready,
                status: 'False',
                reason: Reasons.ClusterIPAMNameTaken,
                message: `ClusterIPAM ${name} exists and is not owned by this claim: delete it or rename the claim`,
              },
        };
      }
      if (cipam.spec.provider !== provider || claimRefOf(cipam.spec) !== name) {
        const updated = await cipamClient.patch(
          { namespace: cipam.metadata.namespace, name },
          {
            metadata: { resourceVersion: cipam.metadata.resourceVersion },
            spec: { provider, [settingsOf(mgr).claimRefField]: name },
          },
        );
        return { cipam: updated };
      }
      return { cipam };
    }

    /** Bound (True) or why not, once the ClusterIPAM exists. */
    function binding(claim: ClusterIPAMClaim, cipam: ClusterIPAM | undefined, holder: Holder): ConditionInput {
      const name = claim.metadata.name;
      const plan = planOf(claim);
      const kind = poolKindFor(plan.provider);
      const pools = plan.networks.map((n) => ({ n, pool: poolNamed(kind, claim.metadata.namespace, n.poolName) }));
      const unready = pools.map(({ pool }) => (pool ? poolReadiness(pool) : undefined)).filter((r) => !r?.ready);
      const cipamReady = cipam?.status?.conditions?.find((c) => c.type === Conditions.Ready);
      if (cipam?.status?.phase === 'Bound' && holder.holds && unready.length === 0) {
        const list = pools.map(({ n }) => `${n.entry} = ${kind} ${n.poolName} (${n.pool.usable.size} usable)`);
        return {
          type: Conditions.Ready,
          status: 'True',
          reason: Reasons.Bound,
          message: `ClusterIPAM ${name} is Bound: ${list.join(', ')}`,
        };
      }
      if (cipamReady && cipamReady.status === 'False') {
        return { type: Conditions.Ready, status: 'False', reason: cipamReady.reason, message: cipamReady.message };
      }
      const why = unready.map((r) => r?.why).filter(Boolean);
      return {
        type: Conditions.Ready,
        status: 'False',
        reason: Reasons.WaitingForClusterIPAM,
        message: `waiting for ClusterIPAM ${name} to provision its ${kind}s${why.length ? `: ${why.join('; ')}` : ''}`,
      };
    }

    async function reconcile(req: Request): Promise<void> {
      const cached = claims.get(req);
      if (!cached) return;
      if (cached.metadata.deletionTimestamp) return finalize(cached);
      let claim = await addFinalizer(client, cached, claimInUseFinalizer);

      const plan = planOf(claim);
      if (plan.errors.length > 0) {
        const message = describeIssues(plan.errors);
        await writeStatus(
          client,
          recorder,
          claim,
          [
            { type: Conditions.Valid, status: 'False', reason: Reasons.InvalidSpec, message },
            {
              type: Conditions.AddressSpaceAvailable,
              status: 'Unknown',
              reason: Reasons.InvalidSpec,
              message: 'not checked: the spec is invalid',
            },
            { type: Conditions.Ready, status: 'False', reason: Reasons.InvalidSpec, message },
          ],
          { bound: false },
        );
        return;
      }
      const valid: ConditionInput = plan.warnings.length
        ? {
            type: Conditions.Valid,
            status: 'True',
            reason: Reasons.ValidWithWarnings,
            message: describeIssues(plan.warnings),
          }
        : { type: Conditions.Valid, status: 'True', reason: Reasons.Valid, message: 'the address spaces are valid' };

      const holder = holderOf(claim)!;
      const verdict = judge(holder, othersOf(claim, holder.domain));
      const reported = claim.status?.conditions?.find((c) => c.type === Conditions.AddressSpaceAvailable)?.message;
      const text = describeConflicts(holder, verdict, allowOverlapAnnotation);
      const available: ConditionInput = verdict.blocked
        ? { type: Conditions.AddressSpaceAvailable, status: 'False', reason: Reasons.Overlap, message: text }
        : verdict.conflicts.length === 0
          ? {
              type: Conditions.AddressSpaceAvailable,
              status: 'True',
              reason: Reasons.NoOverlap,
              message:
                holder.domain === globalDomain
                  ? `no other claim or pool overlaps these addresses (${domainTitle(holder.domain)})`
                  : `no other claim or pool of ${domainTitle(holder.domain)}, and no global pool, overlaps these addresses`,
            }
          : {
              type: Conditions.AddressSpaceAvailable,
              status: 'True',
              reason: verdict.conflicts.some((c) => !c.first) ? Reasons.OverlapAllowed : Reasons.HoldsAddressSpace,
              message: text,
            };
      if (verdict.blocked) {
        await writeStatus(
          client,
          recorder,
          claim,
          [valid, available, { type: Conditions.Ready, status: 'False', reason: Reasons.Overlap, message: text }],
          { bound: false },
        );
        reportOnPools(claim, verdict.conflicts, reported);
        return;
      }
      reportOnPools(claim, verdict.conflicts, reported);

      const { cipam, blocked } = await ensureClusterIPAM(claim);
      if (cipam && claim.spec.clusterIPAMRef !== cipam.metadata.name) {
        claim = await client.patch(req, {
          metadata: { resourceVersion: claim.metadata.resourceVersion },
          spec: { clusterIPAMRef: cipam.metadata.name },
        });
      }
      const ready = blocked ?? binding(claim, cipam, holder);
      await writeStatus(client, recorder, claim, [valid, available, ready], { bound: ready.status === 'True' });
    }

    mgr.addController({
      name: 'clusteripamclaim',
      for: ClusterIPAMClaims,
      owns: [ClusterIPAMs],
      watches: [
        watch(ClusterIPAMClaims, (c) => overlappingClaims(c, claimHolder(c))),
        watch(InClusterIPPools, poolEvent),
        watch(InfobloxIPPools, poolEvent),
        watch(GlobalInClusterIPPools, (p) => overlappingClaims(p, poolHolder(p))),
        watch(ClusterDeployments, (d) => {
          const a = attachment(d);
          return a.mode === 'none' ? [] : [{ namespace: d.metadata.namespace ?? '', name: a.claim }];
        }),
      ],
      reconcile: tolerateRaces((req) => reconcile(req)),
    });
  },
};
