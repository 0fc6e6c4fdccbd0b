// The chaos suite's invariants: what must hold once the system has settled, whatever faults came before. `readTruth`
// reads the truth (the API server, and the WAPI simulator's /_admin/records); `checkInvariants` is pure and counts:
// - duplicates: an address held by more than one holder within one address domain (src/api/domains.ts for the
//   in-cluster pools; an Infoblox pool's domain is its instance's network view): holders are IPAddresses, and the
//   claims of IPAddressLedger entries and of IPAddressReservations (an entry or reservation of the claim whose
//   IPAddress carries the address is that same holder); or an address in more than one host record in one network
//   view of the appliance;
// - leaks: an IPAddress without its live claim (owner reference by uid, claimRef by name), a live bound claim without
//   its one IPAddress, a ledger entry or reservation without a live holder (its claim gone, or bound to an IPAddress
//   that does not carry the address in the entry's domain; a live claim not bound yet is the entry's holder, in
//   flight) unless released and within its pool's grace period (past it: a leak), a host record address that no
//   live claim holds, an Infoblox IPAddress that is not on the appliance. An in-cluster IPAddress needs no ledger
//   entry: an entry is dropped once its IPAddress is seen, so at rest a bound claim's address is held by its
//   IPAddress alone (IPAddressReservations are written by older releases only, and still count);
// - count mismatches: an in-cluster pool's status.ipAddresses (used, free, outOfRange) against the addresses really
//   held in its domain inside its usable set (by IPAddresses, ledger entries and reservations, released or not);
// - stuck: objects deleted (deletionTimestamp) but still there;
// - unbound: live claims without an address.
import { request } from 'node:https';
import {
  GlobalInClusterIPPools,
  IPAddressClaims,
  IPAddresses,
  IPAddressLedgers,
  IPAddressReservations,
  InClusterIPPools,
  InfobloxInstances,
  InfobloxIPPools,
  addressDomain,
} from '../../src/api/index.ts';
import { parseAddress } from '../../src/core/ip.ts';
import { validatePool, type PoolSpec } from '../../src/core/pool.ts';
import type { KubeClient } from '../../src/kube/index.ts';

interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  deletionTimestamp?: string;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
}

export interface ClaimLike {
  metadata: Meta;
  spec: { poolRef: { apiGroup?: string; kind: string; name: string } };
  status?: { addressRef?: { name?: string } };
}

export interface AddressLike {
  metadata: Meta;
  spec: { address: string; poolRef: { kind?: string; name: string }; claimRef: { name: string } };
}

/** An IPAddressReservation: written by older releases only; still a holder of its address. */
export interface ReservationLike {
  metadata: Meta;
  spec: {
    address: string;
    domain: string;
    poolRef: { kind: string; name: string; namespace?: string };
    claimRef: { namespace: string; name: string; uid: string };
    releasedAt?: string;
  };
}

/** An entry of an IPAddressLedger: the ledger's `spec.entries[address]`. */
export interface LedgerEntryLike {
  poolRef: { apiGroup?: string; kind: string; name: string; namespace?: string };
  claimRef: { namespace: string; name: string; uid: string };
  releasedAt?: string;
}

/** An IPAddressLedger: one per address domain, its entries by address (as the IPAddress carries it). */
export interface LedgerLike {
  metadata: Meta;
  spec: { domain: string; fence?: string; entries?: Record<string, LedgerEntryLike> };
}

export interface InClusterPoolLike {
  kind?: string;
  metadata: Meta;
  spec: PoolSpec;
  status?: { ipAddresses?: { total?: number; used?: number; free?: number; outOfRange?: number } };
}

export interface InfobloxPoolLike {
  metadata: Meta;
  spec: { instance: { name: string }; networkView?: string };
}

export interface InfobloxInstanceLike {
  metadata: Meta;
  spec: { defaultNetworkView?: string };
}

export interface HostRecordLike {
  name: string;
  networkView?: string;
  ipv4addrs: string[];
  ipv6addrs: string[];
}

/** Everything the invariants look at, read at one moment. */
export interface Truth {
  /** ms since the epoch, for the grace periods of released ledger entries and reservations. */
  now: number;
  claims: ClaimLike[];
  addresses: AddressLike[];
  ledgers: LedgerLike[];
  /** IPAddressReservations (written by older releases). */
  reservations: ReservationLike[];
  /** InClusterIPPools and GlobalInClusterIPPools, each with its `kind`. */
  inClusterPools: InClusterPoolLike[];
  infobloxPools: InfobloxPoolLike[];
  infobloxInstances: InfobloxInstanceLike[];
  /** The appliance's host records (absent: no appliance to check). */
  hostRecords?: HostRecordLike[];
}

