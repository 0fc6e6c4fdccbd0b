// What a ClusterIPAMClaim asks for (spec 01 §1.1-1.2): its address spaces checked field by field, and for each one the
// provider pool that serves it. Pure: the controllers turn plans into objects and conditions.
import type { ClusterIPAMClaimSpec, Provider } from '../api/index.ts';
import { addressSpacePool, findOverlaps, type FieldIssue, type Pool, type PoolSpec } from '../core/index.ts';

export type NetworkName = 'nodeNetwork' | 'clusterNetwork' | 'externalNetwork';

/** Each network's providerData entry and pool name suffix. The node network keeps `ipPool`: templates read it. */
export const networkLayout: readonly { network: NetworkName; entry: string; suffix: string }[] = [
  { network: 'nodeNetwork', entry: 'ipPool', suffix: '' },
  { network: 'clusterNetwork', entry: 'clusterIPPool', suffix: '-cluster' },
  { network: 'externalNetwork', entry: 'externalIPPool', suffix: '-external' },
];

export interface NetworkPlan {
  readonly network: NetworkName;
  /** Where the space sits, e.g. `spec.nodeNetwork`. */
  readonly path: string;
  /** providerData entry name. */
  readonly entry: string;
  readonly poolName: string;
  /** The address model: `pool.addresses` is what the space names, `pool.usable` what machines can get. */
  readonly pool: Pool;
  /** The InClusterIPPool spec (in-cluster provider). */
  readonly inCluster: PoolSpec;
  /** The InfobloxIPPool subnet (ipam-infoblox provider). */
  readonly subnet: { cidr: string; gateway?: string } | undefined;
}

export interface ClaimPlan {
  readonly provider: Provider;
  /** Set only when there are no errors. */
  readonly networks: readonly NetworkPlan[];
  readonly errors: readonly FieldIssue[];
  readonly warnings: readonly FieldIssue[];
}

const maxNameLength = 253;
const providerNames: readonly string[] = ['in-cluster', 'ipam-infoblox'];

/** `name` is the claim's; `path` is where its spec sits (`spec`, or `spec.ipamClaim.spec` in a ClusterDeployment). */
export function planClaim(name: string, spec: ClusterIPAMClaimSpec, path = 'spec'): ClaimPlan {
  const errors: FieldIssue[] = [];
  const warnings: FieldIssue[] = [];
  const provider = spec.provider;
  if (!providerNames.includes(provider)) {
    errors.push({ field: `${path}.provider`, message: `"${provider}" is not one of ${providerNames.join(', ')}` });
  }
  if (!spec.nodeNetwork) errors.push({ field: `${path}.nodeNetwork`, message: "required: the machines' addresses" });
  if (spec.clusterIPAMRef && path === 'spec' && spec.clusterIPAMRef !== name) {
    errors.push({
      field: `${path}.clusterIPAMRef`,
      message: `"${spec.clusterIPAMRef}" is not this claim's ClusterIPAM "${name}"; the controller writes this field`,
    });
  }

  const networks: NetworkPlan[] = [];
  for (const { network, entry, suffix } of networkLayout) {
    const space = spec[network];
    if (!space) continue;
    const at = `${path}.${network}`;
    const poolName = name + suffix;
    if (poolName.length > maxNameLength) {
      errors.push({
        field: 'metadata.name',
        message: `too long: the ${network} pool "${name}${suffix}" would exceed 253`,
      });
    }
    const mark = errors.length;
    if (provider === 'ipam-infoblox') errors.push(...infobloxRules(space, at));
    const check = addressSpacePool(space, at);
    errors.push(...check.errors.filter((e) => !errors.slice(mark).some((x) => x.field === e.field)));
    for (const w of check.warnings) {
      // The InfobloxIPPool rejects a gateway off its network; an in-cluster machine may have an off-link gateway.
      const fatal = provider === 'ipam-infoblox' && w.field === `${at}.gateway`;
      if (!noUsable(w)) (fatal ? errors : warnings).push(w);
    }
    if (check.pool && check.spec) {
      if (check.pool.usable.isEmpty) {
        // A pool without usable addresses never becomes ready: say so here, where it can be fixed.
        errors.push({ field: at, message: 'no usable addresses: every address is the gateway or reserved' });
        continue;
      }
      const subnet = space.cidr
        ? { cidr: space.cidr, ...(space.gateway ? { gateway: space.gateway } : {}) }
        : undefined;
      networks.push({ network, path: at, entry, poolName, pool: check.pool, inCluster: check.spec, subnet });
    }
  }

  // Two pools of one claim handing out the same address would give it to two machines.
  for (const o of findOverlaps(networks.map((n) => ({ name: n.path, set: n.pool.addresses })))) {
    errors.push({ field: o.b, message: `overlaps ${o.a}: ${o.shared}` });
  }
  return { provider, networks: errors.length > 0 ? [] : networks, errors, warnings };
}

const noUsable = (w: FieldIssue) => w.message.startsWith('no usable addresses');

// Infoblox allocates inside one of its networks, named by a CIDR; the network's own prefix applies, and its gateway
// must be on it (the InfobloxIPPool rejects one outside).
function infobloxRules(space: NonNullable<ClusterIPAMClaimSpec['nodeNetwork']>, at: string): FieldIssue[] {
  const errors: FieldIssue[] = [];
  if (space.ipAddresses?.length) {
    errors.push({
      field: `${at}.ipAddresses`,
      message: 'not supported with provider ipam-infoblox: give the Infoblox network as cidr',
    });
  }
  if (!space.cidr) {
    errors.push({ field: `${at}.cidr`, message: 'required with provider ipam-infoblox (the Infoblox network)' });
    return errors;
  }
  const cidrPrefix = Number(space.cidr.split('/')[1]);
  if (space.prefix !== undefined && space.prefix !== cidrPrefix) {
    errors.push({
      field: `${at}.prefix`,
      message: `${space.prefix} differs from the cidr's /${cidrPrefix}: with ipam-infoblox the network's prefix applies`,
    });
  }
  return errors;
}

/** `spec.nodeNetwork: required; spec.x.prefix: ...`: one line for a condition message. */
export function describeIssues(issues: readonly FieldIssue[]): string {
  return issues.map((i) => `${i.field}: ${i.message}`).join('; ');
}
