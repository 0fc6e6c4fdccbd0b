// ClusterDeployment, IPAM part only: resolves the claim (by reference, or the inline claim it creates and owns),
// refuses a claim made for another cluster, checks that the node network holds the machines the config asks for,
// gates provisioning with the IPAMReady condition, and once bound merges ipamEnabled and the providerData entries
// into spec.config. The rest of ClusterDeployment belongs to other controllers.
import {
  addressDomain,
  sameJSON,
  ClusterDeployments,
  ClusterIPAMClaims,
  ClusterIPAMs,
  GlobalInClusterIPPools,
  InClusterIPPools,
  IPAddressClaims,
  IPAddresses,
  IPAddressLedgers,
  IPAddressReservations,
  type ClusterDeployment,
  type IPAddressClaim,
  type ClusterIPAMClaim,
  type IPAddress,
  type IPAddressReservation,
  type ProviderData,
} from '../api/index.ts';
import { formatAddress } from '../core/index.ts';
import { isAlreadyExists, isNotFound } from '../kube/index.ts';
import {
  attachment,
  checkEndpointConfig,
  checkNodeCapacity,
  Conditions,
  controlledBy,
  describeIssues,
  endpointClaimName,
  endpointExcludedMessage,
  endpointInNodeNetwork,
  endpointNetwork,
  eventFor,
  inlineClaimSpec,
  mergeIpamConfig,
  planClaim,
  planOf,
  poolReadiness,
  Reasons,
  type Attachment,
  type HeldByOthers,
  type NetworkPlan,
} from '../ipam/index.ts';
import { isInClusterPoolRef, poolKey, tryParseAddress } from '../providers/in-cluster/names.ts';
import { inClusterProvider } from '../providers/in-cluster/provider.ts';
import {
  controllerRef,
  findCondition,
  setCondition,
  setFields,
  type ConditionInput,
  type ControllerSetup,
  type Request,
  tolerateRaces,
} from '../runtime/index.ts';
import { controllerIndex, ensureIndex, nsKey, refusal, watch } from './clusteripam-shared.ts';
import { byDomain, deploymentsByClaim, indexDeploymentsByClaim } from './clusteripamclaim.ts';
import { claimRefOf } from './coexistence.ts';

const claimsByDeployment = 'clusterdeployment.claims';

/** The field manager of the IPAMReady condition (server-side apply): it owns that condition and nothing else. */
export const ipamReadyFieldManager = 'cluster-ipam-ipamready';

const notReady = (reason: string, message: string): ConditionInput => ({
  type: Conditions.IPAMReady,
  status: 'False',
  reason,
  message,
});

