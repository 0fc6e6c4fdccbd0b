// What the provider does on the appliance, on a WapiClient and nothing else (spec 04 §4.2): find a claim's address or
// allocate one (search by the claim's uid first, then `func:nextavailableip`, subnet by subnet), keep an address
// already handed out, and give one back.
//
// A host record belongs to the claim whose uid it carries, never to whoever has its name: host names are what users
// see, and two claims may resolve to one (clusters named alike in two namespaces, two devices of one Machine, a shared
// annotation). Every record made here carries the uid in the extensible attribute `cluster-ipam-claim-uid` where the
// appliance defines it, and always in its comment (`cluster-ipam: IPAddressClaim <namespace>/<name> uid <uid>`), which
// WAPI searches by exact text where the attribute is not defined. Each claim has a record of its own: an allocation
// the appliance made but whose IPAddress was never written (a crash, an answer lost after a committed POST) is found
// by the uid and used, never repeated; a release removes only what carries the uid. Whether a failed write may have
// been applied is the caller's to weigh (WapiError.maybeCommitted): this module lets such errors through.
import type { HostAddress, HostRecord, WapiClient } from '../../infoblox/client.ts';
import { isAlreadyExists, isNetworkFull, isNotFound, isParentNotFound, WapiError } from '../../infoblox/errors.ts';
import { canonicalAddress, hostnameAnnotation, inSubnet, type Subnet } from './names.ts';

/** The extensible attribute holding the uid of a record's claim, where the appliance defines it (type STRING). */
export const claimUidAttribute = 'cluster-ipam-claim-uid';

/** The claim a record is made for. */
export interface Owner {
  uid: string;
  /** `namespace/name`, for the comment administrators read. */
  claim: string;
}

/** Where and for whom a claim's addresses live. */
export interface Placement {
  owner: Owner;
  hostname: string;
  networkView: string;
  /** With a DNS zone: the DNS view the record is configured for. Without: no DNS. */
  dnsView?: string;
}

export type Found = {
  address: string;
  subnet: Subnet;
  record: string;
  /** Why the record is not configured for DNS although the pool has a zone (its name is another record's). */
  dnsTaken?: string;
};

export type Outcome =
  | Found
  | { failed: 'AllocationFailed' | 'PoolExhausted'; message: string }
  /** No address yet, and the caller said not to write (an earlier write's outcome is not known yet). */
  | { pending: true };

/** The comment of a claim's records: the tag searched by where the attribute is not defined. */
export const ownerComment = (owner: Owner): string => `cluster-ipam: IPAddressClaim ${owner.claim} uid ${owner.uid}`;

const taggedComment = /^cluster-ipam: IPAddressClaim (\S+) uid (\S+)$/;

/** The claim a record belongs to (uid, and `namespace/name` when its comment says), if it is one of ours. */
export function ownerOf(record: HostRecord): { uid: string; claim?: string } | undefined {
  const tagged = taggedComment.exec(record.comment ?? '');
  const value = record.extattrs[claimUidAttribute]?.value;
  const uid = typeof value === 'string' && value ? value : tagged?.[2];
  return uid ? { uid, ...(tagged && tagged[2] === uid ? { claim: tagged[1] } : {}) } : undefined;
}

/** Whether the appliance defines the attribute: asked once a minute per client (an administrator may add it). */
const defined = new WeakMap<WapiClient, { at: number; value: Promise<boolean> }>();

function tagsByAttribute(client: WapiClient, signal: AbortSignal): Promise<boolean> {
  const cached = defined.get(client);
  if (cached && Date.now() - cached.at < 60_000) return cached.value;
  const entry = { at: Date.now(), value: client.hasExtAttrDef(claimUidAttribute, { signal }) };
  defined.set(client, entry);
  entry.value.catch(() => defined.get(client) === entry && defined.delete(client));
  return entry.value;
}

/**
 * The claim's records. By the attribute where it is defined, else (or when that finds none: records made before an
 * administrator defined it) by the comment.
 */
