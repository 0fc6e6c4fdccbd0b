// Names and keys of the in-cluster provider.
import {
  addressDomain,
  domainNameSuffix,
  globalInClusterIPPoolKind,
  inClusterIPPoolKind,
  ipamGroup,
  type AddressDomain,
} from '../../api/index.ts';
import { formatAddress, parseAddress, type Address } from '../../core/index.ts';
import type { PoolRef } from '../types.ts';

export const poolKinds = [inClusterIPPoolKind.kind, globalInClusterIPPoolKind.kind] as const;
export type PoolKind = (typeof poolKinds)[number];

export function isInClusterPoolRef(ref: PoolRef | undefined): ref is PoolRef & { kind: PoolKind } {
  return ref?.apiGroup === ipamGroup && (poolKinds as readonly string[]).includes(ref.kind);
}

/** `InClusterIPPool/<namespace>/<name>` or `GlobalInClusterIPPool//<name>`: one string per pool object. */
export function poolKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${kind === inClusterIPPoolKind.kind ? (namespace ?? '') : ''}/${name}`;
}

/** How users name the pool in messages: `InClusterIPPool ns/name`, `GlobalInClusterIPPool name`. */
export function poolTitle(key: string): string {
  const [kind, namespace, ...name] = key.split('/');
  return namespace ? `${kind} ${namespace}/${name.join('/')}` : `${kind} ${name.join('/')}`;
}

/** The domain a pool key belongs to when its pool carries no domain annotation (or is not known). */
export function defaultDomainOfKey(key: string): AddressDomain {
  const [kind, namespace] = key.split('/');
  return addressDomain({ kind, metadata: { namespace: namespace || undefined } });
}

/**
 * The reservation object's name: a function of the domain and the address alone, a valid DNS subdomain, and one
 * name per address and domain (IPv6 groups are written in full, without leading zeros, so `2001:db8::1` and
 * `2001:0db8:0::1` agree): `ipv4-10-0-0-5` in the global domain, `ipv4-10-0-0-5.ns.tenant-a` in namespace
 * tenant-a's, `ipv4-10-0-0-5.domain.blue` in the named domain blue.
 */
export function reservationName(domain: AddressDomain, address: Address): string {
  return addressName(address) + domainNameSuffix(domain);
}

/** The domain's IPAddressLedger: `global`, `ns.tenant-a`, `domain.blue` (one per domain, a valid DNS subdomain). */
export function ledgerName(domain: AddressDomain): string {
  return domainNameSuffix(domain).slice(1) || 'global';
}

function addressName(address: Address): string {
  if (address.family === 4) return `ipv4-${formatAddress(address).replaceAll('.', '-')}`;
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((address.value >> shift) & 0xffffn).toString(16));
  return `ipv6-${groups.join('-')}`;
}

/** `family/value`, the book's key of an address. */
export const addressKey = (a: Address): string => `${a.family}/${a.value}`;

/** Parses an address written in an object, undefined if it is not one (objects may predate validation). */
export function tryParseAddress(text: string | undefined): Address | undefined {
  if (!text) return undefined;
  try {
    return parseAddress(text);
  } catch {
    return undefined;
  }
}
