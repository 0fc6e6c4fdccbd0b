// The IPAM side of a ClusterDeployment (spec 01 §1.3): which claim it uses, the inline claim it asks for, whether its
// node network holds the machines it wants, and the values merged into spec.config once bound. Pure.
import {
  domainTitle,
  type AddressDomain,
  type ClusterDeployment,
  type ClusterIPAMClaimSpec,
  type ProviderData,
} from '../api/index.ts';
import type { ClaimPlan, NetworkPlan } from './claim.ts';
import { sameJSON } from '../api/index.ts';
import { parseAddress } from '../core/index.ts';

export type InlineClaimSpec = NonNullable<NonNullable<ClusterDeployment['spec']['ipamClaim']>['spec']>;

export type Attachment =
  | { readonly mode: 'none' }
  | { readonly mode: 'ref'; readonly claim: string }
  | { readonly mode: 'inline'; readonly claim: string; readonly spec: InlineClaimSpec };

export const inlineClaimName = (deployment: string): string => `${deployment}-ipam`;

/**
 * With an inline spec the deployment manages the claim: it is named by `ref` when the user gave one (the name the
 * controller writes back, or one the user chose), else `<deployment>-ipam`. So a deployment with both `ref` and
 * `spec` — the normal state once the controller has written `ref` — is just an inline one.
 */
export function attachment(d: ClusterDeployment): Attachment {
  const ic = d.spec.ipamClaim;
  if (ic?.spec) return { mode: 'inline', claim: ic.ref || inlineClaimName(d.metadata.name ?? ''), spec: ic.spec };
  if (ic?.ref) return { mode: 'ref', claim: ic.ref };
  return { mode: 'none' };
}

/** The inline claim's spec: the deployment's, for the deployment, keeping the clusterIPAMRef the controller wrote. */
export function inlineClaimSpec(
  deployment: string,
  inline: InlineClaimSpec,
  current?: ClusterIPAMClaimSpec,
): ClusterIPAMClaimSpec {
  // cluster and clusterIPAMRef are not the user's to set here: the claim is this deployment's.
  const { cluster: _cluster, clusterIPAMRef: _ref, ...rest } = inline;
  return {
    ...rest,
    cluster: deployment,
    ...(current?.clusterIPAMRef ? { clusterIPAMRef: current.clusterIPAMRef } : {}),
  };
}

/**
 * `spec.config` with `ipamEnabled: true`, `<entry.name>: <entry>` for each providerData entry and `extra` (the
 * allocated controlPlaneEndpointIP), other keys
 * untouched; undefined when it already has them (so a bound deployment is written once).
 */
export function mergeIpamConfig(
  config: Readonly<Record<string, unknown>> | undefined,
  entries: readonly ProviderData[],
  extra: Readonly<Record<string, unknown>> = {},
): Record<string, unknown> | undefined {
  const values: Record<string, unknown> = { ipamEnabled: true, ...extra };
  for (const e of entries) values[e.name] = e;
  const current = config ?? {};
  if (Object.entries(values).every(([k, v]) => sameJSON(current[k], v))) return undefined;
  return { ...current, ...values };
}

export type CapacityResult =
  | { readonly ok: true; readonly message: string }
  | { readonly ok: false; readonly reason: 'InsufficientAddresses' | 'InvalidConfig'; readonly message: string };

const counted = [
  { key: 'controlPlaneNumber', what: 'control plane' },
  { key: 'workersNumber', what: 'worker' },
] as const;

/** Addresses of the node network that other pools of the claim's address domain hold (in-cluster provider). */
export interface HeldByOthers {
  readonly count: bigint;
  readonly domain: AddressDomain;
}

/**
 * Does the node network hold every machine `config` asks for plus one, which a rolling update creates before it
 * deletes (plus the control-plane endpoint when `endpoint`: it takes one of the node network's addresses)? Checked only when the config says how many machines it wants. Addresses that other pools of the claim's
 * address domain hold (overlap allowed, or the global domain) are not available. For Infoblox the network's usable
 * size is an upper bound: the appliance may have handed out some of it already.
 */
