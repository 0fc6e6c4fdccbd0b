// The chaos suite's invariants on plain objects (no API server): each kind of breakage is counted once, and a
// consistent state counts nothing: at rest (ledgers empty: a bound claim's address is held by its IPAddress alone),
// in flight (entries of claims whose IPAddress carries their address, or not bound yet), or upgraded (reservations
// of an older release).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkInvariants,
  checkOwnership,
  clean,
  type AddressLike,
  type ClaimLike,
  type InClusterPoolLike,
  type LedgerEntryLike,
  type LedgerLike,
  type ReservationLike,
  type Truth,
} from './invariants.ts';

const domainAnnotation = 'ipam.k0rdent.mirantis.com/address-domain';
const hostnameAnnotation = 'ipam.cluster.x-k8s.io/hostname';
let uids = 0;

function claim(
  ns: string,
  name: string,
  kind: string,
  pool: string,
  bound = true,
  annotations?: Record<string, string>,
): ClaimLike {
  return {
    metadata: { namespace: ns, name, uid: `uid-${++uids}`, ...(annotations ? { annotations } : {}) },
    spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind, name: pool } },
    ...(bound ? { status: { addressRef: { name } } } : {}),
  };
}

function address(c: ClaimLike, addr: string): AddressLike {
  return {
    metadata: {
      namespace: c.metadata.namespace,
      name: c.metadata.name,
      ownerReferences: [{ kind: 'IPAddressClaim', name: c.metadata.name!, uid: c.metadata.uid!, controller: true }],
    },
    spec: {
      address: addr,
      poolRef: { kind: c.spec.poolRef.kind, name: c.spec.poolRef.name },
      claimRef: { name: c.metadata.name! },
    },
  };
}

function reservation(
  c: ClaimLike,
  addr: string,
  domain: string,
  poolNs?: string,
  releasedAt?: string,
): ReservationLike {
  return {
    metadata: { name: `r-${addr}-${domain}` },
    spec: {
      address: addr,
      domain,
      poolRef: { kind: c.spec.poolRef.kind, name: c.spec.poolRef.name, ...(poolNs ? { namespace: poolNs } : {}) },
      claimRef: { namespace: c.metadata.namespace!, name: c.metadata.name!, uid: c.metadata.uid! },
      ...(releasedAt ? { releasedAt } : {}),
    },
  };
}

/** An entry of claim `c` (for its pool) at `addr`, as the in-cluster provider writes it. */
function entry(c: ClaimLike, addr: string, poolNs?: string, releasedAt?: string): [string, LedgerEntryLike] {
  return [
    addr,
    {
      poolRef: {
        apiGroup: 'ipam.cluster.x-k8s.io',
        kind: c.spec.poolRef.kind,
        name: c.spec.poolRef.name,
        ...(poolNs ? { namespace: poolNs } : {}),
      },
      claimRef: { namespace: c.metadata.namespace!, name: c.metadata.name!, uid: c.metadata.uid! },
      ...(releasedAt ? { releasedAt } : {}),
    },
  ];
}

/** The IPAddressLedger of a domain (named as the provider names it) with these entries. */
function ledger(domain: string, ...entries: [string, LedgerEntryLike][]): LedgerLike {
  const name =
    domain === 'global' ? 'global' : domain.startsWith('namespace/') ? `ns.${domain.slice(10)}` : `domain.${domain}`;
  return { metadata: { name }, spec: { domain, fence: '100', entries: Object.fromEntries(entries) } };
}

/** The ledger of `domain` in `t` (added, empty, if there is none yet). */
function ledgerIn(t: Truth, domain: string): LedgerLike {
  let l = t.ledgers.find((x) => x.spec.domain === domain);
  if (!l) t.ledgers.push((l = ledger(domain)));
  l.spec.entries ??= {};
  return l;
}

const claimOf = (t: Truth, ns: string, name: string) =>
  t.claims.find((c) => c.metadata.namespace === ns && c.metadata.name === name)!;

