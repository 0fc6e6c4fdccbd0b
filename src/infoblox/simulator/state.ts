// The simulator's appliance: objects in memory and the WAPI operations on them (search, read, create, update,
// delete), free of HTTP so that they are tested on their own. Every operation either applies fully or throws a
// WapiFault and changes nothing.
import type { HostRecordIdentity } from '../wire.ts';
import { protoError, refNotFound, unknownField } from './errors.ts';
import { hostKind } from './hosts.ts';
import { dnsViewKind, extAttrDefKind, networkKinds, networkViewKind, zoneKind } from './kinds.ts';
import {
  extAttrSearch,
  parseRef,
  type Kind,
  type ObjectOf,
  type ObjectType,
  type Store,
  type WapiObject,
} from './model.ts';

export type { ObjectType } from './model.ts';

const kinds: Record<ObjectType, Kind<WapiObject>> = {
  extensibleattributedef: extAttrDefKind,
  networkview: networkViewKind,
  view: dnsViewKind,
  ...networkKinds,
  zone_auth: zoneKind,
  'record:host': hostKind,
} as unknown as Record<ObjectType, Kind<WapiObject>>;

export const objectTypes = Object.keys(kinds) as ObjectType[];

function kindOf(type: string): Kind<WapiObject> {
  if (!Object.hasOwn(kinds, type)) throw protoError(`Unknown object type (${type})`);
  return kinds[type as ObjectType];
}

/** `_return_fields` (replacing the defaults) and `_return_fields+` (adding to them); repeats are a union. */
export interface ReturnFields {
  fields?: readonly string[];
  extra?: readonly string[];
}

export interface SearchOptions extends ReturnFields {
  /** `_max_results`: N > 0 refuses more than N results, -N truncates to N (default 1000). */
  maxResults?: number;
}

/** A host record as the inspection endpoint lists it. */
export interface HostRecordSummary extends HostRecordIdentity {
  ipv4addrs: string[];
  ipv6addrs: string[];
}

export class WapiState implements Store {
  private readonly objects = new Map<string, WapiObject>();
  private seq = 0;

  constructor() {
    // What every appliance has from the start.
    const common = { extattrs: {}, isDefault: true, name: 'default' };
    this.insert({ type: 'networkview', opaque: this.newOpaque(networkViewKind.internal), ...common });
    this.insert({ type: 'view', opaque: this.newOpaque(dnsViewKind.internal), networkView: 'default', ...common });
  }

  all<T extends ObjectType>(type: T): ObjectOf<T>[] {
    return [...this.objects.values()].filter((o) => o.type === type) as ObjectOf<T>[];
  }

  newOpaque(internal: string): string {
    for (;;) {
      const opaque = Buffer.from(`${internal}$${++this.seq}`).toString('base64url').replaceAll('-', '_');
      if (!this.objects.has(opaque)) return opaque;
    }
  }

  resolve(ref: string): WapiObject | undefined {
    const parsed = parseRef(ref);
    const o = parsed && this.objects.get(parsed.opaque);
    return o?.type === parsed?.type ? o : undefined;
  }

  refOf(o: WapiObject): string {
    return `${o.type}/${o.opaque}:${kindOf(o.type).readable(o)}`;
  }

  /**
   * `GET <type>?<field>=<value>...`: exact matches of every argument, in creation order. `*<name>=<value>` matches
   * an extensible attribute (defined, else refused) on the types that carry them.
   */
  search(type: string, args: readonly (readonly [string, string])[], opts: SearchOptions = {}): unknown[] {
    const kind = kindOf(type);
    const fields = this.returnFields(kind, opts);
    const tests = args.map(([field, value]) => {
      const test =
        (Object.hasOwn(kind.search, field) ? kind.search[field] : undefined) ??
        (Object.hasOwn(kind.fields, 'extattrs') ? extAttrSearch(this, field) : undefined);
      if (!test) throw unknownField(field);
      return (o: WapiObject) => test(o, value);
    });
    const limit = opts.maxResults ?? 1000;
    if (limit === 0 || !Number.isInteger(limit)) throw protoError(`Invalid value for _max_results: ${limit}`);
    const found = this.all(type as ObjectType).filter((o) => tests.every((t) => t(o)));
    if (limit > 0 && found.length > limit) throw protoError(`Result set too large (> ${limit})`);
    return found.slice(0, Math.abs(limit)).map((o) => this.project(o, fields));
  }

  /** `GET <ref>`. */
  read(ref: string, opts: ReturnFields = {}): unknown {
    const o = this.lookup(ref);
    return this.project(o, this.returnFields(kindOf(o.type), opts));
  }

  /** `POST <type>`: the new object's ref. */
  create(type: string, body: unknown): string {
    const kind = kindOf(type);
    const o = kind.create(this, body);
    this.insert(o);
    for (const [t, b] of kind.companions?.(this, o) ?? []) this.create(t, b);
    return this.refOf(o);
  }

  /** `PUT <ref>`: the object's ref, which names its new state. */
  update(ref: string, body: unknown): string {
    const o = this.lookup(ref);
    const updated = kindOf(o.type).update(this, o, body);
    this.objects.set(o.opaque, updated);
    return this.refOf(updated);
  }

  /** `DELETE <ref>`: the ref. */
  delete(ref: string): string {
    const o = this.lookup(ref);
    this.objects.delete(o.opaque);
    return this.refOf(o);
  }

  hostRecords(): HostRecordSummary[] {
    return this.all('record:host').map((h) => ({
      ref: this.refOf(h),
      name: h.name,
      view: h.view,
      networkView: h.networkView,
      configureForDNS: h.configureForDNS,
      ...(h.zone === undefined ? {} : { zone: h.zone }),
      ipv4addrs: h.ipv4.map((a) => a.address),
      ipv6addrs: h.ipv6.map((a) => a.address),
    }));
  }

  private insert(o: WapiObject): void {
    this.objects.set(o.opaque, o);
  }

  private lookup(ref: string): WapiObject {
    const o = this.resolve(ref);
    if (!o) {
      // A ref to a type that does not exist is a malformed request, not a missing object.
      const type = parseRef(ref)?.type;
      if (type !== undefined) kindOf(type);
      throw refNotFound(ref);
    }
    return o;
  }

  private returnFields(kind: Kind<WapiObject>, opts: ReturnFields): string[] {
    const asked = [...(opts.fields ?? []), ...(opts.extra ?? [])];
    for (const f of asked) if (!Object.hasOwn(kind.fields, f)) throw unknownField(f);
    return [...new Set([...(opts.fields ? [] : kind.defaults), ...asked])];
  }

  private project(o: WapiObject, fields: readonly string[]): Record<string, unknown> {
    const kind = kindOf(o.type);
    const out: Record<string, unknown> = { _ref: this.refOf(o) };
    for (const f of fields) {
      const v = kind.fields[f]!(o);
      if (v !== undefined) out[f] = structuredClone(v);
    }
    return out;
  }
}
