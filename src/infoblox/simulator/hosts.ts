// `record:host`: the object the provider allocates with. POST and PUT bodies as §4.3/§4.4 describe them, addresses by
// `func:nextavailableip` (the lowest free address of the network, skipping the network and broadcast addresses and
// every address a host record of the network view holds), DNS only inside an authoritative zone.
import { formatAddress, formatCidr, IpParseError, parseAddress, parseCidr, type Family } from '../../core/ip.ts';
import { noDNSView } from '../wire.ts';
import { conflict, dataNotFound, networkFull, parentNotFound, protoError, refNotFound } from './errors.ts';
import { dnsName, networkViewExists } from './kinds.ts';
import {
  checkBody,
  common,
  commonFields,
  escape,
  flag,
  list,
  parseRef,
  requiredText,
  strings,
  text,
  unsigned,
  type Body,
  type HostAddress,
  type HostObject,
  type Kind,
  type NetworkObject,
  type Store,
} from './model.ts';

const writable = ['name', 'view', 'configure_for_dns', 'ipv4addrs', 'ipv6addrs', 'comment', 'extattrs', 'aliases'];
const ttlFields = ['use_ttl', 'ttl'];

const familyFields = {
  4: { list: 'ipv4addrs', field: 'ipv4addr', id: 'mac', refType: 'record:host_ipv4addr' },
  6: { list: 'ipv6addrs', field: 'ipv6addr', id: 'duid', refType: 'record:host_ipv6addr' },
} as const;

function wireAddress(host: HostObject, a: HostAddress): Record<string, unknown> {
  const f = familyFields[a.family];
  const id = a.family === 4 ? a.mac : a.duid;
  return {
    _ref: `${f.refType}/${a.opaque}:${escape(a.address)}/${escape(host.name)}/${escape(host.view)}`,
    [f.field]: a.address,
    host: host.name,
    configure_for_dhcp: a.configureForDHCP,
    ...(id ? { [f.id]: id } : {}),
  };
}

function hasAddress(host: HostObject, family: Family, value: string): boolean {
  let wanted: string;
  try {
    wanted = formatAddress(parseAddress(value));
  } catch {
    return false;
  }
  return (family === 4 ? host.ipv4 : host.ipv6).some((a) => a.address === wanted);
}

export const hostKind: Kind<HostObject> = {
  internal: 'dns.host',
  defaults: ['ipv4addrs', 'ipv6addrs', 'name', 'view'],
  fields: {
    ...commonFields,
    name: (o) => o.name,
    view: (o) => o.view,
    network_view: (o) => o.networkView,
    zone: (o) => o.zone,
    configure_for_dns: (o) => o.configureForDNS,
    ipv4addrs: (o) => o.ipv4.map((a) => wireAddress(o, a)),
    ipv6addrs: (o) => o.ipv6.map((a) => wireAddress(o, a)),
    aliases: (o) => [...o.aliases],
    use_ttl: (o) => o.useTTL,
    ttl: (o) => o.ttl,
  },
  // `name=` is exact and case-sensitive (§4.4), not a prefix or a DNS comparison.
  search: {
    name: (o, v) => o.name === v,
    view: (o, v) => o.view === v,
    network_view: (o, v) => o.networkView === v,
    zone: (o, v) => o.zone !== undefined && o.zone === dnsName(v),
    ipv4addr: (o, v) => hasAddress(o, 4, v),
    ipv6addr: (o, v) => hasAddress(o, 6, v),
    comment: (o, v) => o.comment === v,
  },
  readable: (o) => `${escape(o.name)}/${escape(o.view)}`,
  create: (store, raw) => buildHost(store, checkBody(raw, [...writable, ...ttlFields, 'network_view'], ['zone'])),
  // The record's network view cannot change; infoblox-go-client leaves it (and zone, and each address's host) out.
  update: (store, o, raw) =>
    buildHost(store, checkBody(raw, [...writable, ...ttlFields, '_ref'], ['zone', 'network_view']), o),
};

/** The longest authoritative zone of `view` that `name` lies in. */
function zoneOf(store: Store, view: string, name: string): string | undefined {
  const n = dnsName(name);
  return store
    .all('zone_auth')
    .filter((z) => z.view === view && (n === z.fqdn || n.endsWith(`.${z.fqdn}`)))
    .map((z) => z.fqdn)
    .sort((a, b) => b.length - a.length)[0];
}

function buildHost(store: Store, body: Body, old?: HostObject): HostObject {
  const name = old && body.name === undefined ? old.name : requiredText(body, 'name');
  const networkView = old?.networkView ?? text(body, 'network_view') ?? 'default';
  networkViewExists(store, networkView);
  // WAPI's default is true: a client that wants no DNS says so.
  const configureForDNS = flag(body, 'configure_for_dns') ?? old?.configureForDNS ?? true;
  const others = store.all('record:host').filter((h) => h.opaque !== old?.opaque);
  let view = noDNSView;
  let zone: string | undefined;
  if (configureForDNS) {
    view = text(body, 'view') ?? (old?.configureForDNS ? old.view : 'default');
    zone = zoneOf(store, view, name);
    if (zone === undefined) throw parentNotFound();
    // Only DNS names are unique: host records without DNS may share a name, which is how a POST retried after a
    // committed answer was lost leaves two records that every later search finds (§4.4).
    if (others.some((h) => h.configureForDNS && h.view === view && dnsName(h.name) === dnsName(name))) {
      throw conflict(`The record '${name}' already exists.`);
    }
  }
  const addresses = new AddressBuilder(store, others);
  const ipv4 = addresses.family(4, list(body, 'ipv4addrs'), old?.ipv4);
  const ipv6 = addresses.family(6, list(body, 'ipv6addrs'), old?.ipv6);
  // Not checked against an appliance: NIOS keeps no host record without an address, and neither do we.
  if (ipv4.length + ipv6.length === 0) throw conflict('A host record requires at least one IP address.');
  const ttl = unsigned(body, 'ttl') ?? old?.ttl;
  return {
    type: 'record:host',
    opaque: old?.opaque ?? store.newOpaque(hostKind.internal),
    name,
    view,
    networkView,
    configureForDNS,
    ...(zone === undefined ? {} : { zone }),
    aliases: strings(body, 'aliases') ?? old?.aliases ?? [],
    useTTL: flag(body, 'use_ttl') ?? old?.useTTL ?? false,
    ...(ttl === undefined ? {} : { ttl }),
    ...common(store, body, old),
    ipv4,
    ipv6,
  };
}