async function owned(client: WapiClient, placement: Placement, signal: AbortSignal): Promise<HostRecord[]> {
  const { owner, networkView } = placement;
  if (await tagsByAttribute(client, signal)) {
    const args = { [`*${claimUidAttribute}`]: owner.uid, network_view: networkView };
    const found = await client.searchHostRecords(args, { signal });
    if (found.length > 0) return found;
  }
  return client.searchHostRecords({ comment: ownerComment(owner), network_view: networkView }, { signal });
}

/** The tags of a record made for the owner. */
async function tags(client: WapiClient, owner: Owner, signal: AbortSignal) {
  const byAttribute = await tagsByAttribute(client, signal);
  return {
    comment: ownerComment(owner),
    ...(byAttribute ? { extattrs: { [claimUidAttribute]: { value: owner.uid } } } : {}),
  };
}

const addressesOf = (r: HostRecord): HostAddress[] => [...r.ipv4, ...r.ipv6];

const has = (r: HostRecord, address: string) => addressesOf(r).some((a) => canonicalAddress(a.address) === address);

const isGateway = (address: string, subnet: Subnet) =>
  subnet.gateway !== undefined && canonicalAddress(address) === canonicalAddress(subnet.gateway);

/** An address of the record in the subnet that a machine may have: not the subnet's gateway. */
function usableIn(record: HostRecord | undefined, subnet: Subnet): string | undefined {
  return (
    record &&
    addressesOf(record).find((a) => inSubnet(a.address, subnet.parsed) && !isGateway(a.address, subnet))?.address
  );
}

/** Removes these addresses of the record: DELETE when none would be left (NIOS keeps no empty host), else PUT. */
async function drop(client: WapiClient, record: HostRecord, gone: readonly string[], signal: AbortSignal) {
  const wanted = new Set(gone.map((a) => canonicalAddress(a)));
  const left = addressesOf(record).filter((a) => !wanted.has(canonicalAddress(a.address)));
  try {
    if (left.length === 0) await client.deleteHostRecord(record.ref, { signal });
    else await client.updateHostRecord(record, { release: gone }, { signal });
  } catch (err) {
    // Deleted meanwhile (or by the first attempt of a retried DELETE): nothing left to give back.
    if (!isNotFound(err)) throw err;
  }
}

/**
 * The claim's address from the first subnet that has or can give one. With `write: false` nothing is written: an
 * address already there is returned, else `pending`. The subnet's gateway is never handed out: if the appliance
 * gives it (nothing on the appliance holds it), the record holds it while it takes the next address, then lets it go.
 */
