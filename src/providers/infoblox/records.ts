// What the provider does on the appliance, on a WapiClient and nothing else (spec 04 §4.2): find a host's address
// or allocate one (search by name first, then `func:nextavailableip`, subnet by subnet), keep an address already
// handed out, and give one back.
//
// Idempotency rests on the search by name: an allocation the appliance made but whose IPAddress was never written
// (a crash, or an answer lost after a committed POST) is found by the next attempt and used, never repeated. Two
// records of one name are reported and never resolved by picking one: which of them a machine uses cannot be told.
// Whether a failed write may have been applied is the caller's to weigh (WapiError.maybeCommitted): this module
// lets such errors through.
import type { HostAddress, HostRecord, WapiClient } from '../../infoblox/client.ts';
import { isAlreadyExists, isNetworkFull, isNotFound, isParentNotFound } from '../../infoblox/errors.ts';
import { canonicalAddress, inSubnet, type Subnet } from './names.ts';

/** Where and under which name a host's addresses live. */
export interface Placement {
  hostname: string;
  networkView: string;
  /** With a DNS zone: the DNS view the record is configured for. Without: no DNS. */
  dnsView?: string;
  /** Written on records this provider creates, for the appliance's administrators. */
  comment?: string;
}

export type Found = { address: string; subnet: Subnet; record: string };

export type Outcome =
  | Found
  | { failed: 'AllocationFailed' | 'PoolExhausted'; message: string }
  /** No address yet, and the caller said not to write (an earlier write's outcome is not known yet). */
  | { pending: true };

const addressesOf = (r: HostRecord): HostAddress[] => [...r.ipv4, ...r.ipv6];

const describe = (r: HostRecord): string =>
  `${r.ref} (${addressesOf(r)
    .map((a) => a.address)
    .join(', ')})`;

/** The AllocationFailed of two or more records of one name. */
export function ambiguous(placement: Placement, records: readonly HostRecord[]): Outcome {
  return {
    failed: 'AllocationFailed',
    message:
      `${records.length} host records are named "${placement.hostname}" in network view ${placement.networkView}: ` +
      `${records.map(describe).join('; ')}; which one the machine uses cannot be told: delete the extra ones on ` +
      'the appliance',
  };
}

function addressIn(record: HostRecord | undefined, subnet: Subnet): string | undefined {
  return record && addressesOf(record).find((a) => inSubnet(a.address, subnet.parsed))?.address;
}

/** The host's record: undefined if there is none, an Outcome if there are several. */
async function recordOf(
  client: WapiClient,
  placement: Placement,
  signal: AbortSignal,
): Promise<HostRecord | undefined | { failed: 'AllocationFailed'; message: string }> {
  const records = await client.findHostRecords(placement.hostname, placement.networkView, { signal });
  if (records.length > 1) return ambiguous(placement, records) as { failed: 'AllocationFailed'; message: string };
  return records[0];
}

const isOutcome = (r: unknown): r is { failed: 'AllocationFailed'; message: string } =>
  typeof r === 'object' && r !== null && 'failed' in r;

/**
 * The host's address from the first subnet that has or can give one. With `write: false` nothing is written:
 * an address already there is returned, else `pending`.
 */
export async function allocate(
  client: WapiClient,
  placement: Placement,
  subnets: readonly Subnet[],
  opts: { write: boolean; signal: AbortSignal },
): Promise<Outcome> {
  const { signal } = opts;
  let record = await recordOf(client, placement, signal);
  if (isOutcome(record)) return record;
  // An address the host already has in any of the subnets is its address: an earlier attempt made it.
  for (const subnet of subnets) {
    const have = addressIn(record, subnet);
    if (have) return { address: have, subnet, record: record!.ref };
  }
  if (!opts.write) return { pending: true };
  const problems: string[] = [];
  let full = 0;
  for (const subnet of subnets) {
    const family = subnet.parsed.family === 4 ? 'ipv4Subnets' : 'ipv6Subnets';
    let ref: string;
    try {
      ref = record
        ? await client.updateHostRecord(record, { [family]: [subnet.cidr] }, { signal })
        : await client.createHostRecord(
            {
              name: placement.hostname,
              networkView: placement.networkView,
              configureForDNS: placement.dnsView !== undefined,
              ...(placement.dnsView !== undefined ? { dnsView: placement.dnsView } : {}),
              [family]: [subnet.cidr],
              ...(placement.comment !== undefined ? { comment: placement.comment } : {}),
            },
            { signal },
          );
    } catch (err) {
      if (isNetworkFull(err)) {
        full++;
        problems.push(`${subnet.cidr} is full`);
        continue;
      }
      if (isNotFound(err)) {
        problems.push(`network ${subnet.cidr} does not exist in network view ${placement.networkView}`);
        continue;
      }
      if (isParentNotFound(err)) {
        return {
          failed: 'AllocationFailed',
          message:
            `the appliance refused host record "${placement.hostname}": no authoritative zone of DNS view ` +
            `${placement.dnsView} contains it (create the zone, or correct the pool's dnsZone or dnsView)`,
        };
      }
      if (isAlreadyExists(err)) {
        // A DNS name is unique in its view: a record of that name exists that the search did not show (another
        // network view), or one appeared meanwhile. Looked at again by the next attempt.
        return {
          failed: 'AllocationFailed',
          message: `the appliance refused host record "${placement.hostname}": ${errorText(err)}`,
        };
      }
      throw err;
    }
    record = await client.getHostRecord(ref, { signal });
    const got = addressIn(record, subnet);
    if (got) return { address: got, subnet, record: record.ref };
    problems.push(`the appliance wrote host record ${ref} without an address in ${subnet.cidr}`);
  }
  const what = `no address for host "${placement.hostname}"`;
  if (full === subnets.length && full > 0) {
    return { failed: 'PoolExhausted', message: `${what}: ${problems.join('; ')}` };
  }
  return { failed: 'AllocationFailed', message: `${what}: ${problems.join('; ') || 'the pool has no subnet'}` };
}

