// What `cluster-ipam run` finds out about the cluster before it starts its controllers (docs/install.md, "What the
// manager discovers at start"):
// - which version of Cluster API's IPAddressClaim / IPAddress is served (v1beta2 from Cluster API 1.11, v1beta1 only
//   up to 1.10), so the client speaks it (src/api/capi-v1beta1.ts converts);
// - whether k0rdent kcm is installed, whose controller manager runs the ClusterIPAMClaim workflow itself: then this
//   manager's workflow controllers stay off;
// - which claim field the served ClusterIPAM CRD has (this project's `clusterIPAMClaimRefs`, kcm's
//   `clusterIPAMClaimRef`);
// - whether a reference IPAM provider (in-cluster, Infoblox) is running: then the pool kinds it serves are refused.
// Each is read once at start. `watchDiscovery` looks again periodically; when the answer changes the CLI exits so
// the Deployment restarts it with the new answer, rather than going on with a choice that no longer holds.
import { capiAdapter, type CapiIPAMVersion } from '../api/capi-v1beta1.ts';
import {
  CustomResourceDefinitions,
  unlessNotFound,
  Leases,
  type CustomResourceDefinition,
  type KubeClient,
  type Lease,
  type ResourceAdapter,
} from '../kube/index.ts';
import { sleep } from '../runtime/index.ts';

/** `--kcm`: auto detects; present and absent override the detection. */
export type KcmMode = 'auto' | 'present' | 'absent';

export const kcmModes: readonly KcmMode[] = ['auto', 'present', 'absent'];

/** The controllers of the ClusterIPAMClaim workflow, which kcm runs itself where it is installed. */
export const workflowControllers = ['clusteripamclaim', 'clusteripam', 'clusterdeployment-ipam'] as const;

/** Label of this project's CRDs (src/api/crd.ts): a k0rdent CRD without it is someone else's, i.e. kcm's. */
export const ownCRDLabel = ['app.kubernetes.io/part-of', 'cluster-ipam'] as const;

const k0rdentGroup = 'k0rdent.mirantis.com';
const workflowCRDs = ['clusteripamclaims', 'clusteripams', 'clusterdeployments'].map((p) => `${p}.${k0rdentGroup}`);
/** kcm's Management kind: installed with kcm and by nothing else. */
const kcmManagementCRD = `managements.${k0rdentGroup}`;

export type ClaimRefField = 'clusterIPAMClaimRefs' | 'clusterIPAMClaimRef';

export interface ReferenceProvider {
  readonly name: 'in-cluster' | 'infoblox';
  readonly title: string;
  /**
   * Leader election holder identities start with these: controller-runtime writes `<pod name>_<uuid>`, and the pods of
   * a Deployment are named `<deployment>-<hash>-<hash>`. The Deployment names are the ones the providers' release
   * manifests use (clusterctl and the Cluster API Operator keep them), in whatever namespace they were installed.
   */
  readonly holderPrefixes: readonly string[];
  /** The kinds (group ipam.cluster.x-k8s.io) both would reconcile. */
  readonly poolKinds: readonly string[];
  /** This manager's controllers of those kinds alone, which do not start while it runs. */
  readonly controllers: readonly string[];
}

export const referenceProviders: readonly ReferenceProvider[] = [
  {
    name: 'in-cluster',
    title: 'the reference in-cluster IPAM provider (cluster-api-ipam-provider-in-cluster)',
    holderPrefixes: ['capi-ipam-in-cluster-controller-manager-'],
    poolKinds: ['InClusterIPPool', 'GlobalInClusterIPPool'],
    controllers: ['inclusterippool'],
  },
  {
    name: 'infoblox',
    title: 'the reference Infoblox IPAM provider (cluster-api-ipam-provider-infoblox)',
    holderPrefixes: ['caip-infoblox-controller-manager-'],
    poolKinds: ['InfobloxIPPool'],
    controllers: ['infobloxinstance', 'infobloxippool'],
  },
];

/**
 * A Lease renewed within this long counts as a running provider. Generous on purpose: a provider that restarts,
 * rolls out or crash-loops (back-off up to 5 minutes) leaves gaps in its renewals, and serving its pools in such a
 * gap would hand out addresses it hands out too. A provider scaled to zero is taken over once its Lease is this old
 * (or at once: delete its Lease, or pass --take-over-from-reference-providers).
 */
export const referenceLeaseFreshMs = 10 * 60_000;

export interface RunningReference {
  readonly provider: ReferenceProvider;
  /** `namespace/name` of its Lease. */
  readonly lease: string;
  readonly holder: string;
  readonly renewedSecondsAgo: number;
}

export interface DiscoveryOptions {
  kcm?: KcmMode;
  /** Serve the reference providers' pool kinds even while they run. */
  takeOverFromReferenceProviders?: boolean;
  now?: () => number;
  signal?: AbortSignal;
}

export interface Discovery {
  readonly capi: { readonly version: CapiIPAMVersion; readonly why: string };
  readonly kcm: { readonly present: boolean; readonly why: string };
  readonly claimRefField: ClaimRefField;
  /** Running reference providers (found even when taken over, to say so). */
  readonly references: readonly RunningReference[];
  readonly takeOver: boolean;
}

