// What the manager was told or found out at start (src/cli/discovery.ts) and its controllers must honour, per manager:
// the default Infoblox instance, the claim field of the served ClusterIPAM CRD, and the pool kinds a running
// reference provider serves, which this manager refuses. And the guard that says so on every refused pool (an
// Event), so a user looking at a pool learns why its claims are not answered by cluster-ipam.
import {
  GlobalInClusterIPPools,
  InClusterIPPools,
  InfobloxIPPools,
  ipamGroup,
  type ClusterIPAMSpec,
} from '../api/index.ts';
import type { KubeObject, ResourceType } from '../kube/index.ts';
import type { ControllerSetup, Manager } from '../runtime/index.ts';

export interface ManagerSettings {
  /** `--workers`, when given: controllers with a default of their own (the claim controller's) use it instead. */
  readonly workers?: number;
  /** `--default-infoblox-instance`: the InfobloxInstance for pools and claims that name none. */
  readonly defaultInfobloxInstance?: string;
  /** The claim field of the served ClusterIPAM CRD: the guide's plural, or kcm's singular. */
  readonly claimRefField: 'clusterIPAMClaimRefs' | 'clusterIPAMClaimRef';
  /** Kinds of ipam.cluster.x-k8s.io pools that a running reference provider serves, with the reason given. */
  readonly refusedPoolKinds: ReadonlyMap<string, string>;
}

const defaults: ManagerSettings = { claimRefField: 'clusterIPAMClaimRefs', refusedPoolKinds: new Map() };
const settings = new WeakMap<Manager, ManagerSettings>();

/** Set by `cluster-ipam run` (startManager) before the controllers are set up. */
export function configureManager(mgr: Manager, s: Partial<ManagerSettings>): void {
  settings.set(mgr, { ...settingsOf(mgr), ...s });
}

export function settingsOf(mgr: Manager): ManagerSettings {
  return settings.get(mgr) ?? defaults;
}

/** The manager's default InfobloxInstance: `--default-infoblox-instance`, else CLUSTER_IPAM_DEFAULT_INFOBLOX_INSTANCE. */
export function defaultInfobloxInstance(mgr: Manager): string | undefined {
  return settingsOf(mgr).defaultInfobloxInstance || process.env.CLUSTER_IPAM_DEFAULT_INFOBLOX_INSTANCE || undefined;
}

/** Why claims of this pool are not this manager's to serve (a reference provider serves them); undefined if they are. */
export function refusedPool(mgr: Manager, ref: { apiGroup?: string; kind: string }): string | undefined {
  return (ref.apiGroup ?? ipamGroup) === ipamGroup ? settingsOf(mgr).refusedPoolKinds.get(ref.kind) : undefined;
}

/** The claim a ClusterIPAM serves, whichever of the two fields names it. */
export function claimRefOf(spec: ClusterIPAMSpec): string | undefined {
  return spec.clusterIPAMClaimRefs || spec.clusterIPAMClaimRef || undefined;
}

const poolTypes: Record<string, ResourceType<KubeObject>> = {
  InClusterIPPool: InClusterIPPools,
  GlobalInClusterIPPool: GlobalInClusterIPPools,
  InfobloxIPPool: InfobloxIPPools,
};

/**
 * One Warning Event (reason ReferenceProviderRunning) on every pool of a refused kind, once per pool and leader term:
 * the pool's status is the reference provider's to write. Added by startManager only when something is refused.
 */
export const referenceProviderGuard: ControllerSetup = {
  name: 'reference-provider-guard',
  setup(mgr) {
    const recorder = mgr.eventRecorder('cluster-ipam');
    const told = new Set<string>();
    for (const [kind, why] of settingsOf(mgr).refusedPoolKinds) {
      const type = poolTypes[kind];
      if (!type) continue;
      const pools = mgr.informer(type);
      mgr.addController({
        name: `reference-provider-guard-${kind.toLowerCase()}`,
        for: type,
        workers: 1,
        reconcile(req) {
          const pool = pools.get(req);
          if (!pool?.metadata.uid || told.has(pool.metadata.uid)) return;
          told.add(pool.metadata.uid);
          recorder.event(pool, 'Warning', 'ReferenceProviderRunning', why);
        },
      });
    }
  },
};
