// The object types a WAPI client seeds or looks up: network views, DNS views, networks and zones (host records are
// in hosts.ts). Each accepts the POST of §4.4 (seeding goes through the same API as on a real appliance).
import { formatAddress, formatCidr, IpParseError, parseCidr, type Family } from '../../core/ip.ts';
import { dataNotFound, duplicateObject, protoError } from './errors.ts';
import {
  checkBody,
  common,
  commonFields,
  escape,
  extAttrTypes,
  requiredText,
  text,
  type DNSViewObject,
  type ExtAttrDefObject,
  type Kind,
  type NetworkObject,
  type NetworkViewObject,
  type Store,
  type ZoneObject,
} from './model.ts';

/** Updates of these objects change only what a provider never relies on. */
function updateCommon<O extends NetworkViewObject | DNSViewObject | NetworkObject | ZoneObject>(
  store: Store,
  o: O,
  raw: unknown,
): O {
  return { ...o, ...common(store, checkBody(raw, ['comment', 'extattrs', '_ref']), o) };
}

export function networkViewExists(store: Store, name: string): void {
  if (!store.all('networkview').some((v) => v.name === name)) throw dataNotFound(`Network view ${name} not found`);
}

function dnsViewExists(store: Store, name: string): void {
  if (!store.all('view').some((v) => v.name === name)) throw dataNotFound(`DNS view ${name} not found`);
}

/**
 * `extensibleattributedef`: what an administrator defines before any object can carry the attribute. Its `type`
 * cannot change, and the simulator keeps no `flags`, `default_value` or `list_values`.
 */
export const extAttrDefKind: Kind<ExtAttrDefObject> = {
  internal: 'grid.extensible_attributes_def',
  defaults: ['comment', 'default_value', 'name', 'type'],
  fields: { comment: (o) => o.comment, name: (o) => o.name, type: (o) => o.valueType },
  search: { name: (o, v) => o.name === v, type: (o, v) => o.valueType === v },
  readable: (o) => escape(o.name),
  create(store, raw) {
    const body = checkBody(raw, ['name', 'type', 'comment']);
    const name = requiredText(body, 'name');
    const valueType = requiredText(body, 'type') as ExtAttrDefObject['valueType'];
    if (!extAttrTypes.includes(valueType)) {
      throw protoError(`Invalid value for type: ${JSON.stringify(valueType)}: the simulator knows ${extAttrTypes}`);
    }
    if (store.all('extensibleattributedef').some((d) => d.name === name)) {
      throw duplicateObject(name, 'extensibleattributedef');
    }
    const comment = text(body, 'comment');
    return {
      type: 'extensibleattributedef',
      opaque: store.newOpaque(this.internal),
      name,
      valueType,
      ...(comment === undefined ? {} : { comment }),
      extattrs: {},
    };
  },
  update(_store, o, raw) {
    const body = checkBody(raw, ['comment', '_ref'], ['name', 'type']);
    const comment = text(body, 'comment') ?? o.comment;
    return { ...o, ...(comment === undefined ? {} : { comment }) };
  },
};

export const networkViewKind: Kind<NetworkViewObject> = {
  internal: 'dns.network_view',
  defaults: ['comment', 'is_default', 'name'],
  fields: { ...commonFields, name: (o) => o.name, is_default: (o) => o.isDefault },
  search: { name: (o, v) => o.name === v, is_default: (o, v) => String(o.isDefault) === v },
  readable: (o) => `${escape(o.name)}/${o.isDefault}`,
  create(store, raw) {
    const body = checkBody(raw, ['name', 'comment', 'extattrs']);
    const name = requiredText(body, 'name');
    if (store.all('networkview').some((v) => v.name === name)) throw duplicateObject(name, 'networkview');
    return {
      type: 'networkview',
      opaque: store.newOpaque(this.internal),
      name,
      isDefault: false,
      ...common(store, body),
    };
  },
  update: updateCommon,
  // NIOS gives every network view a DNS view of its own, `default.<name>` (spec 04 §4.2 relies on it).
  companions: (store, o) =>
    store.all('view').some((v) => v.name === `default.${o.name}`)
      ? []
      : [['view', { name: `default.${o.name}`, network_view: o.name }]],
};