export async function allocate(
  client: WapiClient,
  placement: Placement,
  subnets: readonly Subnet[],
  opts: { write: boolean; signal: AbortSignal },
): Promise<Outcome> {
  const { signal } = opts;
  const mine = await owned(client, placement, signal);
  // An address the claim already has in any of the subnets is its address: an earlier attempt made it. A gateway
  // still held from an attempt cut off while it took the next address is let go, also while writes that allocate
  // wait (`write: false`): that PUT allocates nothing, and the write whose answer was lost is the one that added the
  // address found.
  for (const subnet of subnets) {
    for (const record of mine) {
      const have = usableIn(record, subnet);
      if (!have) continue;
      const held = addressesOf(record).filter((a) => subnets.some((s) => isGateway(a.address, s)));
      if (held.length > 0)
        await drop(
          client,
          record,
          held.map((a) => a.address),
          signal,
        );
      return { address: have, subnet, record: record.ref };
    }
  }
  if (!opts.write) return { pending: true };
  let record: HostRecord | undefined = mine[0];
  const problems: string[] = [];
  let full = 0;
  // A DNS name is unique in its view: once it is another record's, this claim's record goes without DNS.
  let dnsTaken: string | undefined;
  for (let i = 0; i < subnets.length; i++) {
    const subnet = subnets[i]!;
    const dns = placement.dnsView !== undefined && dnsTaken === undefined;
    const family = subnet.parsed.family === 4 ? 'ipv4Subnets' : 'ipv6Subnets';
    try {
      record = await client.getHostRecord(
        record
          ? await client.updateHostRecord(record, { [family]: [subnet.cidr] }, { signal })
          : await client.createHostRecord(
              {
                name: placement.hostname,
                networkView: placement.networkView,
                configureForDNS: dns,
                ...(dns ? { dnsView: placement.dnsView } : {}),
                [family]: [subnet.cidr],
                ...(await tags(client, placement.owner, signal)),
              },
              { signal },
            ),
        { signal },
      );
      let got = usableIn(record, subnet);
      const gateway = addressesOf(record).find(
        (a) => inSubnet(a.address, subnet.parsed) && isGateway(a.address, subnet),
      );
      if (!got && gateway) {
        // Held while the next address is taken, so that the appliance skips it; then let go. When that PUT got no
        // answer it is left for the next attempt (after the settle period: the PUT, applied late, would bring the
        // gateway back); when the appliance refused it (a full subnet), it goes now.
        const holding: HostRecord = record;
        let ref: string;
        try {
          ref = await client.updateHostRecord(holding, { [family]: [subnet.cidr] }, { signal });
        } catch (err) {
          if (err instanceof WapiError && !err.maybeCommitted) {
            await drop(client, holding, [gateway.address], signal);
            record = addressesOf(holding).length > 1 ? await client.getHostRecord(holding.ref, { signal }) : undefined;
          }
          throw err;
        }
        const next = await client.getHostRecord(ref, { signal });
        got = usableIn(next, subnet);
        await drop(client, next, [gateway.address], signal);
        record = addressesOf(next).length > 1 ? await client.getHostRecord(next.ref, { signal }) : undefined;
      }
      if (got) return { address: got, subnet, record: record!.ref, ...(dnsTaken ? { dnsTaken } : {}) };
      problems.push(`the appliance wrote host record ${record?.ref ?? ''} without an address in ${subnet.cidr}`);
    } catch (err) {
      if (isNetworkFull(err)) {
        full++;
        problems.push(`${subnet.cidr} is full`);
        continue;
      }
      if (isNotFound(err) && errorText(err).includes(claimUidAttribute)) {
        defined.delete(client);
        return {
          failed: 'AllocationFailed',
          message: `the appliance no longer defines the extensible attribute ${claimUidAttribute}: retrying with the comment as the tag`,
        };
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
      if (isAlreadyExists(err) && dns && !record) {
        dnsTaken = await taken(client, placement, err, signal);
        i--;
        continue;
      }
      if (isAlreadyExists(err)) {
        return {
          failed: 'AllocationFailed',
          message: `the appliance refused host record "${placement.hostname}": ${errorText(err)}`,
        };
      }
      throw err;
    }
  }
  const what = `no address for host "${placement.hostname}"`;
  if (full === subnets.length && full > 0) {
    return { failed: 'PoolExhausted', message: `${what}: ${problems.join('; ')}` };
  }
  return { failed: 'AllocationFailed', message: `${what}: ${problems.join('; ') || 'the pool has no subnet'}` };
}

/** Whose record has the claim's DNS name, and what to do about it. */
async function taken(client: WapiClient, placement: Placement, err: unknown, signal: AbortSignal): Promise<string> {
  const [holder] = await client.findHostRecords(placement.hostname, placement.networkView, { signal });
  const owner = holder && ownerOf(holder);
  const whose = !holder
    ? `another record (${errorText(err)})`
    : owner
      ? `host record ${holder.ref} of IPAddressClaim ${owner.claim ?? `uid ${owner.uid}`}`
      : `host record ${holder.ref}, which cluster-ipam did not make`;
  return (
    `host name "${placement.hostname}" is already in DNS view ${placement.dnsView ?? ''} for ${whose}: this claim's ` +
    `host record is not configured for DNS (a DNS name is unique); give the claim a name of its own with the ` +
    `annotation ${hostnameAnnotation} for one`
  );
}

export type Verdict =
  | { kept: true }
  | { failed: 'AllocationFailed'; message: string }
  /** The address was on no record: it was written back onto a record of the claim. */
  | { restored: string };

/**
 * An address already handed out (its IPAddress exists): a record of the claim must carry it. Other addresses on the
 * claim's records (a write that committed after a new one was made) are let go. If the appliance lost the address
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
  const mine = await owned(client, placement, signal);
  if (mine.some((r) => has(r, wanted))) {
    for (const r of mine) {
      const extra = addressesOf(r).filter((a) => canonicalAddress(a.address) !== wanted);
      if (extra.length > 0)
        await drop(
          client,
          r,
          extra.map((a) => a.address),
          signal,
        );
    }
    return { kept: true };
  }
  const v6 = wanted.includes(':');
  const holders = await client.searchHostRecords(
    { [v6 ? 'ipv6addr' : 'ipv4addr']: wanted, network_view: placement.networkView },
    { signal },
  );
  // Made by an earlier version, which tagged nothing: the record of the claim's host name.
  if (holders.some((r) => r.name === placement.hostname && !ownerOf(r))) return { kept: true };
  if (holders.length > 0) {
    return {
      failed: 'AllocationFailed',
      message:
        `duplicate address: the IPAddress of this claim carries ${wanted}, which host record ` +
        `"${holders[0]!.name}" (${holders[0]!.ref}) holds on the appliance; delete one of the two`,
    };
  }
  const entry = v6
    ? { ipv6addr: wanted, configure_for_dhcp: false, duid: '' }
    : { ipv4addr: wanted, configure_for_dhcp: false, mac: '' };
  const field = v6 ? 'ipv6addrs' : 'ipv4addrs';
  const record = mine[0];
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
        ...(await tags(client, placement.owner, signal)),
      },
      signal,
    });
  }
  return { restored: wanted };
}

/**
 * Gives back what the claim has on the appliance. For a claim that is going (`whole`), every record carrying its uid is
 * deleted: each claim has records of its own, and one that committed late is its too. For a claim that stays (an
 * address it does not keep: another replica answered it first, an IPAddress to adopt appeared), only `address` is
 * removed from its records. `address`, when known and on none of them, is removed from the record holding it if that
 * one is the claim's too: made by an earlier version (no tag, the claim's host name), or, for a claim whose uid is not
 * known (an IPAddress left without its claim), tagged with the uid of a claim that no longer exists (`live` says).
 * Idempotent: what is already gone is skipped. Returns what it removed.
 */
export async function release(
  client: WapiClient,
  placement: Omit<Placement, 'hostname'> & { hostname: string | undefined },
  address: string | undefined,
  opts: { whole: boolean; live: (uid: string) => boolean; signal: AbortSignal },
): Promise<string[]> {
  const { signal } = opts;
  const wanted = address === undefined ? undefined : canonicalAddress(address);
  const released: string[] = [];
  if (placement.owner.uid) {
    for (const record of await owned(client, { ...placement, hostname: placement.hostname ?? '' }, signal)) {
      const gone = addressesOf(record)
        .map((a) => a.address)
        .filter((a) => opts.whole || canonicalAddress(a) === wanted);
      if (gone.length === 0) continue;
      await drop(client, record, gone, signal);
      released.push(...gone);
    }
  }
  if (!wanted || released.some((a) => canonicalAddress(a) === wanted)) return released;
  const holders = await client.searchHostRecords(
    { [wanted.includes(':') ? 'ipv6addr' : 'ipv4addr']: wanted, network_view: placement.networkView },
    { signal },
  );
  for (const record of holders) {
    const owner = ownerOf(record);
    const ours = owner
      ? !placement.owner.uid && !opts.live(owner.uid)
      : record.comment?.startsWith('cluster-ipam: ') &&
        (placement.hostname === undefined || record.name === placement.hostname);
    if (!ours) continue;
    await drop(client, record, [wanted], signal);
    released.push(wanted);
  }
  return released;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
