// The WAPI wire format shared by the client and the simulator (spec 04 §4.3/§4.4): JSON shapes as they travel, with
// WAPI's own field names. Both sides import these types, never each other's logic, so that each can be held against
// the other and against a real appliance.

/** The body of every WAPI error answer (not of 401, which is an HTML page). */
export interface WapiErrorBody {
  /** `<Class>: <detail>`, e.g. `AdmConDataNotFoundError: Reference ... not found`. */
  Error: string;
  /** e.g. `Client.Ibap.Data.NotFound`, `Client.Ibap.Data.Conflict`, `Client.Ibap.Proto`. */
  code: string;
  text: string;
}

export const ErrorCodes = {
  notFound: 'Client.Ibap.Data.NotFound',
  conflict: 'Client.Ibap.Data.Conflict',
  proto: 'Client.Ibap.Proto',
} as const;

/** What `extattrs` holds: `{"<name>": {"value": ...}}`. */
export type WireExtAttrs = Record<string, { value: unknown }>;

export interface WireHostIPv4Address {
  _ref?: string;
  ipv4addr: string;
  host?: string;
  configure_for_dhcp?: boolean;
  mac?: string;
}

export interface WireHostIPv6Address {
  _ref?: string;
  ipv6addr: string;
  host?: string;
  configure_for_dhcp?: boolean;
  duid?: string;
}

/** A `record:host` as read; fields not asked for, or that the record does not have, are absent. */
export interface WireHostRecord {
  _ref: string;
  name?: string;
  /** The DNS view; `" "` for a host record without DNS. */
  view?: string;
  network_view?: string;
  zone?: string;
  configure_for_dns?: boolean;
  ipv4addrs?: WireHostIPv4Address[];
  ipv6addrs?: WireHostIPv6Address[];
  comment?: string;
  extattrs?: WireExtAttrs;
  aliases?: string[];
  use_ttl?: boolean;
  ttl?: number;
}

export interface WireNetworkView {
  _ref: string;
  name?: string;
  is_default?: boolean;
  comment?: string;
  extattrs?: WireExtAttrs;
}

export interface WireDNSView extends WireNetworkView {
  network_view?: string;
}

/** `network`, `ipv6network` and `networkcontainer`. */
export interface WireNetwork {
  _ref: string;
  network?: string;
  network_view?: string;
  comment?: string;
  extattrs?: WireExtAttrs;
}

/** What identifies a host record and where it lives, as the client and the simulator's inspection endpoint give it. */
export interface HostRecordIdentity {
  ref: string;
  name: string;
  /** The DNS view; `" "` when the record is not configured for DNS. */
  view: string;
  networkView: string;
  configureForDNS: boolean;
  /** The authoritative zone the name lies in (DNS only). */
  zone?: string;
}

/**
 * The return fields infoblox-go-client asks for on host record searches (§4.4), which the provider's client asks for
 * too: everything a host record has that a provider reads or writes back.
 */
export const hostRecordFields = [
  'extattrs',
  'ipv4addrs',
  'ipv6addrs',
  'name',
  'view',
  'zone',
  'comment',
  'network_view',
  'aliases',
  'use_ttl',
  'ttl',
  'configure_for_dns',
] as const;

/** The `view` of a host record that is not configured for DNS. */
export const noDNSView = ' ';

/** `func:nextavailableip:<cidr>,<networkView>`: the next free address of that network, allocated by the appliance. */
export function nextAvailableIP(cidr: string, networkView: string): string {
  return `func:nextavailableip:${cidr},${networkView}`;
}
