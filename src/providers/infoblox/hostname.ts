// The host record's name of a claim (spec 04 §4.2): the claim's annotation ipam.cluster.x-k8s.io/hostname if present;
// else the claim's name when the pool has no DNS zone; else `<owning Machine name>.<dnsZone>`, the Machine found by
// following owner references up from the claim (IPAddressClaim → e.g. VSphereVM → VSphereMachine → Machine).
//
// Owners are read with a GET of their kind, whose resource name is derived from the kind as Kubernetes does for
// custom resources (lower case, plural), since only the owner reference's apiVersion and kind are known. Cluster API
// may be absent (standalone users): a chain that ends without a Machine, or an owner kind that is not served, makes
// the name `<claim name>.<dnsZone>`. An owner that cannot be read now (5xx, timeout) is an error, retried: the name is
// recorded on the claim and must not be decided from a partial view. One the manager may not read (403: a kind of an
// infrastructure provider its RBAC does not name) is an OwnerForbiddenError, which the provider shows on the claim;
// once the caller stops waiting for the permission (`fallback`), the chain ends there as for a kind not served.
import type { IPAddressClaim } from '../../api/index.ts';
import { isApiError, resourceType, type KubeClient, type KubeObject } from '../../kube/index.ts';
import { hostnameAnnotation } from './names.ts';

const machineGroup = 'cluster.x-k8s.io';
const maxDepth = 8;

/** The manager may not read an owner in the chain: which kind, and how to let it. */
export class OwnerForbiddenError extends Error {
  override readonly name = 'OwnerForbiddenError';

  constructor(
    readonly kind: string,
    readonly resource: string,
    readonly ownerName: string,
  ) {
    super(
      `cannot read ${kind} ${ownerName}, an owner of the claim, to find its Machine for the host name: the manager ` +
        `may not get ${resource} (grant it, or set the claim's annotation ipam.cluster.x-k8s.io/hostname)`,
    );
  }
}

/** Kubernetes' guess of a kind's resource name (meta.UnsafeGuessKindToResource), what CRDs use in practice. */
export function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  if (lower.endsWith('s')) return `${lower}es`;
  if (lower.endsWith('y')) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

/** The owner reference a controller would follow first: the controller, else the first. */
function ownerOf(obj: KubeObject) {
  const refs = obj.metadata.ownerReferences ?? [];
  const machine = refs.find((r) => r.kind === 'Machine' && r.apiVersion.split('/')[0] === machineGroup);
  return machine ?? refs.find((r) => r.controller) ?? refs[0];
}

/** The Machine the claim belongs to (by owner references), or undefined if there is none to find. */
export async function owningMachine(
  client: KubeClient,
  claim: IPAddressClaim,
  signal: AbortSignal,
  fallback = false,
): Promise<string | undefined> {
  let obj: KubeObject = claim;
  const namespace = claim.metadata.namespace;
  for (let depth = 0; depth < maxDepth; depth++) {
    const ref = ownerOf(obj);
    if (!ref) return undefined;
    const [group, version] = ref.apiVersion.includes('/') ? ref.apiVersion.split('/') : ['', ref.apiVersion];
    if (ref.kind === 'Machine' && group === machineGroup) return ref.name;
    const type = resourceType<KubeObject>({
      group: group!,
      version: version!,
      kind: ref.kind,
      plural: pluralOf(ref.kind),
      namespaced: true,
    });
    try {
      obj = await client.resource(type).get({ namespace, name: ref.name }, { signal });
    } catch (err) {
      // Gone, or a kind this cluster does not serve: the chain ends here.
      if (isApiError(err) && err.statusCode === 404) return undefined;
      if (isApiError(err) && err.statusCode === 403) {
        if (fallback) return undefined;
        throw new OwnerForbiddenError(ref.kind, `${pluralOf(ref.kind)}${group ? `.${group}` : ''}`, ref.name);
      }
      throw err;
    }
  }
  return undefined;
}

/** The claim's host name, as recorded or as resolved now. */
export async function resolveHostname(
  client: KubeClient,
  claim: IPAddressClaim,
  dnsZone: string | undefined,
  signal: AbortSignal,
  fallback = false,
): Promise<string> {
  const recorded = claim.metadata.annotations?.[hostnameAnnotation];
  if (recorded) return recorded;
  if (!dnsZone) return claim.metadata.name!;
  const machine = await owningMachine(client, claim, signal, fallback);
  return `${machine ?? claim.metadata.name}.${dnsZone.replace(/\.$/, '')}`;
}