export function checkNodeCapacity(
  config: Readonly<Record<string, unknown>> | undefined,
  node: NetworkPlan,
  claim: string,
  infoblox: boolean,
  held?: HeldByOthers,
  endpoint = false,
): CapacityResult {
  const parts: string[] = [];
  let machines = 0;
  for (const { key, what } of counted) {
    const value = config?.[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      return {
        ok: false,
        reason: 'InvalidConfig',
        message: `spec.config.${key}: ${JSON.stringify(value)} is not a whole number of machines`,
      };
    }
    machines += value;
    parts.push(`${value} ${what}`);
  }
  if (parts.length === 0) return { ok: true, message: '' };
  const needed = BigInt(machines + 1 + (endpoint ? 1 : 0));
  const size = node.pool.usable.size;
  const taken = held && held.count > 0n ? (held.count < size ? held.count : size) : 0n;
  const available = size - taken;
  const shortfall = needed > available ? needed - available : 0n;
  const usable =
    `${infoblox ? 'at most ' : ''}${size} usable` +
    (taken > 0n
      ? `, ${taken} of them held by other pools of ${domainTitle(held!.domain)}, so ${available} available`
      : '');
  const extra = endpoint ? ' and 1 for the control-plane endpoint' : '';
  const ask = `spec.config asks for ${parts.join(' + ')} machines plus 1 for a rolling update${extra}: ${needed} addresses`;
  if (shortfall === 0n) return { ok: true, message: `${ask}; the node network has ${usable}` };
  return {
    ok: false,
    reason: 'InsufficientAddresses',
    message:
      `${ask}, but the node network of ClusterIPAMClaim ${claim} (${node.path}: ${node.pool.addresses}) has ` +
      `${usable}: ${shortfall} address${shortfall === 1n ? '' : 'es'} missing`,
  };
}

/**
 * A hand-set `spec.config.controlPlaneEndpointIP` that is no IP address (`10.0.0.300`, `"::gg"`, a number): the
 * template would get it as it is and the cluster fail long after IPAMReady said True, so the gate refuses it.
 * Unset or empty is fine (allocated, or left to the user).
 */
export function checkEndpointConfig(
  config: Readonly<Record<string, unknown>> | undefined,
): { readonly reason: 'InvalidConfig'; readonly message: string } | undefined {
  const given = config?.controlPlaneEndpointIP;
  if (given === undefined || given === null || given === '') return undefined;
  let why: string;
  if (typeof given !== 'string') {
    why = `${JSON.stringify(given)} is not an IP address (give it as a string, e.g. "192.0.2.10")`;
  } else {
    try {
      parseAddress(given);
      return undefined;
    } catch (err) {
      why = err instanceof Error ? err.message : String(err);
    }
  }
  return { reason: 'InvalidConfig', message: `spec.config.controlPlaneEndpointIP: ${why}` };
}

/** The IPAddressClaim the gate makes for a deployment's control-plane endpoint address. */
export const endpointClaimName = (deployment: string): string => `${deployment}-endpoint`;

/** On a ClusterDeployment: take the endpoint address from the node network when the claim has no externalNetwork. */
export const endpointFromNodeNetworkAnnotation = 'k0rdent.mirantis.com/endpoint-from-node-network';

/**
 * The network an unset controlPlaneEndpointIP is allocated from: the claim's externalNetwork, else its nodeNetwork
 * when the deployment asks for it with the annotation, else none (the user sets it).
 */
export function endpointNetwork(
  plan: ClaimPlan,
  annotations: Readonly<Record<string, string>> | undefined,
): NetworkPlan | undefined {
  const external = plan.networks.find((n) => n.network === 'externalNetwork');
  if (external) return external;
  if (annotations?.[endpointFromNodeNetworkAnnotation] !== 'true') return undefined;
  return plan.networks.find((n) => n.network === 'nodeNetwork');
}

/** How IPAMReady and `cluster-ipam check` say a hand-set endpoint address was kept from the machines. */
export const endpointExcludedMessage = (address: string): string =>
  `controlPlaneEndpointIP ${address} is inside the node network; excluded from node addresses`;

/**
 * Whether the control-plane endpoint takes one of the node network's usable addresses (in-cluster provider): set by
 * hand inside it (excluded from the machines), or, unset, allocated from it by the annotation.
 */
export function endpointInNodeNetwork(
  d: Pick<ClusterDeployment, 'metadata' | 'spec'>,
  plan: ClaimPlan,
  node: NetworkPlan,
): boolean {
  const given = d.spec.config?.controlPlaneEndpointIP;
  if (typeof given === 'string' && given !== '') {
    try {
      const a = parseAddress(given);
      return node.pool.usable.family === a.family && node.pool.usable.has(a.value);
    } catch {
      return false;
    }
  }
  return endpointNetwork(plan, d.metadata.annotations) === node;
}