export const clusterDeploymentController: ControllerSetup = {
  name: 'clusterdeployment-ipam',
  setup(mgr) {
    const deployments = indexDeploymentsByClaim(mgr);
    const claims = mgr.informer(ClusterIPAMClaims);
    ensureIndex(claims, claimsByDeployment, controllerIndex('ClusterDeployment'));
    ensureIndex(claims, byDomain, (c) => [addressDomain(c)]);
    const cipams = mgr.informer(ClusterIPAMs);
    const inClusterPools = mgr.informer(InClusterIPPools);
    const globalPools = mgr.informer(GlobalInClusterIPPools);
    const provider = inClusterProvider(mgr);
    const ipClaims = mgr.informer(IPAddressClaims);
    const ipAddresses = mgr.informer(IPAddresses);
    const ipClaimClient = mgr.client.resource(IPAddressClaims);
    const poolClient = mgr.client.resource(InClusterIPPools);
    const client = mgr.client.resource(ClusterDeployments);
    const claimClient = mgr.client.resource(ClusterIPAMClaims);
    const recorder = mgr.eventRecorder('cluster-ipam');

    const isUsedByOthers = (claim: ClusterIPAMClaim, d: ClusterDeployment) =>
      deployments
        .byIndex(deploymentsByClaim, nsKey(claim.metadata.namespace, claim.metadata.name ?? ''))
        .some((o) => o.metadata.uid !== d.metadata.uid && !o.metadata.deletionTimestamp);

    /** The node network's addresses that other pools of the claim's address domain hold (in-cluster only). */
    function heldByOthers(claim: ClusterIPAMClaim, node: NetworkPlan): HeldByOthers | undefined {
      if (planOf(claim).provider !== 'in-cluster') return undefined; // Infoblox: the appliance decides
      const domain = addressDomain(claim);
      const own = poolKey('InClusterIPPool', claim.metadata.namespace, node.poolName);
      return { count: provider.takenByOthers(domain, node.pool.usable, [own]), domain };
    }

    /**
     * An address taken or released in a pool of `domain` changes what the claims of that domain whose node network
     * holds it can count on (unless the pool is the claim's own): their deployments' capacity check runs again.
     */
    function capacityConcerned(domain: string, text: string, pool: string): Request[] {
      const address = tryParseAddress(text);
      if (!address) return [];
      return claims
        .byIndex(byDomain, domain)
        .filter((c) => {
          const node = planOf(c).networks.find((n) => n.network === 'nodeNetwork');
          return (
            node !== undefined &&
            node.pool.usable.family === address.family &&
            node.pool.usable.has(address.value) &&
            poolKey('InClusterIPPool', c.metadata.namespace, node.poolName) !== pool
          );
        })
        .flatMap((c) => usersOf(c.metadata.namespace, c.metadata.name ?? ''));
    }
    const reservationEvent = (r: IPAddressReservation) =>
      capacityConcerned(
        r.spec.domain,
        r.spec.address,
        poolKey(r.spec.poolRef.kind, r.spec.poolRef.namespace, r.spec.poolRef.name),
      );
    // Reservations come and go with allocations; an IPAddress can predate its reservation (adoption, a move).
    const ipAddressEvent = (ipa: IPAddress) => {
      const ref = ipa.spec.poolRef;
      if (!isInClusterPoolRef(ref)) return [];
      const ns = ipa.metadata.namespace;
      const pool =
        ref.kind === 'GlobalInClusterIPPool' ? globalPools.get(ref.name) : inClusterPools.get(nsKey(ns, ref.name));
      return pool ? capacityConcerned(addressDomain(pool), ipa.spec.address, poolKey(ref.kind, ns, ref.name)) : [];
    };

    /** Inline claims this deployment made and no longer uses (ref renamed, spec removed) go with their pools. */
    async function deleteStale(d: ClusterDeployment, a: Attachment): Promise<void> {
      const keep = a.mode === 'none' ? undefined : a.claim;
      for (const claim of claims.byIndex(claimsByDeployment, nsKey(d.metadata.namespace, d.metadata.name ?? ''))) {
        if (claim.metadata.name === keep || claim.metadata.deletionTimestamp) continue;
        if (!controlledBy(claim, d.metadata.uid) || isUsedByOthers(claim, d)) continue;
        try {
          await claimClient.delete(
            { namespace: claim.metadata.namespace, name: claim.metadata.name ?? '' },
            { preconditions: { uid: claim.metadata.uid } },
          );
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        recorder.event(d, 'Normal', 'ClaimDeleted', `deleted ClusterIPAMClaim ${claim.metadata.name}, no longer used`);
      }
    }

    /** The inline claim, created or brought up to date; a condition when the inline spec cannot be used. */
    async function ensureInline(
      d: ClusterDeployment,
      a: Extract<Attachment, { mode: 'inline' }>,
    ): Promise<{ claim?: ClusterIPAMClaim; problem?: ConditionInput; note?: string }> {
      const name = d.metadata.name ?? '';
      const plan = planClaim(a.claim, inlineClaimSpec(name, a.spec), 'spec.ipamClaim.spec');
      if (plan.errors.length > 0) return { problem: notReady(Reasons.InvalidSpec, describeIssues(plan.errors)) };
      const claim = claims.get(nsKey(d.metadata.namespace, a.claim));
      if (!claim) {
        try {
          const created = await claimClient.create({
            apiVersion: 'k0rdent.mirantis.com/v1beta1',
            kind: 'ClusterIPAMClaim',
            metadata: { name: a.claim, namespace: d.metadata.namespace, ownerReferences: [controllerRef(d)] },
            spec: inlineClaimSpec(name, a.spec),
          });
          recorder.event(d, 'Normal', 'ClaimCreated', `created ClusterIPAMClaim ${a.claim} from spec.ipamClaim.spec`);
          return { claim: created };
        } catch (err) {
          if (isAlreadyExists(err)) return {}; // the cache lags: the claim's event brings us back
          throw err;
        }
      }
      if (!controlledBy(claim, d.metadata.uid)) {
        // Someone else's claim of that name: used by reference (so its cluster must be this one), never rewritten.
        return {
          claim,
          note: `spec.ipamClaim.spec is not applied: ClusterIPAMClaim ${a.claim} is not managed by this ClusterDeployment, so it is used by reference`,
        };
      }
      const desired = inlineClaimSpec(name, a.spec, claim.spec);
      if (sameJSON(claim.spec, desired) || claim.metadata.deletionTimestamp) return { claim };
      return { claim: await setFields(claimClient, claim, { '/spec': desired }) };
    }

    /** IPAMReady for a resolved claim, and the providerData to merge once it is True. */
    function evaluate(d: ClusterDeployment, name: string, claim: ClusterIPAMClaim | undefined) {
      const self = d.metadata.name ?? '';
      if (!claim) {
        return {
          ready: notReady(
            Reasons.ClaimNotFound,
            `ClusterIPAMClaim ${name} not found in namespace ${d.metadata.namespace}`,
          ),
        };
      }
      if (claim.spec.cluster !== self) {
        const message = claim.spec.cluster
          ? `ClusterIPAMClaim ${name} is for cluster "${claim.spec.cluster}" (its spec.cluster), not "${self}": ` +
            `IPAM stopped, the claim's addresses stay with "${claim.spec.cluster}"`
          : `ClusterIPAMClaim ${name} has no spec.cluster: set it to "${self}" to use the claim for this ClusterDeployment`;
        return { ready: notReady(Reasons.ClaimClusterMismatch, message) };
      }
      if (claim.metadata.deletionTimestamp) {
        return { ready: notReady(Reasons.ClaimDeleting, `ClusterIPAMClaim ${name} is being deleted`) };
      }
      const badEndpoint = checkEndpointConfig(d.spec.config);
      if (badEndpoint) return { ready: notReady(badEndpoint.reason, badEndpoint.message) };
      const plan = planOf(claim);
      const node = plan.networks.find((n) => n.network === 'nodeNetwork');
      const capacity = node
        ? checkNodeCapacity(
            d.spec.config,
            node,
            name,
            plan.provider === 'ipam-infoblox',
            heldByOthers(claim, node),
            plan.provider === 'in-cluster' && endpointInNodeNetwork(d, plan, node),
          )
        : undefined;
      if (capacity && !capacity.ok) return { ready: notReady(capacity.reason, capacity.message) };

      const claimReady = claim.status?.conditions?.find((c) => c.type === Conditions.Ready);
      // kcm's ClusterIPAMClaim CRD has no status.observedGeneration (it is pruned): its Ready condition's says the same.
      const fresh = (claim.status?.observedGeneration ?? claimReady?.observedGeneration) === claim.metadata.generation;
      const cipam = cipams.get(nsKey(claim.metadata.namespace, claim.spec.clusterIPAMRef || name));
      const cipamBound = !!cipam && controlledBy(cipam, claim.metadata.uid) && cipam.status?.phase === 'Bound';
      if (!(claim.status?.bound && fresh && cipamBound)) {
        const why =
          claimReady && fresh && claimReady.status !== 'True'
            ? `${claimReady.reason}: ${claimReady.message}`
            : 'waiting for the claim to be reconciled';
        return { ready: notReady(Reasons.ClaimNotBound, `ClusterIPAMClaim ${name} is not bound yet: ${why}`) };
      }
      const providerData: ProviderData[] = cipam!.status?.providerData ?? [];
      const keys = ['ipamEnabled', ...providerData.map((e) => e.name)].join(', ');
      const details = [capacity?.message, d.spec.dryRun ? 'dry run: nothing is provisioned' : ''].filter(Boolean);
      return {
        ready: {
          type: Conditions.IPAMReady,
          status: 'True',
          reason: Reasons.IPAMReady,
          message: `ClusterIPAMClaim ${name} is bound; spec.config has ${keys}${details.length ? ` (${details.join('; ')})` : ''}`,
        } satisfies ConditionInput,
        providerData,
      };
    }

    type EndpointResult = { extra?: Record<string, unknown>; problem?: ConditionInput; note?: string };

    /**
     * The control-plane endpoint address (in-cluster provider, once the claim is bound): an unset one is allocated
     * by the IPAddressClaim `<deployment>-endpoint` (owned by the deployment, so released with it) from the
     * externalNetwork's pool, or the node network's with the annotation, and merged into spec.config; it stays as
     * long as that claim does. A hand-set one inside the node pool is excluded from it, unless a machine holds it.
     */
    async function endpoint(d: ClusterDeployment, claim: ClusterIPAMClaim): Promise<EndpointResult> {
      const plan = planOf(claim);
      if (plan.provider !== 'in-cluster') return {};
      const ns = d.metadata.namespace ?? '';
      const self = d.metadata.name ?? '';
      const given = d.spec.config?.controlPlaneEndpointIP;
      const mine = ipClaims.get(nsKey(ns, endpointClaimName(self)));
      const owned = mine && controlledBy(mine, d.metadata.uid) ? mine : undefined;
      const allocated = owned && allocatedAddress(owned);
      if (typeof given === 'string' && given !== '' && given !== allocated) return excludeGiven(d, plan, given);
      if (allocated) return { extra: { controlPlaneEndpointIP: allocated } };
      const network = endpointNetwork(plan, d.metadata.annotations);
      if (!network) return {};
      const name = endpointClaimName(self);
      if (mine && !owned) {
        return {
          problem: notReady(
            Reasons.EndpointAddressInUse,
            `IPAddressClaim ${name} exists and is not this ClusterDeployment's: the endpoint address cannot be allocated`,
          ),
        };
      }
      if (!mine) {
        try {
          await ipClaimClient.create({
            apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
            kind: 'IPAddressClaim',
            metadata: {
              name,
              namespace: ns,
              labels: { 'cluster.x-k8s.io/cluster-name': self },
              ownerReferences: [controllerRef(d)],
            },
            spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InClusterIPPool', name: network.poolName } },
          } as IPAddressClaim);
          recorder.event(
            d,
            'Normal',
            'EndpointClaimCreated',
            `created IPAddressClaim ${name} for the endpoint address`,
          );
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
        }
      }
      return {
        problem: notReady(
          Reasons.EndpointPending,
          `waiting for IPAddressClaim ${name} to get controlPlaneEndpointIP from ${network.path} (pool ${network.poolName})`,
        ),
      };
    }

    function allocatedAddress(c: IPAddressClaim): string | undefined {
      const ref = c.status?.addressRef?.name;
      const ipa = ref ? ipAddresses.get(nsKey(c.metadata.namespace, ref)) : undefined;
      return ipa && !ipa.metadata.deletionTimestamp ? ipa.spec.address : undefined;
    }

    /** A hand-set endpoint inside the node pool's usable addresses: in its excludedAddresses, or held by a machine. */
    async function excludeGiven(d: ClusterDeployment, plan: ReturnType<typeof planOf>, given: string) {
      const node = plan.networks.find((n) => n.network === 'nodeNetwork');
      const address = tryParseAddress(given);
      if (!node || !address) return {};
      if (node.pool.usable.family !== address.family || !node.pool.usable.has(address.value)) return {};
      const ns = d.metadata.namespace ?? '';
      const pool = inClusterPools.get(nsKey(ns, node.poolName));
      if (!pool) return {};
      const domain = addressDomain(pool);
      const reservation = provider.book.reservationAt(domain, address);
      const holders = [
        ...(reservation ? [`IPAddressClaim ${reservation.claimNamespace}/${reservation.claimName}`] : []),
        ...provider.book.ipAddressesAt(domain, address).map((k) => `IPAddress ${k}`),
      ];
      if (holders.length > 0) {
        return {
          problem: notReady(
            Reasons.EndpointAddressInUse,
            `controlPlaneEndpointIP ${given} is inside the node network and already held by ${holders.join(', ')}: ` +
              `choose another address (or release it) before provisioning`,
          ),
        };
      }
      // Ready only once the pool has taken the exclusion: its new generation makes the ClusterIPAM Pending until the
      // pool reports it, and a gate True before that would flap to False and back.
      const waiting = (why: string) => ({
        problem: notReady(
          Reasons.EndpointPending,
          `excluding controlPlaneEndpointIP ${given} from InClusterIPPool ${node.poolName}: ${why}`,
        ),
      });
      const excluded = pool.spec.excludedAddresses ?? [];
      if (!excluded.includes(given)) {
        try {
          // The list as read plus this address, under the resourceVersion read: another change to it gets 409.
          await poolClient.patch(
            { namespace: ns, name: node.poolName },
            {
              metadata: { resourceVersion: pool.metadata.resourceVersion },
              spec: { excludedAddresses: [...excluded, given] },
            },
          );
        } catch (err) {
          const message = refusal(err);
          if (message === undefined) throw err;
          return {
            problem: notReady(
              Reasons.EndpointAddressInUse,
              `controlPlaneEndpointIP ${given} is inside the node network and could not be excluded from ` +
                `InClusterIPPool ${node.poolName}: ${message}`,
            ),
          };
        }
        return waiting('waiting for the pool to take it');
      }
      const readiness = poolReadiness(pool);
      if (!readiness.ready) return waiting(readiness.why);
      return { note: endpointExcludedMessage(given) };
    }

    async function reconcile(req: Request): Promise<void> {
      const d = deployments.get(req);
      if (!d || d.metadata.deletionTimestamp) return; // an inline claim goes with it (owner reference)
      const a = attachment(d);
      await deleteStale(d, a);
      if (a.mode === 'none') {
        await writeIPAMReady(d, undefined);
        return;
      }

      let claim = claims.get(nsKey(d.metadata.namespace, a.claim));
      let problem: ConditionInput | undefined;
      let note: string | undefined;
      if (a.mode === 'inline') ({ claim, problem, note } = await ensureInline(d, a));
      let { ready, providerData } = problem ? { ready: problem, providerData: undefined } : evaluate(d, a.claim, claim);
      let extra: Record<string, unknown> | undefined;
      if (providerData && claim) {
        const e = await endpoint(d, claim);
        if (e.problem) ({ ready, providerData } = { ready: e.problem, providerData: undefined });
        else if (e.note) ready = { ...ready, message: `${ready.message}; ${e.note}` };
        extra = e.extra;
      }
      if (note) ready.message = `${ready.message}. Note: ${note}`;

      // One spec write: the inline claim's name into ipamClaim.ref, and once bound the IPAM values into config.
      const ref = a.mode === 'inline' && !problem && d.spec.ipamClaim?.ref !== a.claim ? a.claim : undefined;
      const config = providerData ? mergeIpamConfig(d.spec.config, providerData, extra) : undefined;
      let current = d;
      if (ref || config) {
        current = await setFields(client, d, {
          ...(ref ? { '/spec/ipamClaim': { ...d.spec.ipamClaim, ref } } : {}),
          ...(config ? { '/spec/config': config } : {}),
        });
      }
      await writeIPAMReady(current, ready);
    }

    /**
     * Sets (or, without `input`, removes) the IPAMReady condition, and nothing else of the status: server-side apply
     * under the gate's own field manager, which owns that one entry of the conditions list (a map keyed by type).
     * kcm's ClusterDeployment status (k8sVersion, services, region, observedGeneration, its own conditions, ...) is
     * never written, not even with the values read. An Event per transition, as the other controllers record.
     */
    async function writeIPAMReady(d: ClusterDeployment, input: ConditionInput | undefined): Promise<void> {
      const key = { namespace: d.metadata.namespace, name: d.metadata.name ?? '' };
      const before = d.status?.conditions?.find((c) => c.type === Conditions.IPAMReady);
      const next = input ? setCondition(before ? [before] : [], input, d.metadata.generation)[0] : undefined;
      if (next ? before && sameJSON(before, next) : !before) return;
      const written = await client.patchStatus(
        key,
        {
          apiVersion: 'k0rdent.mirantis.com/v1beta1',
          kind: 'ClusterDeployment',
          metadata: key,
          status: { conditions: next ? [next] : [] },
        },
        { type: 'apply', fieldManager: ipamReadyFieldManager, force: true },
      );
      const left = written.status?.conditions?.findIndex((c) => c.type === Conditions.IPAMReady) ?? -1;
      if (!next && left >= 0) {
        // Written before the gate applied it (a merge patch of an earlier version): apply cannot drop what another
        // field manager owns, so remove exactly that entry, if it is still at that index.
        const path = `/status/conditions/${left}`;
        const ops = [
          { op: 'test', path: `${path}/type`, value: Conditions.IPAMReady },
          { op: 'remove', path },
        ];
        await client.patchStatus(key, ops, { type: 'json' });
      }
      if (input && (!before || before.status !== input.status || before.reason !== input.reason)) {
        const event = eventFor(input);
        if (event) recorder.event(written, event.type, event.reason, input.message ?? '');
      }
    }

    mgr.addController({
      name: 'clusterdeployment-ipam',
      for: ClusterDeployments,
      owns: [ClusterIPAMClaims],
      watches: [
        watch(ClusterIPAMClaims, (c) => usersOf(c.metadata.namespace, c.metadata.name ?? '')),
        watch(ClusterIPAMs, (c) => usersOf(c.metadata.namespace, claimRefOf(c.spec) || c.metadata.name || '')),
        watch(IPAddressReservations, reservationEvent),
        watch(IPAddressLedgers, (l) =>
          provider.ledgerChanges(l).flatMap((i) => capacityConcerned(i.domain, formatAddress(i.address), i.poolKey)),
        ),
        watch(IPAddresses, (ipa) => [...ipAddressEvent(ipa), ...endpointUsers(ipa)]),
        watch(IPAddressClaims, (c) => endpointOwner(c)),
        // A claim's node pool reporting Ready for a new generation: a hand-set endpoint's exclusion was taken.
        watch(
          InClusterIPPools,
          (p) => {
            const owner = p.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'ClusterIPAMClaim');
            return owner ? usersOf(p.metadata.namespace, owner.name) : [];
          },
          (e) =>
            !sameJSON(
              findCondition(e.old?.status?.conditions, 'Ready'),
              findCondition(e.object.status?.conditions, 'Ready'),
            ),
        ),
      ],
      reconcile: tolerateRaces((req) => reconcile(req)),
    });

    /** The deployment whose endpoint IPAddressClaim this is (it owns it). */
    function endpointOwner(c: IPAddressClaim): Request[] {
      const owner = c.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'ClusterDeployment');
      if (!owner || c.metadata.name !== endpointClaimName(owner.name)) return [];
      return [{ namespace: c.metadata.namespace ?? '', name: owner.name }];
    }
    /** An IPAddress of an endpoint claim: its deployment merges the address. */
    function endpointUsers(ipa: IPAddress): Request[] {
      const claimName = ipa.spec.claimRef?.name;
      const c = claimName ? ipClaims.get(nsKey(ipa.metadata.namespace, claimName)) : undefined;
      return c ? endpointOwner(c) : [];
    }

    function usersOf(namespace: string | undefined, claim: string): Request[] {
      return deployments
        .byIndex(deploymentsByClaim, nsKey(namespace, claim))
        .map((d) => ({ namespace: d.metadata.namespace ?? '', name: d.metadata.name ?? '' }));
    }
  },
};