interface Entry {
  keep?: HostAddress;
  explicit?: { value: bigint; address: string };
  func?: string;
  dhcp?: boolean;
  id?: string;
}

/** The addresses of one host record being written: kept ones first, so that functions allocate around them. */
class AddressBuilder {
  constructor(
    private readonly store: Store,
    private readonly others: readonly HostObject[],
  ) {}

  family(family: Family, given: unknown[] | undefined, old: readonly HostAddress[] = []): HostAddress[] {
    if (given === undefined) return [...old];
    const f = familyFields[family];
    const entries = given.map((raw): Entry => {
      const e = checkBody(raw, [f.field, '_ref', 'configure_for_dhcp', f.id], ['host']);
      const value = text(e, f.field);
      const ref = text(e, '_ref');
      const common = { dhcp: flag(e, 'configure_for_dhcp'), id: text(e, f.id) };
      if (value?.startsWith('func:')) return { func: value, ...common };
      if (value !== undefined) {
        const parsed = parseAs(family, f.field, value);
        const keep = old.find((a) => a.value === parsed.value);
        return keep ? { keep, ...common } : { explicit: parsed, ...common };
      }
      if (ref === undefined) throw protoError(`Field ${f.field} is required`);
      const keep = old.find((a) => a.opaque === parseRef(ref)?.opaque);
      if (!keep) throw refNotFound(ref);
      return { keep, ...common };
    });
    const taken = new Set<bigint>();
    for (const e of entries) taken.add(e.keep?.value ?? e.explicit?.value ?? -1n);
    return entries.map((e) => {
      const id = e.id ?? (family === 4 ? e.keep?.mac : e.keep?.duid);
      const base = {
        family,
        configureForDHCP: e.dhcp ?? e.keep?.configureForDHCP ?? false,
        ...(id ? { [f.id]: id } : {}),
      };
      if (e.keep) return { ...e.keep, ...base };
      const { value, address } = e.explicit ?? this.allocate(family, e.func!, taken);
      taken.add(value);
      return { opaque: this.store.newOpaque('dns.host_address'), address, value, ...base };
    });
  }

  /** `func:nextavailableip:<cidr>[,<networkView>]` or `func:nextavailableip:<network ref>`. */
  private allocate(family: Family, func: string, taken: ReadonlySet<bigint>): { value: bigint; address: string } {
    const arg = /^func:nextavailableip:(.+)$/s.exec(func)?.[1];
    if (arg === undefined) throw protoError(`Unknown function call: ${func}`);
    const network = this.network(arg);
    if (network.cidr.family !== family) {
      throw protoError(`Invalid value for ${familyFields[family].field}: ${func}: not an IPv${family} network`);
    }
    const { lo, hi, prefix } = network.cidr;
    // IPv4 skips the network and broadcast addresses (not on /31 and /32); IPv6 the subnet-router anycast (::0).
    const first = (family === 4 && prefix <= 30) || (family === 6 && prefix < 128) ? lo + 1n : lo;
    const last = family === 4 && prefix <= 30 ? hi - 1n : hi;
    const used = new Set(taken);
    for (const h of this.others) {
      if (h.networkView !== network.networkView) continue;
      for (const a of family === 4 ? h.ipv4 : h.ipv6) used.add(a.value);
    }
    let candidate = first;
    for (const u of [...used].filter((u) => u >= first && u <= last).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (u === candidate) candidate++;
      else if (u > candidate) break;
    }
    if (candidate > last) throw networkFull();
    return { value: candidate, address: formatAddress({ family, value: candidate }) };
  }

  private network(arg: string): NetworkObject {
    if (/^(ipv6)?network\//.test(arg)) {
      const o = this.store.resolve(arg);
      if (o?.type !== 'network' && o?.type !== 'ipv6network') throw refNotFound(arg);
      return o;
    }
    const [cidrText = '', view = 'default', ...rest] = arg.split(',');
    if (rest.length) throw protoError(`The simulator supports no range in func:nextavailableip:${arg}`);
    let canonical: string;
    let family: Family;
    try {
      const c = parseCidr(cidrText);
      family = c.family;
      canonical = formatCidr(family, c.lo, c.prefix);
    } catch (err) {
      if (err instanceof IpParseError) throw protoError(`Invalid network in func:nextavailableip:${arg}`);
      throw err;
    }
    const found = this.store
      .all(family === 4 ? 'network' : 'ipv6network')
      .find((n) => n.network === canonical && n.networkView === view);
    if (!found) throw dataNotFound(`Network ${canonical} not found in network view ${view}`);
    return found;
  }
}

function parseAs(family: Family, field: string, value: string): { value: bigint; address: string } {
  try {
    const a = parseAddress(value);
    if (a.family === family) return { value: a.value, address: formatAddress(a) };
  } catch (err) {
    if (!(err instanceof IpParseError)) throw err;
  }
  throw protoError(`Invalid value for ${field}: ${JSON.stringify(value)}`);
}