export interface InvariantReport {
  duplicates: number;
  leaks: number;
  countMismatches: number;
  stuck: number;
  unbound: number;
  /** What was found, one line each (capped). */
  problems: string[];
}

export const clean = (r: InvariantReport): boolean =>
  r.duplicates + r.leaks + r.countMismatches + r.stuck + r.unbound === 0;

const inClusterKinds = new Set(['InClusterIPPool', 'GlobalInClusterIPPool']);
const maxProblems = 50;

/** One spelling per address (IPv6 has many). */
function canonical(address: string): string {
  try {
    const a = parseAddress(address);
    return `${a.family}:${a.value}`;
  } catch {
    return `?:${address}`;
  }
}

const key = (m: Meta) => (m.namespace ? `${m.namespace}/${m.name}` : String(m.name));

/** A ledger entry or a reservation: an address recorded for a claim in a domain. */
interface HeldRecord {
  /** How problems name it: `IPAddressLedger <ledger> entry <address>`, `IPAddressReservation <name>`. */
  what: string;
  address: string;
  domain: string;
  poolRef: { kind: string; name: string; namespace?: string };
  claimRef: { namespace: string; name: string; uid: string };
  releasedAt?: string;
}

export function checkInvariants(t: Truth): InvariantReport {
  const r: InvariantReport = { duplicates: 0, leaks: 0, countMismatches: 0, stuck: 0, unbound: 0, problems: [] };
  const problem = (line: string) => {
    if (r.problems.length < maxProblems) r.problems.push(line);
  };

  const pools = new Map<string, InClusterPoolLike>();
  for (const p of t.inClusterPools) {
    const global = p.kind === 'GlobalInClusterIPPool';
    pools.set(
      `${global ? 'GlobalInClusterIPPool' : 'InClusterIPPool'}/${global ? '' : p.metadata.namespace}/${p.metadata.name}`,
      p,
    );
  }
  const ibPools = new Map(t.infobloxPools.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
  const ibInstances = new Map(t.infobloxInstances.map((i) => [i.metadata.name, i]));
  const inClusterPoolOf = (kind: string | undefined, ns: string | undefined, name: string) =>
    kind && inClusterKinds.has(kind)
      ? pools.get(`${kind}/${kind === 'GlobalInClusterIPPool' ? '' : ns}/${name}`)
      : undefined;

  // The address domain of an IPAddress: its pool's (a missing pool: the kind's default domain).
  const domainOf = (a: AddressLike): string => {
    const kind = a.spec.poolRef.kind;
    if (kind === 'InfobloxIPPool') {
      const pool = ibPools.get(`${a.metadata.namespace}/${a.spec.poolRef.name}`);
      if (!pool) return `infoblox/?/${a.metadata.namespace}/${a.spec.poolRef.name}`;
      const instance = ibInstances.get(pool.spec.instance.name);
      return `infoblox/${pool.spec.instance.name}/${pool.spec.networkView ?? instance?.spec.defaultNetworkView ?? 'default'}`;
    }
    const pool = inClusterPoolOf(kind, a.metadata.namespace, a.spec.poolRef.name);
    if (pool) return addressDomain(pool);
    return addressDomain({ kind, metadata: { namespace: a.metadata.namespace } });
  };

  // Stuck: deleted, still there.
  const everything: [string, { metadata: Meta }[]][] = [
    ['IPAddressClaim', t.claims],
    ['IPAddress', t.addresses],
    ['IPAddressLedger', t.ledgers],
    ['IPAddressReservation', t.reservations],
    ['pool', t.inClusterPools],
    ['InfobloxIPPool', t.infobloxPools],
  ];
  for (const [kind, objects] of everything) {
    for (const o of objects) {
      if (o.metadata.deletionTimestamp) {
        r.stuck++;
        problem(
          `stuck: ${kind} ${key(o.metadata)} deleted at ${o.metadata.deletionTimestamp}, finalizers ${JSON.stringify(o.metadata.finalizers ?? [])}`,
        );
      }
    }
  }

  // Ledger entries and reservations alike: an address recorded for a claim in a domain.
  const records: HeldRecord[] = [
    ...t.ledgers.flatMap((l) =>
      Object.entries(l.spec.entries ?? {}).map(([address, e]) => ({
        what: `IPAddressLedger ${l.metadata.name} entry ${address}`,
        address,
        domain: l.spec.domain,
        poolRef: e.poolRef,
        claimRef: e.claimRef,
        releasedAt: e.releasedAt,
      })),
    ),
    ...t.reservations.map((res) => ({
      what: `IPAddressReservation ${res.metadata.name}`,
      ...res.spec,
    })),
  ];

  // Duplicates per address domain: each IPAddress is a holder; an entry or reservation is one unless its claim
  // already holds the address there (its IPAddress, or another record of it).
  const holders = new Map<string, { address: string; domain: string; names: string[]; uids: Set<string> }>();
  const holdersAt = (domain: string, address: string) => {
    const k = `${domain} ${canonical(address)}`;
    let h = holders.get(k);
    if (!h) holders.set(k, (h = { address, domain, names: [], uids: new Set() }));
    return h;
  };
  for (const a of t.addresses) {
    const h = holdersAt(domainOf(a), a.spec.address);
    h.names.push(`IPAddress ${key(a.metadata)}`);
    const owner = a.metadata.ownerReferences?.find((o) => o.controller)?.uid;
    if (owner) h.uids.add(owner);
  }
  for (const rec of records) {
    const h = holdersAt(rec.domain, rec.address);
    if (h.uids.has(rec.claimRef.uid)) continue;
    h.uids.add(rec.claimRef.uid);
    h.names.push(
      `${rec.what} (${rec.releasedAt ? 'released by' : 'for'} ${rec.claimRef.namespace}/${rec.claimRef.name})`,
    );
  }
  for (const h of holders.values()) {
    if (h.names.length < 2) continue;
    r.duplicates += h.names.length - 1;
    problem(`duplicate: ${h.address} in ${h.domain} held by ${h.names.join(', ')}`);
  }

  const claims = new Map(t.claims.map((c) => [key(c.metadata), c]));
  const liveClaims = new Map(t.claims.filter((c) => !c.metadata.deletionTimestamp).map((c) => [c.metadata.uid, c]));
  const addressOfClaim = new Map<string, AddressLike>();

  // Every IPAddress has its live claim.
  for (const a of t.addresses) {
    const claim = claims.get(`${a.metadata.namespace}/${a.spec.claimRef.name}`);
    const owned = claim && a.metadata.ownerReferences?.some((o) => o.controller && o.uid === claim.metadata.uid);
    if (!claim || claim.metadata.deletionTimestamp || !owned || a.metadata.name !== a.spec.claimRef.name) {
      r.leaks++;
      problem(`leak: IPAddress ${key(a.metadata)} (${a.spec.address}) has no live claim owning it`);
      continue;
    }
    addressOfClaim.set(claim.metadata.uid!, a);
  }

  // Every live claim is bound and has its one IPAddress.
  for (const c of liveClaims.values()) {
    const a = addressOfClaim.get(c.metadata.uid!);
    const ref = c.status?.addressRef?.name;
    if (!ref) {
      r.unbound++;
      problem(`unbound: IPAddressClaim ${key(c.metadata)} has no address`);
    } else if (!a || ref !== a.metadata.name) {
      r.leaks++;
      problem(`leak: IPAddressClaim ${key(c.metadata)} is bound to ${ref}, which is not its IPAddress`);
    }
  }

  // Ledger entries and reservations: each released one within its pool's grace period, each other one of a live
  // claim whose IPAddress carries its address in its domain, or not bound yet (in flight: the claim counts as
  // unbound until it is). An in-cluster IPAddress needs neither.
  for (const rec of records) {
    const pool = inClusterPoolOf(rec.poolRef.kind, rec.poolRef.namespace, rec.poolRef.name);
    if (rec.releasedAt) {
      const grace = pool?.spec.addressReuseGracePeriodSeconds ?? 0;
      if (Date.parse(rec.releasedAt) + grace * 1000 <= t.now) {
        r.leaks++;
        problem(`leak: ${rec.what} released at ${rec.releasedAt}, past its grace period of ${grace}s`);
      }
      continue;
    }
    const holder = liveClaims.get(rec.claimRef.uid);
    const a = holder && addressOfClaim.get(holder.metadata.uid!);
    const carried = a && canonical(a.spec.address) === canonical(rec.address) && domainOf(a) === rec.domain;
    const inFlight = holder && !a && !holder.status?.addressRef?.name;
    if (!carried && !inFlight) {
      r.leaks++;
      problem(
        `leak: ${rec.what} (${rec.address} in ${rec.domain} for ${rec.claimRef.namespace}/${rec.claimRef.name}) has no live holder` +
          (a
            ? ` (the claim holds ${a.spec.address} in ${domainOf(a)})`
            : holder
              ? ' (the claim is bound without its IPAddress)'
              : ''),
      );
    }
  }

  // The appliance: every host record address is a live claim's, every Infoblox IPAddress is on the appliance.
  if (t.hostRecords) {
    const onAppliance = new Map<string, HostRecordLike[]>();
    const spelled = new Map<string, string>();
    for (const h of t.hostRecords) {
      for (const address of [...h.ipv4addrs, ...h.ipv6addrs]) {
        const k = `${h.networkView ?? 'default'} ${canonical(address)}`;
        onAppliance.set(k, [...(onAppliance.get(k) ?? []), h]);
        spelled.set(k, address);
      }
    }
    const byClaimAddress = new Map<string, { claim: ClaimLike; address: AddressLike }>();
    for (const a of t.addresses) {
      if (a.spec.poolRef.kind !== 'InfobloxIPPool') continue;
      const claim = claims.get(`${a.metadata.namespace}/${a.spec.claimRef.name}`);
      const view = domainOf(a).split('/').slice(2).join('/');
      if (claim) byClaimAddress.set(`${view} ${canonical(a.spec.address)}`, { claim, address: a });
      if (!onAppliance.has(`${view} ${canonical(a.spec.address)}`)) {
        r.leaks++;
        problem(`leak: IPAddress ${key(a.metadata)} (${a.spec.address}) has no host record on the appliance`);
      }
    }
    for (const [k, records] of onAppliance) {
      const [view, address] = [k.split(' ')[0], spelled.get(k)];
      if (records.length > 1) {
        r.duplicates += records.length - 1;
        problem(
          `duplicate: ${address} in network view ${view} is in host records ${records.map((h) => h.name).join(', ')}`,
        );
      }
      for (const h of records) {
        const held = byClaimAddress.get(k);
        const hostname = held?.claim.metadata.annotations?.['ipam.cluster.x-k8s.io/hostname'];
        if (!held || held.claim.metadata.deletionTimestamp || (hostname !== undefined && hostname !== h.name)) {
          r.leaks++;
          problem(`leak: host record ${h.name} holds ${address} in network view ${view}, which no live claim holds`);
        }
      }
    }
  }

  // Pool counts: the domain's holders inside the pool's usable set.
  const heldIn = new Map<string, Set<string>>();
  const hold = (domain: string, address: string) => {
    let set = heldIn.get(domain);
    if (!set) heldIn.set(domain, (set = new Set()));
    set.add(canonical(address));
  };
  for (const a of t.addresses) if (inClusterKinds.has(a.spec.poolRef.kind ?? '')) hold(domainOf(a), a.spec.address);
  for (const rec of records) hold(rec.domain, rec.address);
  for (const p of t.inClusterPools) {
    const counts = p.status?.ipAddresses;
    const model = validatePool(p.spec).pool;
    if (!model || !counts) continue;
    let used = 0;
    let outOfRange = 0;
    const own = new Set(
      t.addresses
        .filter((a) => inClusterPoolOf(a.spec.poolRef.kind, a.metadata.namespace, a.spec.poolRef.name) === p)
        .map((a) => canonical(a.spec.address)),
    );
    for (const c of heldIn.get(addressDomain(p)) ?? []) {
      const [family, value] = c.split(':');
      if (Number(family) === model.family && model.usable.has(BigInt(value!))) used++;
      else if (own.has(c)) outOfRange++;
    }
    const total =
      model.usable.size > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(model.usable.size);
    const want = { used, free: Math.max(0, Math.min(total, Number.MAX_SAFE_INTEGER) - used), outOfRange };
    const have = { used: counts.used ?? 0, free: counts.free ?? 0, outOfRange: counts.outOfRange ?? 0 };
    const exactFree = model.usable.size <= BigInt(Number.MAX_SAFE_INTEGER);
    if (have.used !== want.used || have.outOfRange !== want.outOfRange || (exactFree && have.free !== want.free)) {
      r.countMismatches++;
      problem(
        `counts: ${p.kind} ${key(p.metadata)} says ${JSON.stringify(have)}, the truth is ${JSON.stringify(want)}`,
      );
    }
  }
  return r;
}

/** GET /_admin/records of a WAPI simulator. */
export async function simulatorRecords(sim: {
  url: string;
  username: string;
  password: string;
  ca?: string;
}): Promise<HostRecordLike[]> {
  const url = new URL('/_admin/records', sim.url);
  const auth = Buffer.from(`${sim.username}:${sim.password}`).toString('base64');
  const body = await new Promise<string>((ok, fail) => {
    const req = request(url, { ca: sim.ca, headers: { authorization: `Basic ${auth}` }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () =>
        res.statusCode === 200 ? ok(text) : fail(new Error(`${url}: ${res.statusCode} ${text.slice(0, 200)}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timeout`)));
    req.on('error', fail);
    req.end();
  });
  return (JSON.parse(body) as { records: HostRecordLike[] }).records;
}

/** Reads the truth from the API server (every namespace) and, when given, the simulator. */
export async function readTruth(client: KubeClient, sim?: Parameters<typeof simulatorRecords>[0]): Promise<Truth> {
  const list = async <T>(p: Promise<{ items: T[] }>) => (await p).items;
  const [claims, addresses, ledgers, reservations, pools, globalPools, infobloxPools, infobloxInstances, hostRecords] =
    await Promise.all([
      list(client.resource(IPAddressClaims).listAll()),
      list(client.resource(IPAddresses).listAll()),
      list(client.resource(IPAddressLedgers).listAll()),
      list(client.resource(IPAddressReservations).listAll()),
      list(client.resource(InClusterIPPools).listAll()),
      list(client.resource(GlobalInClusterIPPools).listAll()),
      list(client.resource(InfobloxIPPools).listAll()),
      list(client.resource(InfobloxInstances).listAll()),
      sim ? simulatorRecords(sim) : Promise.resolve(undefined),
    ]);
  return {
    now: Date.now(),
    claims,
    addresses,
    ledgers,
    reservations,
    inClusterPools: [
      ...pools.map((p) => ({ ...p, kind: 'InClusterIPPool' })),
      ...globalPools.map((p) => ({ ...p, kind: 'GlobalInClusterIPPool' })),
    ],
    infobloxPools,
    infobloxInstances,
    ...(hostRecords ? { hostRecords } : {}),
  };
}

/** A host record with the tags that say whose it is (the comment, and the uid attribute where defined). */
export interface TaggedRecordLike {
  name: string;
  comment?: string;
  /** The `cluster-ipam-claim-uid` extensible attribute's value, if the record has it. */
  uidAttribute?: string;
  addresses: string[];
}

/**
 * Ownership by uid (issue 21): every host record carries, in its comment (and in the uid attribute when it has it),
 * the uid of a live claim whose IPAddress holds exactly the record's address; every live claim's Infoblox IPAddress
 * is on a record carrying that claim's uid. What does not is a leak.
 */
export function checkOwnership(
  records: readonly TaggedRecordLike[],
  claims: readonly ClaimLike[],
  addresses: readonly AddressLike[],
): { leaks: number; problems: string[] } {
  const problems: string[] = [];
  let leaks = 0;
  const leak = (line: string) => {
    leaks++;
    if (problems.length < maxProblems) problems.push(`leak: ${line}`);
  };
  const live = new Map(claims.filter((c) => !c.metadata.deletionTimestamp).map((c) => [c.metadata.uid!, c]));
  const addressOf = new Map<string, AddressLike>();
  for (const a of addresses) {
    if (a.spec.poolRef.kind !== 'InfobloxIPPool') continue;
    const owner = a.metadata.ownerReferences?.find((o) => o.controller && o.kind === 'IPAddressClaim');
    if (owner && live.has(owner.uid)) addressOf.set(owner.uid, a);
  }
  const recordsOf = new Map<string, TaggedRecordLike[]>();
  for (const r of records) {
    const tag = /^cluster-ipam: IPAddressClaim (\S+) uid (\S+)$/.exec(r.comment ?? '');
    const uid = tag?.[2];
    const what = `host record ${r.name} (${r.addresses.join(', ')}, comment ${JSON.stringify(r.comment ?? '')})`;
    if (!uid) {
      leak(`${what} carries no claim's uid`);
      continue;
    }
    if (r.uidAttribute !== undefined && r.uidAttribute !== uid) {
      leak(`${what}: its uid attribute says ${r.uidAttribute}`);
      continue;
    }
    const claim = live.get(uid);
    if (!claim || key(claim.metadata) !== tag[1]) {
      leak(`${what}: no live claim ${tag[1]} has uid ${uid}`);
      continue;
    }
    recordsOf.set(uid, [...(recordsOf.get(uid) ?? []), r]);
    const a = addressOf.get(uid);
    const extra = r.addresses.filter((x) => canonical(x) !== (a && canonical(a.spec.address)));
    if (extra.length) leak(`${what}: ${extra.join(', ')} not its claim's IPAddress (${a?.spec.address ?? 'none'})`);
  }
  for (const [uid, a] of addressOf) {
    const held = (recordsOf.get(uid) ?? []).some((r) =>
      r.addresses.some((x) => canonical(x) === canonical(a.spec.address)),
    );
    if (!held) leak(`IPAddress ${key(a.metadata)} (${a.spec.address}) is on no record carrying its claim's uid ${uid}`);
  }
  return { leaks, problems };
}
