// The names the Infoblox provider shares with its controllers, and the pure rules of spec 04 §4.2: which network
// view and DNS view a pool uses, which subnet holds an address, which pools a claim or an IPAddress refers to.
import { ipamGroup, type InfobloxInstance, type InfobloxIPPool } from '../../api/index.ts';
import { formatAddress, parseAddress, parseCidr, type Cidr } from '../../core/ip.ts';
import type { PoolRef } from '../types.ts';

/** On an IPAddressClaim: the host record's name. Read if present, written once resolved (spec 04 §4.2). */
export const hostnameAnnotation = 'ipam.cluster.x-k8s.io/hostname';

/** On an InfobloxInstance while pools use it: releases need it to reach the appliance. */
export const protectInstanceFinalizer = 'ipam.cluster.x-k8s.io/ProtectInstance';

/** Reasons of the Ready conditions of InfobloxInstance and InfobloxIPPool. */
export const InfobloxReasons = {
  /** Instance: the appliance answers with these credentials and its default views exist. */
  ConfigurationValid: 'ConfigurationValid',
  /** Pool: its network view, DNS view and every subnet exist. */
  Ready: 'Ready',
  /** The Secret is missing or incomplete, or the appliance refused its credentials (401/403). */
  AuthenticationFailed: 'AuthenticationFailed',
  /** No connection, a TLS failure (certificate, CA file), no answer in time. */
  ConnectionFailed: 'ConnectionFailed',
  /** The appliance answered with an error that is none of the above (a 5xx, a malformed answer). */
  ApplianceError: 'ApplianceError',
  NetworkViewNotFound: 'NetworkViewNotFound',
  DNSViewNotFound: 'DNSViewNotFound',
  NetworkNotFound: 'NetworkNotFound',
  /** Pool: its InfobloxInstance does not exist. */
  InstanceNotFound: 'InstanceNotFound',
  /** Pool: its InfobloxInstance has not been checked yet (for its current generation). */
  InstanceNotReady: 'InstanceNotReady',
  /** Pool: being deleted. */
  Deleting: 'Deleting',
} as const;

export const isInfobloxPoolRef = (ref: Partial<PoolRef> | undefined): ref is PoolRef =>
  ref?.kind === 'InfobloxIPPool' && (ref.apiGroup ?? ipamGroup) === ipamGroup && !!ref.name;

/** `namespace/name` of the pool a claim or an IPAddress in `namespace` names; undefined if not an Infoblox pool. */
export function poolKeyOf(ref: Partial<PoolRef> | undefined, namespace: string | undefined): string | undefined {
  return isInfobloxPoolRef(ref) ? `${namespace ?? ''}/${ref.name}` : undefined;
}

export const keyOf = (obj: { metadata: { namespace?: string; name?: string } }): string =>
  `${obj.metadata.namespace ?? ''}/${obj.metadata.name ?? ''}`;

/** The pool's network view: its own, else the instance's default, else WAPI's `default`. */
export function networkViewOf(pool: InfobloxIPPool, instance: InfobloxInstance | undefined): string {
  return pool.spec.networkView || instance?.spec.defaultNetworkView || 'default';
}

/**
 * The pool's DNS view (spec 04 §4.2): its own, else the instance's default, else `default` for the network view
 * `default`, else NIOS's `default.<networkView>`.
 */
export function dnsViewOf(pool: InfobloxIPPool, instance: InfobloxInstance | undefined): string {
  if (pool.spec.dnsView) return pool.spec.dnsView;
  if (instance?.spec.defaultDNSView) return instance.spec.defaultDNSView;
  const view = networkViewOf(pool, instance);
  return view === 'default' ? 'default' : `default.${view}`;
}

/** A pool's subnet, parsed. */
export interface Subnet {
  cidr: string;
  gateway?: string;
  parsed: Cidr;
}

/** The pool's subnets in order; one that does not parse (the schema forbids it) is skipped. */
export function subnetsOf(pool: InfobloxIPPool): Subnet[] {
  return pool.spec.subnets.flatMap((s) => {
    try {
      return [{ cidr: s.cidr, ...(s.gateway ? { gateway: s.gateway } : {}), parsed: parseCidr(s.cidr) }];
    } catch {
      return [];
    }
  });
}

/** The address in canonical text, or undefined if it is none. */
export function canonicalAddress(text: string): string | undefined {
  try {
    return formatAddress(parseAddress(text));
  } catch {
    return undefined;
  }
}

export function inSubnet(address: string, subnet: Cidr): boolean {
  try {
    const a = parseAddress(address);
    return a.family === subnet.family && a.value >= subnet.lo && a.value <= subnet.hi;
  } catch {
    return false;
  }
}