export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
}

type Versions = { name?: string; served?: boolean; schema?: { openAPIV3Schema?: unknown } }[];
const versionsOf = (crd: CustomResourceDefinition): Versions => (crd.spec as { versions?: Versions }).versions ?? [];

async function readCRD(client: KubeClient, name: string, signal?: AbortSignal) {
  return unlessNotFound(client.resource(CustomResourceDefinitions).get({ name }, { signal }));
}

/** The IPAM version both CRDs serve, v1beta2 first; v1beta2 (this project's CRDs) while neither is installed. */
export function chooseCapiVersion(
  claims: CustomResourceDefinition | undefined,
  addresses: CustomResourceDefinition | undefined,
): Discovery['capi'] {
  if (!claims && !addresses) {
    return {
      version: 'v1beta2',
      why: "IPAddressClaim and IPAddress are not installed yet; v1beta2 is what this project's CRDs (crds.capi) serve",
    };
  }
  const served = (crd: CustomResourceDefinition | undefined) =>
    crd ? versionsOf(crd).flatMap((v) => (v.served && v.name ? [v.name] : [])) : [];
  const [c, a] = [served(claims), served(addresses)];
  for (const version of ['v1beta2', 'v1beta1'] as const) {
    if (c.includes(version) && a.includes(version)) {
      return {
        version,
        why:
          `IPAddressClaim serves ${c.join(', ')} and IPAddress ${a.join(', ')}` +
          (version === 'v1beta1' ? ' (Cluster API ≤ 1.10): speaking v1beta1, converted at the edge' : ''),
      };
    }
  }
  throw new DiscoveryError(
    `IPAddressClaim serves ${c.join(', ') || 'nothing'} and IPAddress ${a.join(', ') || 'nothing'} ` +
      '(ipam.cluster.x-k8s.io): cluster-ipam needs both in v1beta2 (Cluster API ≥ 1.11) or v1beta1 (Cluster API 1.10)',
  );
}

/** Whether kcm is installed, from its CRDs: see docs/install.md, "kcm". */
export function detectKcm(
  crds: ReadonlyMap<string, CustomResourceDefinition | undefined>,
  mode: KcmMode = 'auto',
): Discovery['kcm'] {
  const signals: string[] = [];
  if (crds.get(kcmManagementCRD)) signals.push(`CRD ${kcmManagementCRD} (kcm's Management) is installed`);
  for (const name of workflowCRDs) {
    const crd = crds.get(name);
    if (crd && crd.metadata.labels?.[ownCRDLabel[0]] !== ownCRDLabel[1]) {
      signals.push(`CRD ${name} is not this project's (no ${ownCRDLabel.join('=')} label)`);
    }
  }
  if (mode === 'present') return { present: true, why: '--kcm=present' };
  if (mode === 'absent') {
    return { present: false, why: `--kcm=absent${signals.length ? ` (overriding: ${signals.join('; ')})` : ''}` };
  }
  return signals.length
    ? { present: true, why: `kcm detected: ${signals.join('; ')}` }
    : {
        present: false,
        why: `no kcm CRD (${[kcmManagementCRD, ...workflowCRDs].join(', ')}) other than this project's`,
      };
}

/** The claim field of the served ClusterIPAM: the guide's `clusterIPAMClaimRefs` when it has it, else kcm's. */
export function claimRefFieldOf(crd: CustomResourceDefinition | undefined): ClaimRefField {
  const spec = (v: Versions[number]) =>
    (v.schema?.openAPIV3Schema as { properties?: { spec?: { properties?: Record<string, unknown> } } } | undefined)
      ?.properties?.spec?.properties ?? {};
  const version = crd && versionsOf(crd).find((v) => v.name === 'v1beta1' && v.served);
  if (!version) return 'clusterIPAMClaimRefs';
  const fields = spec(version);
  return 'clusterIPAMClaimRefs' in fields || !('clusterIPAMClaimRef' in fields)
    ? 'clusterIPAMClaimRefs'
    : 'clusterIPAMClaimRef';
}

/** Reference providers whose Lease was renewed lately (referenceLeaseFreshMs). */
export function runningReferences(leases: readonly Lease[], now: number): RunningReference[] {
  const found: RunningReference[] = [];
  for (const lease of leases) {
    const holder = lease.spec?.holderIdentity ?? '';
    const provider = referenceProviders.find((p) => p.holderPrefixes.some((prefix) => holder.startsWith(prefix)));
    const renewed = Date.parse(lease.spec?.renewTime ?? lease.spec?.acquireTime ?? '');
    if (!provider || Number.isNaN(renewed) || now - renewed > referenceLeaseFreshMs) continue;
    found.push({
      provider,
      lease: `${lease.metadata.namespace}/${lease.metadata.name}`,
      holder,
      renewedSecondsAgo: Math.max(0, Math.round((now - renewed) / 1000)),
    });
  }
  return found;
}