function pool(
  kind: string,
  ns: string | undefined,
  name: string,
  addresses: string[],
  used: number,
  annotations?: Record<string, string>,
): InClusterPoolLike {
  const total = 250; // 10.x.0.1-10.x.0.250 below
  return {
    kind,
    metadata: { name, ...(ns ? { namespace: ns } : {}), ...(annotations ? { annotations } : {}) },
    spec: { addresses, prefix: 24 },
    status: { ipAddresses: { total, used, free: total - used, outOfRange: 0 } },
  };
}

/**
 * A consistent world at rest: two namespaces with the same private range, a global pool, a shared domain, Infoblox;
 * every in-cluster address held by its IPAddress alone (the ledgers' entries were dropped once the IPAddresses were
 * seen: one ledger is empty, the others are not there), no reservation.
 */
function world(): Truth {
  const a1 = claim('a', 'm1', 'InClusterIPPool', 'p');
  const b1 = claim('b', 'm1', 'InClusterIPPool', 'p');
  const g1 = claim('a', 'g1', 'GlobalInClusterIPPool', 'g');
  const s1 = claim('a', 's1', 'InClusterIPPool', 'shared');
  const s2 = claim('b', 's2', 'InClusterIPPool', 'shared');
  const i1 = claim('c', 'i1', 'InfobloxIPPool', 'ib', true, { [hostnameAnnotation]: 'i1.lab' });
  const shared = { [domainAnnotation]: 'blue' };
  return {
    now: Date.parse('2026-01-01T00:00:00Z'),
    claims: [a1, b1, g1, s1, s2, i1],
    addresses: [
      address(a1, '10.1.0.1'),
      address(b1, '10.1.0.1'), // same address, other namespace: other domain
      address(g1, '10.2.0.1'),
      address(s1, '10.3.0.1'),
      address(s2, '10.3.0.2'),
      address(i1, '10.9.0.1'),
    ],
    ledgers: [{ metadata: { name: 'global' }, spec: { domain: 'global', fence: '100' } }],
    reservations: [],
    inClusterPools: [
      pool('InClusterIPPool', 'a', 'p', ['10.1.0.1-10.1.0.250'], 1),
      pool('InClusterIPPool', 'b', 'p', ['10.1.0.1-10.1.0.250'], 1),
      pool('GlobalInClusterIPPool', undefined, 'g', ['10.2.0.1-10.2.0.250'], 1),
      // A shared domain counts every holder of the domain in each pool.
      pool('InClusterIPPool', 'a', 'shared', ['10.3.0.1-10.3.0.250'], 2, shared),
      pool('InClusterIPPool', 'b', 'shared', ['10.3.0.1-10.3.0.250'], 2, shared),
    ],
    infobloxPools: [{ metadata: { namespace: 'c', name: 'ib' }, spec: { instance: { name: 'sim' } } }],
    infobloxInstances: [{ metadata: { name: 'sim' }, spec: {} }],
    hostRecords: [{ name: 'i1.lab', networkView: 'default', ipv4addrs: ['10.9.0.1'], ipv6addrs: [] }],
  };
}

