// The seed: objects loaded at start, for local trials. Each entry is the body of the POST that would create it on an
// appliance (§4.4), under its object type, so one code path checks both:
//
//   extensibleattributedef: [{ name: cluster-ipam-claim-uid, type: STRING }]
//   networkview: [{ name: lab }]
//   network: [{ network: 10.0.0.0/24, network_view: default }]
//   ipv6network: [{ network: "fd00:50::/64" }]
//   zone_auth: [{ fqdn: example.test, view: default }]
//   record:host: [{ name: gw, configure_for_dns: false, ipv4addrs: [{ ipv4addr: 10.0.0.1 }] }]
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { WapiFault } from './errors.ts';
import type { ObjectType } from './model.ts';
import type { WapiState } from './state.ts';

export type Seed = Partial<Record<ObjectType, unknown[]>>;

/** Dependencies first: attribute definitions, views before networks and zones, those before host records. */
const order: readonly ObjectType[] = [
  'extensibleattributedef',
  'networkview',
  'view',
  'network',
  'ipv6network',
  'networkcontainer',
  'zone_auth',
  'record:host',
];

/** Creates every object of the seed; throws an Error naming the entry that WAPI would refuse. */
export function applySeed(state: WapiState, seed: unknown): void {
  if (seed === null || seed === undefined) return;
  if (typeof seed !== 'object' || Array.isArray(seed)) throw new Error('seed: a map of object type to a list');
  const unknown = Object.keys(seed).filter((k) => !order.includes(k as ObjectType));
  if (unknown.length) throw new Error(`seed: unknown object type(s) ${unknown.join(', ')}; known: ${order.join(', ')}`);
  for (const type of order) {
    const entries = (seed as Seed)[type] ?? [];
    if (!Array.isArray(entries)) throw new Error(`seed: ${type} must be a list`);
    entries.forEach((body, i) => {
      try {
        state.create(type, body);
      } catch (err) {
        if (err instanceof WapiFault) throw new Error(`seed: ${type}[${i}]: ${err.body.text}`);
        throw err;
      }
    });
  }
}

/** A seed file, YAML or JSON. */
export async function readSeedFile(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8');
  try {
    return parse(text);
  } catch (err) {
    throw new Error(`seed ${path}: ${(err as Error).message}`);
  }
}