/** Reads what the manager needs to know before it starts (see the top of this file). */
export async function discover(client: KubeClient, opts: DiscoveryOptions = {}): Promise<Discovery> {
  const signal = opts.signal;
  const names = [
    'ipaddressclaims.ipam.cluster.x-k8s.io',
    'ipaddresses.ipam.cluster.x-k8s.io',
    kcmManagementCRD,
    ...workflowCRDs,
  ];
  const read = await Promise.all(names.map((n) => readCRD(client, n, signal)));
  const crds = new Map(names.map((n, i) => [n, read[i]]));
  const takeOver = opts.takeOverFromReferenceProviders ?? false;
  // Leases of every namespace: the reference providers may be installed in any (clusterctl, the operator, Helm).
  const leases = (await client.resource(Leases).listAll({ limit: 500, signal })).items;
  return {
    capi: chooseCapiVersion(crds.get(names[0]!), crds.get(names[1]!)),
    kcm: detectKcm(crds, opts.kcm),
    claimRefField: claimRefFieldOf(crds.get(`clusteripams.${k0rdentGroup}`)),
    references: runningReferences(leases, (opts.now ?? Date.now)()),
    takeOver,
  };
}

/** The client adapter for the served Cluster API version (undefined: nothing to convert). */
export function adapterOf(d: Discovery): ResourceAdapter | undefined {
  return capiAdapter(d.capi.version);
}

/** The references whose kinds are refused: all that run, unless told to take over. */
export function refusedReferences(d: Discovery): readonly RunningReference[] {
  return d.takeOver ? [] : d.references;
}

/** Controllers that do not start: the workflow next to kcm, and those of the kinds a running reference serves. */
export function controllersOff(d: Discovery): Map<string, string> {
  const off = new Map<string, string>();
  if (d.kcm.present) {
    for (const name of workflowControllers) {
      off.set(
        name,
        `${d.kcm.why}; kcm's controller manager runs the ClusterIPAMClaim workflow (override: --kcm=absent)`,
      );
    }
  }
  for (const r of refusedReferences(d)) {
    for (const name of r.provider.controllers) off.set(name, refusalMessage(r));
  }
  return off;
}

/** Why the kinds of a running reference provider are not served: for logs, and Events on its pools. */
export function refusalMessage(r: RunningReference): string {
  return (
    `${r.provider.title} is running (Lease ${r.lease} held by ${r.holder}, renewed ${r.renewedSecondsAgo}s ago): ` +
    `cluster-ipam does not serve ${r.provider.poolKinds.join(' or ')} claims and pools while it does, or both ` +
    'would hand out the same addresses. Stop it (docs/install.md, "Migrating from the reference providers"), or ' +
    'restart cluster-ipam with --take-over-from-reference-providers'
  );
}

/** What decides how the manager runs; a change means a restart. */
export function fingerprint(d: Discovery): string {
  return JSON.stringify({
    capi: d.capi.version,
    kcm: d.kcm.present,
    claimRefField: d.claimRefField,
    refused: [...new Set(refusedReferences(d).map((r) => r.provider.name))].sort(),
  });
}

/** What changed between two discoveries, in words. */
export function describeChange(before: Discovery, after: Discovery): string {
  const parts: string[] = [];
  if (before.capi.version !== after.capi.version) {
    parts.push(`Cluster API IPAM: ${before.capi.version} → ${after.capi.version} (${after.capi.why})`);
  }
  if (before.kcm.present !== after.kcm.present) parts.push(`kcm: ${after.kcm.why}`);
  if (before.claimRefField !== after.claimRefField) {
    parts.push(`ClusterIPAM claim field: ${before.claimRefField} → ${after.claimRefField}`);
  }
  const names = (d: Discovery) => refusedReferences(d).map((r) => r.provider.name);
  for (const r of refusedReferences(after)) {
    if (!names(before).includes(r.provider.name)) parts.push(`${r.provider.title} started (Lease ${r.lease})`);
  }
  for (const r of refusedReferences(before)) {
    if (!names(after).includes(r.provider.name)) {
      parts.push(`${r.provider.title} stopped (no Lease renewed in ${referenceLeaseFreshMs / 60_000} minutes)`);
    }
  }
  return parts.join('; ');
}

/**
 * Discovers again every `intervalMs` until `signal` aborts; resolves with the new discovery and what changed as soon
 * as it differs from `initial` (a failed look is retried at the next interval). Never rejects.
 */
export async function watchDiscovery(
  client: KubeClient,
  initial: Discovery,
  opts: DiscoveryOptions & { intervalMs: number; onError?: (err: unknown) => void },
): Promise<{ discovery: Discovery; change: string } | undefined> {
  const want = fingerprint(initial);
  while (!opts.signal?.aborted) {
    await sleep(opts.intervalMs, opts.signal);
    if (opts.signal?.aborted) return undefined;
    try {
      const d = await discover(client, opts);
      if (fingerprint(d) !== want) return { discovery: d, change: describeChange(initial, d) };
    } catch (err) {
      if (!opts.signal?.aborted) opts.onError?.(err);
    }
  }
  return undefined;
}