describe('chaos invariants', () => {
  it('a consistent world counts nothing (same address in two namespaces is two domains)', () => {
    const r = checkInvariants(world());
    assert.deepEqual(r.problems, []);
    assert.ok(clean(r));
  });

  it('an in-cluster IPAddress needs no ledger entry; entries still in flight are consistent', () => {
    // Entries of claims whose IPAddress carries their address (not dropped yet: no ledger write since), one spelled
    // otherwise than the IPAddress (IPv6), and one of a claim not bound yet (which counts as unbound, nothing else).
    const t = world();
    t.inClusterPools.push(pool('GlobalInClusterIPPool', undefined, 'v6', ['fd00::1-fd00::fa'], 1));
    const x = claim('a', 'x', 'GlobalInClusterIPPool', 'v6');
    const waiting = claim('a', 'waiting', 'InClusterIPPool', 'p', false);
    t.claims.push(x, waiting);
    t.addresses.push(address(x, 'fd00::1'));
    t.ledgers = [
      ledger('global', entry(claimOf(t, 'a', 'g1'), '10.2.0.1'), entry(x, 'fd00:0:0::1')),
      ledger('namespace/a', entry(claimOf(t, 'a', 'm1'), '10.1.0.1', 'a'), entry(waiting, '10.1.0.2', 'a')),
      ledger('blue', entry(claimOf(t, 'b', 's2'), '10.3.0.2', 'b')),
    ];
    t.inClusterPools[0]!.status!.ipAddresses = { total: 250, used: 2, free: 248, outOfRange: 0 };
    const r = checkInvariants(t);
    assert.deepEqual(r.problems, ['unbound: IPAddressClaim a/waiting has no address']);
    assert.deepEqual(
      { duplicates: r.duplicates, leaks: r.leaks, unbound: r.unbound },
      { duplicates: 0, leaks: 0, unbound: 1 },
    );
  });

  it('an upgraded cluster: the reservations of an older release, one per IPAddress, are consistent', () => {
    const t = world();
    t.reservations = [
      reservation(claimOf(t, 'a', 'm1'), '10.1.0.1', 'namespace/a', 'a'),
      reservation(claimOf(t, 'b', 'm1'), '10.1.0.1', 'namespace/b', 'b'),
      reservation(claimOf(t, 'a', 'g1'), '10.2.0.1', 'global'),
      reservation(claimOf(t, 'a', 's1'), '10.3.0.1', 'blue', 'a'),
      reservation(claimOf(t, 'b', 's2'), '10.3.0.2', 'blue', 'b'),
    ];
    const r = checkInvariants(t);
    assert.deepEqual(r.problems, []);
  });

  it('a duplicate within a namespace domain, within a shared domain, and IPv6 spelled two ways', () => {
    const t = world();
    const a2 = claim('a', 'm2', 'InClusterIPPool', 'p');
    const b2 = claim('b', 'm2', 'InClusterIPPool', 'shared');
    t.claims.push(a2, b2);
    t.addresses.push(address(a2, '10.1.0.1'), address(b2, '10.3.0.1'));
    let r = checkInvariants(t);
    assert.equal(r.duplicates, 2, r.problems.join('\n'));
    assert.ok(r.problems.some((p) => /duplicate: 10\.3\.0\.1 in blue/.test(p)));

    const v6 = world();
    v6.inClusterPools.push(pool('GlobalInClusterIPPool', undefined, 'v6', ['fd00::1-fd00::fa'], 0));
    const x = claim('a', 'x', 'GlobalInClusterIPPool', 'v6');
    const y = claim('b', 'y', 'GlobalInClusterIPPool', 'v6');
    v6.claims.push(x, y);
    v6.addresses.push(address(x, 'fd00::1'), address(y, 'fd00:0:0:0::1'));
    r = checkInvariants(v6);
    assert.equal(r.duplicates, 1);
  });

  it("a ledger entry or a reservation of another claim at an IPAddress's address is a duplicate; of the same claim not", () => {
    // An entry of a claim not bound yet at m1's address in namespace a's domain: two holders (the entry itself is
    // in flight, no leak).
    const t = world();
    const late = claim('a', 'late', 'InClusterIPPool', 'p', false);
    t.claims.push(late);
    ledgerIn(t, 'namespace/a').spec.entries!['10.1.0.1'] = entry(late, '10.1.0.1', 'a')[1];
    let r = checkInvariants(t);
    assert.deepEqual(
      { duplicates: r.duplicates, leaks: r.leaks, unbound: r.unbound },
      { duplicates: 1, leaks: 0, unbound: 1 },
    );
    assert.ok(
      r.problems.some(
        (p) =>
          p ===
          'duplicate: 10.1.0.1 in namespace/a held by IPAddress a/m1, IPAddressLedger ns.a entry 10.1.0.1 (for a/late)',
      ),
      r.problems.join('\n'),
    );

    // The same, from a released entry (another claim's, in its grace period): the address was handed out again.
    const u = world();
    const gone = claim('b', 'gone', 'InClusterIPPool', 'shared');
    u.inClusterPools[4]!.spec.addressReuseGracePeriodSeconds = 600;
    ledgerIn(u, 'blue').spec.entries!['10.3.0.1'] = entry(gone, '10.3.0.1', 'b', '2025-12-31T23:59:00Z')[1];
    r = checkInvariants(u);
    assert.deepEqual({ duplicates: r.duplicates, leaks: r.leaks }, { duplicates: 1, leaks: 0 }, r.problems.join('\n'));
    assert.match(r.problems[0]!, /duplicate: 10\.3\.0\.1 in blue held by IPAddress a\/s1, .* \(released by b\/gone\)/);

    // A legacy reservation of another claim: the same.
    const v = world();
    const other = claim('a', 'other', 'GlobalInClusterIPPool', 'g', false);
    v.claims.push(other);
    v.reservations.push(reservation(other, '10.2.0.1', 'global'));
    r = checkInvariants(v);
    assert.equal(r.duplicates, 1, r.problems.join('\n'));

    // The claim's own entry and reservation (one holder with its IPAddress), and an entry of another claim at the
    // same address in a third namespace's domain (another domain: no duplicate).
    const w = world();
    const elsewhere = claim('c', 'elsewhere', 'InClusterIPPool', 'p', false);
    w.claims.push(elsewhere);
    w.inClusterPools.push(pool('InClusterIPPool', 'c', 'p', ['10.1.0.1-10.1.0.250'], 1));
    ledgerIn(w, 'namespace/a').spec.entries!['10.1.0.1'] = entry(claimOf(w, 'a', 'm1'), '10.1.0.1', 'a')[1];
    w.reservations.push(reservation(claimOf(w, 'a', 'm1'), '10.1.0.1', 'namespace/a', 'a'));
    w.reservations.push(reservation(claimOf(w, 'b', 'm1'), '10.1.0.1', 'namespace/b', 'b'));
    ledgerIn(w, 'namespace/c').spec.entries!['10.1.0.1'] = entry(elsewhere, '10.1.0.1', 'c')[1];
    r = checkInvariants(w);
    assert.deepEqual(r.problems, ['unbound: IPAddressClaim c/elsewhere has no address']);
  });

  it('a global pool and a namespaced pool of one namespace are different domains', () => {
    const t = world();
    const n = claim('a', 'n', 'InClusterIPPool', 'p');
    t.claims.push(n);
    t.addresses.push(address(n, '10.2.0.1')); // the global pool's address, in namespace a's domain
    ledgerIn(t, 'namespace/a').spec.entries!['10.2.0.1'] = entry(n, '10.2.0.1', 'a')[1];
    t.reservations.push(reservation(n, '10.2.0.1', 'namespace/a', 'a'));
    const r = checkInvariants(t);
    assert.equal(r.duplicates, 0, r.problems.join('\n'));
    assert.equal(r.leaks, 0, r.problems.join('\n'));
  });

  it('leaks: an IPAddress without a live claim, a bound claim without IPAddress, an orphan entry or reservation', () => {
    for (const record of ['entry', 'reservation'] as const) {
      const t = world();
      const g1 = claimOf(t, 'a', 'g1');
      if (record === 'entry') ledgerIn(t, 'global').spec.entries!['10.2.0.1'] = entry(g1, '10.2.0.1')[1];
      else t.reservations.push(reservation(g1, '10.2.0.1', 'global'));
      const u = structuredClone(t);
      t.claims = t.claims.filter((c) => c.metadata.name !== 'g1'); // its IPAddress and entry stay
      let r = checkInvariants(t);
      assert.equal(r.leaks, 2, r.problems.join('\n'));
      assert.ok(r.problems.some((p) => p.startsWith('leak: IPAddress a/g1')));
      assert.ok(
        r.problems.some((p) =>
          p.startsWith(
            record === 'entry'
              ? 'leak: IPAddressLedger global entry 10.2.0.1 (10.2.0.1 in global for a/g1) has no live holder'
              : 'leak: IPAddressReservation r-10.2.0.1-global (10.2.0.1 in global for a/g1) has no live holder',
          ),
        ),
        r.problems.join('\n'),
      );

      u.addresses = u.addresses.filter((a) => a.metadata.name !== 'g1'); // claim says bound, entry orphaned
      r = checkInvariants(u);
      assert.equal(r.leaks, 2, r.problems.join('\n'));
      assert.ok(r.problems.some((p) => /IPAddressClaim a\/g1 is bound to g1/.test(p)));
      assert.ok(r.problems.some((p) => /has no live holder \(the claim is bound without its IPAddress\)/.test(p)));
    }
  });

  it('leaks: an entry (or reservation) of a live claim whose IPAddress carries another address, or is in another domain', () => {
    // A losing attempt of a1 left behind at 10.1.0.7 (a1's IPAddress carries 10.1.0.1): the sweep's, once stale.
    const t = world();
    ledgerIn(t, 'namespace/a').spec.entries!['10.1.0.7'] = entry(claimOf(t, 'a', 'm1'), '10.1.0.7', 'a')[1];
    t.inClusterPools[0]!.status!.ipAddresses = { total: 250, used: 2, free: 248, outOfRange: 0 };
    let r = checkInvariants(t);
    assert.deepEqual(r.problems, [
      'leak: IPAddressLedger ns.a entry 10.1.0.7 (10.1.0.7 in namespace/a for a/m1) has no live holder (the claim holds 10.1.0.1 in namespace/a)',
    ]);

    // Its own address, in a ledger of another domain than its IPAddress's.
    const u = world();
    ledgerIn(u, 'global').spec.entries!['10.1.0.1'] = entry(claimOf(u, 'a', 'm1'), '10.1.0.1', 'a')[1];
    u.reservations.push(reservation(claimOf(u, 'a', 's1'), '10.3.0.1', 'namespace/a', 'a'));
    r = checkInvariants(u);
    assert.equal(r.leaks, 2, r.problems.join('\n'));
    assert.equal(r.duplicates, 0, r.problems.join('\n'));
  });

  it('an IPAddress owned by an earlier claim of the same name (another uid) is a leak', () => {
    const t = world();
    t.addresses[0]!.metadata.ownerReferences![0]!.uid = 'uid-of-a-deleted-claim';
    const r = checkInvariants(t);
    assert.ok(r.leaks >= 1);
    assert.ok(r.problems.some((p) => p.startsWith('leak: IPAddress a/m1')));
  });

  it('a released entry or reservation is a leak only past its grace period (and counts as used until gone)', () => {
    for (const record of ['entry', 'reservation'] as const) {
      const g = world();
      const gone = claim('a', 'gone', 'GlobalInClusterIPPool', 'g');
      const at = '2025-12-31T23:59:30Z'; // 30 s before now
      if (record === 'entry')
        ledgerIn(g, 'global').spec.entries!['10.2.0.9'] = entry(gone, '10.2.0.9', undefined, at)[1];
      else g.reservations.push(reservation(gone, '10.2.0.9', 'global', undefined, at));
      g.inClusterPools[2]!.status!.ipAddresses = { total: 250, used: 2, free: 248, outOfRange: 0 };
      let r = checkInvariants(g);
      assert.equal(r.leaks, 1, `${record}: past a grace period of 0`);
      assert.match(r.problems[0]!, /released at 2025-12-31T23:59:30Z, past its grace period of 0s/);
      g.inClusterPools[2]!.spec.addressReuseGracePeriodSeconds = 60;
      r = checkInvariants(g);
      assert.ok(clean(r), r.problems.join('\n'));
      g.inClusterPools[2]!.status!.ipAddresses = { total: 250, used: 1, free: 249, outOfRange: 0 };
      assert.equal(checkInvariants(g).countMismatches, 1, `${record}: a released address is still used`);
    }
  });

  it('the appliance: a host record no claim holds, an Infoblox IPAddress not on the appliance, two records of one address', () => {
    const t = world();
    t.hostRecords!.push({ name: 'orphan.lab', networkView: 'default', ipv4addrs: ['10.9.0.7'], ipv6addrs: [] });
    let r = checkInvariants(t);
    assert.equal(r.leaks, 1);
    assert.match(r.problems[0]!, /host record orphan\.lab holds 10\.9\.0\.7/);

    const u = world();
    u.hostRecords = [];
    r = checkInvariants(u);
    assert.equal(r.leaks, 1);
    assert.match(r.problems[0]!, /IPAddress c\/i1 \(10\.9\.0\.1\) has no host record/);

    const v = world();
    v.hostRecords!.push({ name: 'other.lab', networkView: 'default', ipv4addrs: ['10.9.0.1'], ipv6addrs: [] });
    r = checkInvariants(v);
    assert.equal(r.duplicates, 1);
  });

  it('pool counts against the truth, and stuck and unbound claims', () => {
    const t = world();
    t.inClusterPools[0]!.status!.ipAddresses!.used = 3;
    t.claims.push({ ...claim('a', 'waiting', 'InClusterIPPool', 'p', false) });
    const deleted = claim('a', 'deleted', 'InClusterIPPool', 'p', false);
    deleted.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    deleted.metadata.finalizers = ['ipam.cluster.x-k8s.io/ReleaseAddress'];
    t.claims.push(deleted);
    const r = checkInvariants(t);
    assert.deepEqual(
      { counts: r.countMismatches, stuck: r.stuck, unbound: r.unbound, leaks: r.leaks, duplicates: r.duplicates },
      { counts: 1, stuck: 1, unbound: 1, leaks: 0, duplicates: 0 },
    );
    assert.ok(r.problems.some((p) => /counts: InClusterIPPool a\/p says \{"used":3/.test(p)));
  });

  it('an entry in flight counts as used in every pool of its domain; a deleted ledger still there is stuck', () => {
    const t = world();
    const waiting = claim('a', 'waiting', 'InClusterIPPool', 'shared', false);
    t.claims.push(waiting);
    ledgerIn(t, 'blue').spec.entries!['10.3.0.3'] = entry(waiting, '10.3.0.3', 'a')[1];
    let r = checkInvariants(t);
    assert.equal(r.countMismatches, 2, r.problems.join('\n')); // both pools of blue count 2, the truth is 3
    for (const p of t.inClusterPools.slice(3))
      p.status!.ipAddresses = { total: 250, used: 3, free: 247, outOfRange: 0 };
    r = checkInvariants(t);
    assert.deepEqual(r.problems, ['unbound: IPAddressClaim a/waiting has no address']);

    const u = world();
    u.ledgers[0]!.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    r = checkInvariants(u);
    assert.equal(r.stuck, 1);
    assert.match(r.problems[0]!, /^stuck: IPAddressLedger global deleted at/);
  });
});

describe('checkOwnership', () => {
  const tag = (c: ClaimLike) =>
    `cluster-ipam: IPAddressClaim ${c.metadata.namespace}/${c.metadata.name} uid ${c.metadata.uid}`;
  // One cluster name in two namespaces: two claims of one name, a record each.
  const a = claim('tenant-a', 'dev-cp-0', 'InfobloxIPPool', 'p');
  const b = claim('tenant-b', 'dev-cp-0', 'InfobloxIPPool', 'p');
  const ipas = [address(a, '10.0.0.2'), address(b, '10.0.0.3')];

  it('counts nothing when each record carries its live claim uid and holds its IPAddress', () => {
    const records = [
      { name: 'dev-cp-0', comment: tag(a), uidAttribute: a.metadata.uid!, addresses: ['10.0.0.2'] },
      { name: 'dev-cp-0', comment: tag(b), addresses: ['10.0.0.3'] },
    ];
    assert.deepEqual(checkOwnership(records, [a, b], ipas), { leaks: 0, problems: [] });
  });

  it('counts a record of a gone claim, one of another uid, one holding more, and an IPAddress on no record', () => {
    const gone = claim('tenant-a', 'dev-cp-1', 'InfobloxIPPool', 'p');
    const records = [
      { name: 'dev-cp-0', comment: tag(a), addresses: ['10.0.0.2', '10.0.0.9'] },
      { name: 'dev-cp-0', comment: tag(b), uidAttribute: 'uid-other', addresses: ['10.0.0.3'] },
      { name: 'dev-cp-1', comment: tag(gone), addresses: ['10.0.0.4'] },
      { name: 'dev-cp-1', comment: 'hand-made', addresses: ['10.0.0.5'] },
    ];
    const found = checkOwnership(records, [a, b], ipas);
    assert.equal(found.leaks, 5, found.problems.join('\n'));
    assert.match(found.problems.join('\n'), /10\.0\.0\.9 not its claim's IPAddress/);
    assert.match(found.problems.join('\n'), /IPAddress tenant-b\/dev-cp-0 \(10\.0\.0\.3\) is on no record/);
  });
});
