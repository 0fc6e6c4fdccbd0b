// The simulator's objects, what every object type knows about itself (fields, search arguments, ref, create and
// update), and the checks of request bodies they share.
import type { Cidr, Family } from '../../core/ip.ts';
import type { WireExtAttrs } from '../wire.ts';
import { dataNotFound, protoError, unknownField } from './errors.ts';

export type ObjectType =
  | 'extensibleattributedef'
  | 'networkview'
  | 'view'
  | 'network'
  | 'ipv6network'
  | 'networkcontainer'
  | 'zone_auth'
  | 'record:host';

interface Common {
  /** The opaque part of the ref (`[A-Za-z0-9_]`), which never changes: refs are resolved by it alone. */
  readonly opaque: string;
  readonly comment?: string;
  readonly extattrs: WireExtAttrs;
}

/** The types of extensible attribute values the simulator checks; NIOS has DATE and ENUM too. */
export const extAttrTypes = ['STRING', 'INTEGER', 'EMAIL', 'URL'] as const;

/** An extensible attribute's definition: NIOS refuses values of attributes that have none. */
export interface ExtAttrDefObject extends Common {
  readonly type: 'extensibleattributedef';
  readonly name: string;
  readonly valueType: (typeof extAttrTypes)[number];
}

export interface NetworkViewObject extends Common {
  readonly type: 'networkview';
  readonly name: string;
  readonly isDefault: boolean;
}

export interface DNSViewObject extends Common {
  readonly type: 'view';
  readonly name: string;
  readonly networkView: string;
  readonly isDefault: boolean;
}

export interface NetworkObject extends Common {
  readonly type: 'network' | 'ipv6network' | 'networkcontainer';
  readonly cidr: Cidr;
  /** Canonical text: IPv6 compressed (RFC 5952), host bits cleared. */
  readonly network: string;
  readonly networkView: string;
}

export interface ZoneObject extends Common {
  readonly type: 'zone_auth';
  /** Lower case, without a trailing dot. */
  readonly fqdn: string;
  readonly view: string;
}

export interface HostAddress {
  readonly opaque: string;
  readonly family: Family;
  /** Canonical text. */
  readonly address: string;
  readonly value: bigint;
  readonly configureForDHCP: boolean;
  readonly mac?: string;
  readonly duid?: string;
}

export interface HostObject extends Common {
  readonly type: 'record:host';
  readonly name: string;
  /** The DNS view, or `" "` without DNS. */
  readonly view: string;
  readonly networkView: string;
  readonly configureForDNS: boolean;
  /** The authoritative zone the name lies in (DNS only). */
  readonly zone?: string;
  readonly aliases: readonly string[];
  readonly useTTL: boolean;
  readonly ttl?: number;
  readonly ipv4: readonly HostAddress[];
  readonly ipv6: readonly HostAddress[];
}

export type WapiObject = ExtAttrDefObject | NetworkViewObject | DNSViewObject | NetworkObject | ZoneObject | HostObject;

export type ObjectOf<T extends ObjectType> = T extends 'extensibleattributedef'
  ? ExtAttrDefObject
  : T extends 'networkview'
    ? NetworkViewObject
    : T extends 'view'
      ? DNSViewObject
      : T extends 'zone_auth'
        ? ZoneObject
        : T extends 'record:host'
          ? HostObject
          : NetworkObject;

/** What object types need from the store while they build an object. */
export interface Store {
  all<T extends ObjectType>(type: T): ObjectOf<T>[];
  newOpaque(internal: string): string;
  /** The object a ref names, or undefined (any readable suffix). */
  resolve(ref: string): WapiObject | undefined;
}

export interface Kind<O extends WapiObject> {
  /** The internal type name an opaque ref encodes (NIOS refs are base64 of something like it). */
  readonly internal: string;
  /** Answered when a request names no `_return_fields`. */
  readonly defaults: readonly string[];
  /** Field name → value for the answer; undefined leaves the field out. */
  readonly fields: Readonly<Record<string, (o: O) => unknown>>;
  /** Search argument → whether the object matches the value. */
  readonly search: Readonly<Record<string, (o: O, value: string) => boolean>>;
  readable(o: O): string;
  /** A new object from a POST body (not stored yet); throws WapiFault. */
  create(store: Store, body: unknown): O;
  /** The object a PUT body makes of `o`; throws WapiFault. */
  update(store: Store, o: O, body: unknown): O;
  /** Objects a create brings along (NIOS makes a DNS view per network view). */
  companions?(store: Store, o: O): [ObjectType, Body][];
}

// --- request bodies -------------------------------------------------------------------------------------------------

export type Body = Readonly<Record<string, unknown>>;