export type Verdict =
  | { kept: true }
  | { failed: 'AllocationFailed'; message: string }
  /** The address was on no record: it was written back onto the host's record. */
  | { restored: string };

/**
 * An address already handed out (its IPAddress exists): the host's record must carry it. If the appliance lost it
 * (deleted by hand), it is written back, unless another record holds it now.
 */
export async function verify(
  client: WapiClient,
  placement: Placement,
  address: string,
  signal: AbortSignal,
): Promise<Verdict> {
  const wanted = canonicalAddress(address);
  if (!wanted) return { failed: 'AllocationFailed', message: `its IPAddress carries "${address}", not an address` };
  const record = await recordOf(client, placement, signal);
  if (isOutcome(record)) return record;
  if (record && addressesOf(record).some((a) => canonicalAddress(a.address) === wanted)) return { kept: true };
  const v6 = wanted.includes(':');
  const holders = await client.search<{ _ref: string; name?: string }>(
    'record:host',
    { [v6 ? 'ipv6addr' : 'ipv4addr']: wanted, network_view: placement.networkView },
    ['name'],
    { signal },
  );
  if (holders.length > 0) {
    return {
      failed: 'AllocationFailed',
      message:
        `duplicate address: the IPAddress of this claim carries ${wanted}, which host record ` +
        `"${holders[0]!.name}" holds on the appliance, not "${placement.hostname}"; delete one of the two`,
    };
  }
  const entry = v6
    ? { ipv6addr: wanted, configure_for_dhcp: false, duid: '' }
    : { ipv4addr: wanted, configure_for_dhcp: false, mac: '' };
  const field = v6 ? 'ipv6addrs' : 'ipv4addrs';
  if (record) {
    // The explicit address makes this PUT repeatable (it allocates nothing): the client may retry it.
    const kept = (v6 ? record.ipv6 : record.ipv4).map((a) => ({
      _ref: a.ref,
      [v6 ? 'ipv6addr' : 'ipv4addr']: a.address,
      configure_for_dhcp: a.configureForDHCP,
      ...(v6 ? { duid: a.duid ?? '' } : { mac: a.mac ?? '' }),
    }));
    await client.request('PUT', record.ref, { body: { _ref: record.ref, [field]: [...kept, entry] }, signal });
  } else {
    await client.request('POST', 'record:host', {
      body: {
        name: placement.hostname,
        network_view: placement.networkView,
        configure_for_dns: placement.dnsView !== undefined,
        ...(placement.dnsView !== undefined ? { view: placement.dnsView } : {}),
        [field]: [entry],
        ...(placement.comment !== undefined ? { comment: placement.comment } : {}),
      },
      signal,
    });
  }
  return { restored: wanted };
}

/**
 * Removes the host's addresses from its record(s): `address` if given, else every address of the record inside
 * `subnets`. A record left without an address is deleted, others are written back. Without a host name, the one record
 * holding `address` is found by the address. Addresses `keep` says are someone else's stay. Idempotent: what is
 * already gone is skipped. Returns what it removed.
 */
export async function release(
  client: WapiClient,
  placement: Omit<Placement, 'hostname'> & { hostname: string | undefined },
  subnets: readonly Subnet[],
  address: string | undefined,
  keep: (address: string) => boolean | Promise<boolean>,
  signal: AbortSignal,
): Promise<string[]> {
  const wanted = address === undefined ? undefined : canonicalAddress(address);
  let records: HostRecord[] = [];
  if (placement.hostname !== undefined) {
    records = await client.findHostRecords(placement.hostname, placement.networkView, { signal });
  }
  if (placement.hostname === undefined && wanted) {
    // No host name known (a claim gone without its annotation): the record holding the address. Only then: with a
    // name known, another record holding the address is someone else's (a duplicate), never ours to change.
    const refs = await client.search<{ _ref: string }>(
      'record:host',
      { [wanted.includes(':') ? 'ipv6addr' : 'ipv4addr']: wanted, network_view: placement.networkView },
      ['name'],
      { signal },
    );
    records = refs.length === 1 ? [await client.getHostRecord(refs[0]!._ref, { signal })] : [];
  }
  const released: string[] = [];
  for (const record of records) {
    const mine = addressesOf(record)
      .map((a) => a.address)
      .filter((a) =>
        wanted !== undefined ? canonicalAddress(a) === wanted : subnets.some((s) => inSubnet(a, s.parsed)),
      );
    const kept = await Promise.all(mine.map(keep));
    const gone = mine.filter((_, i) => !kept[i]);
    if (gone.length === 0) continue;
    try {
      if (gone.length === addressesOf(record).length) await client.deleteHostRecord(record.ref, { signal });
      else await client.updateHostRecord(record, { release: gone }, { signal });
    } catch (err) {
      // Deleted meanwhile (or by the first attempt of a retried DELETE): nothing left to give back.
      if (!isNotFound(err)) throw err;
    }
    released.push(...gone);
  }
  return released;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