export const dnsViewKind: Kind<DNSViewObject> = {
  internal: 'dns.view',
  // NIOS answers comment, is_default and name; §4.3 shows network_view too, and it costs nothing to add.
  defaults: ['comment', 'is_default', 'name', 'network_view'],
  fields: {
    ...commonFields,
    name: (o) => o.name,
    is_default: (o) => o.isDefault,
    network_view: (o) => o.networkView,
  },
  search: {
    name: (o, v) => o.name === v,
    network_view: (o, v) => o.networkView === v,
    is_default: (o, v) => String(o.isDefault) === v,
  },
  readable: (o) => `${escape(o.name)}/${o.isDefault}`,
  create(store, raw) {
    const body = checkBody(raw, ['name', 'network_view', 'comment', 'extattrs']);
    const name = requiredText(body, 'name');
    const networkView = text(body, 'network_view') ?? 'default';
    networkViewExists(store, networkView);
    if (store.all('view').some((v) => v.name === name)) throw duplicateObject(name, 'view');
    return {
      type: 'view',
      opaque: store.newOpaque(this.internal),
      name,
      networkView,
      isDefault: false,
      ...common(store, body),
    };
  },
  update: updateCommon,
};

function networkKind(type: NetworkObject['type'], family: Family, internal: string): Kind<NetworkObject> {
  return {
    internal,
    defaults: ['comment', 'network', 'network_view'],
    fields: { ...commonFields, network: (o) => o.network, network_view: (o) => o.networkView },
    // Exact text: a search names the network in canonical form (§4.4).
    search: { network: (o, v) => o.network === v, network_view: (o, v) => o.networkView === v },
    readable: (o) => `${escape(formatAddress({ family, value: o.cidr.lo }))}/${o.cidr.prefix}/${escape(o.networkView)}`,
    create(store, raw) {
      const body = checkBody(raw, ['network', 'network_view', 'comment', 'extattrs']);
      const given = requiredText(body, 'network');
      let cidr;
      try {
        cidr = parseCidr(given);
      } catch (err) {
        if (err instanceof IpParseError) throw protoError(`Invalid value for network: ${JSON.stringify(given)}`);
        throw err;
      }
      if (cidr.family !== family) {
        throw protoError(`Invalid value for network: ${JSON.stringify(given)}: not an IPv${family} network`);
      }
      const network = formatCidr(family, cidr.lo, cidr.prefix);
      const networkView = text(body, 'network_view') ?? 'default';
      networkViewExists(store, networkView);
      if (store.all(type).some((n) => n.network === network && n.networkView === networkView)) {
        throw duplicateObject(network, type);
      }
      return { type, opaque: store.newOpaque(internal), cidr, network, networkView, ...common(store, body) };
    },
    update: updateCommon,
  };
}

export const networkKinds = {
  network: networkKind('network', 4, 'dns.network'),
  ipv6network: networkKind('ipv6network', 6, 'dns.ipv6network'),
  networkcontainer: networkKind('networkcontainer', 4, 'dns.network_container'),
};

/** Zone names and host names compare as DNS names: case-insensitive, a trailing dot meaning nothing. */
export const dnsName = (name: string) => name.toLowerCase().replace(/\.$/, '');

export const zoneKind: Kind<ZoneObject> = {
  internal: 'dns.zone',
  defaults: ['fqdn', 'view'],
  fields: { ...commonFields, fqdn: (o) => o.fqdn, view: (o) => o.view, zone_format: () => 'FORWARD' },
  search: { fqdn: (o, v) => o.fqdn === dnsName(v), view: (o, v) => o.view === v },
  readable: (o) => `${escape(o.fqdn)}/${escape(o.view)}`,
  create(store, raw) {
    const body = checkBody(raw, ['fqdn', 'view', 'zone_format', 'comment', 'extattrs']);
    const fqdn = dnsName(requiredText(body, 'fqdn'));
    const format = text(body, 'zone_format') ?? 'FORWARD';
    if (format !== 'FORWARD') throw protoError(`zone_format ${format} is not supported by the simulator`);
    const view = text(body, 'view') ?? 'default';
    dnsViewExists(store, view);
    if (store.all('zone_auth').some((z) => z.fqdn === fqdn && z.view === view))
      throw duplicateObject(fqdn, 'zone_auth');
    return { type: 'zone_auth', opaque: store.newOpaque(this.internal), fqdn, view, ...common(store, body) };
  },
  update: updateCommon,
};