/** The body as an object whose keys are all `writable`; a read-only or unknown key is refused as WAPI does. */
export function checkBody(raw: unknown, writable: readonly string[], readOnly: readonly string[] = []): Body {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw protoError('The body must be a JSON object');
  for (const key of Object.keys(raw)) {
    if (readOnly.includes(key)) throw protoError(`Field is not writable: ${key}`);
    if (!writable.includes(key)) throw unknownField(key);
  }
  return raw as Body;
}

function invalid(field: string, value: unknown, want: string): never {
  throw protoError(`Invalid value for ${field}: ${JSON.stringify(value)}: Must be ${want}`);
}

export function text(body: Body, field: string): string | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : invalid(field, v, 'string type');
}

export function requiredText(body: Body, field: string): string {
  const v = text(body, field);
  if (!v) throw protoError(`Field ${field} is required and must not be empty`);
  return v;
}

export function flag(body: Body, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  return typeof v === 'boolean' ? v : invalid(field, v, 'boolean type');
}

export function unsigned(body: Body, field: string): number | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff
    ? (v as number)
    : invalid(field, v, 'an unsigned integer');
}

export function strings(body: Body, field: string): string[] | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  return Array.isArray(v) && v.every((s) => typeof s === 'string') ? v : invalid(field, v, 'a list of strings');
}

export function list(body: Body, field: string): unknown[] | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v : invalid(field, v, 'a list');
}

/** The definition of the extensible attribute `name`; NIOS refuses to write or search an attribute without one. */
export function extAttrDef(store: Store, name: string): ExtAttrDefObject {
  const def = store.all('extensibleattributedef').find((d) => d.name === name);
  if (!def) throw dataNotFound(`Unknown extensible attribute: ${name}`);
  return def;
}

/** Whether `value` fits an attribute of that type (a search argument is text: it is compared as text). */
function fits(def: ExtAttrDefObject, value: unknown): boolean {
  if (def.valueType === 'INTEGER') return Number.isInteger(value);
  return typeof value === 'string';
}

/** `extattrs` of a body, `{"<name>": {"value": ...}}`: each attribute defined, each value of its type. */
export function extattrs(store: Store, body: Body): WireExtAttrs | undefined {
  const v = body.extattrs;
  if (v === undefined) return undefined;
  const ok =
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.values(v).every((a) => typeof a === 'object' && a !== null && !Array.isArray(a) && 'value' in a);
  if (!ok) invalid('extattrs', v, 'an object of {"<name>": {"value": ...}}');
  const out: Record<string, { value: unknown }> = {};
  for (const [name, attr] of Object.entries(v as WireExtAttrs)) {
    const def = extAttrDef(store, name);
    if (!fits(def, attr.value)) invalid(`extensible attribute ${name}`, attr.value, `of type ${def.valueType}`);
    out[name] = { value: structuredClone(attr.value) };
  }
  return out;
}

/** `comment` and `extattrs`, which every object type has. A PUT's `extattrs` replaces them all, as on NIOS. */
export function common(store: Store, body: Body, old?: Common): Pick<Common, 'comment' | 'extattrs'> {
  const comment = text(body, 'comment') ?? old?.comment;
  return { ...(comment === undefined ? {} : { comment }), extattrs: extattrs(store, body) ?? old?.extattrs ?? {} };
}

/** The search argument `*<name>=<value>`: the object's attribute `name` has that value (as text). */
export function extAttrSearch(store: Store, arg: string): ((o: Common, value: string) => boolean) | undefined {
  if (!arg.startsWith('*')) return undefined;
  const name = arg.slice(1);
  extAttrDef(store, name);
  return (o, value) => {
    const v = o.extattrs[name]?.value;
    return v !== undefined && String(v) === value;
  };
}

export const commonFields = {
  comment: (o: { comment?: string }) => o.comment,
  extattrs: (o: { extattrs: unknown }) => o.extattrs,
};

/**
 * `<objtype>/<opaque>:<readable>` → type and opaque part; undefined when it is not a ref. The readable part is
 * whatever the client sends back (a double escape like `%2520` included): only the opaque part identifies.
 */
export function parseRef(ref: string): { type: string; opaque: string } | undefined {
  const m = /^([^/]+)\/([A-Za-z0-9_]+)(?:(?::|%3a).*)?$/is.exec(ref);
  if (!m) return undefined;
  let type = m[1]!;
  try {
    type = decodeURIComponent(type);
  } catch {
    // kept as sent: it names no type then
  }
  return { type, opaque: m[2]! };
}

/** For refs: the readable part escapes what a URL path cannot hold (a view `" "` becomes `%20`). */
export const escape = (s: string) => encodeURIComponent(s);
