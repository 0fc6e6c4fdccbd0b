// The chaos suite's invariants on plain objects (no API server): each kind of breakage is counted once, and a
// consistent state counts nothing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkInvariants,
  checkOwnership,
  clean,
  type AddressLike,
  type ClaimLike,
  type InClusterPoolLike,
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

/** A consistent world: two namespaces with the same private range, a global pool, a shared domain, Infoblox. */
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
    reservations: [
      reservation(a1, '10.1.0.1', 'namespace/a', 'a'),
      reservation(b1, '10.1.0.1', 'namespace/b', 'b'),
      reservation(g1, '10.2.0.1', 'global'),
      reservation(s1, '10.3.0.1', 'blue', 'a'),
      reservation(s2, '10.3.0.2', 'blue', 'b'),
    ],
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

  it('a global pool and a namespaced pool of one namespace are different domains', () => {
    const t = world();
    const n = claim('a', 'n', 'InClusterIPPool', 'p');
    t.claims.push(n);
    t.addresses.push(address(n, '10.2.0.1')); // the global pool's address, in namespace a's domain
    t.reservations.push(reservation(n, '10.2.0.1', 'namespace/a', 'a'));
    assert.equal(checkInvariants(t).duplicates, 0);
  });

  it('leaks: an IPAddress without a live claim, a bound claim without IPAddress, an orphan reservation', () => {
    const t = world();
    t.claims = t.claims.filter((c) => c.metadata.name !== 'g1'); // its IPAddress and reservation stay
    let r = checkInvariants(t);
    assert.equal(r.leaks, 2, r.problems.join('\n'));
    assert.ok(r.problems.some((p) => p.startsWith('leak: IPAddress a/g1')));
    assert.ok(r.problems.some((p) => p.startsWith('leak: IPAddressReservation')));

    const u = world();
    u.addresses = u.addresses.filter((a) => a.metadata.name !== 'g1'); // claim says bound, reservation orphaned
    r = checkInvariants(u);
    assert.equal(r.leaks, 2, r.problems.join('\n'));
    assert.ok(r.problems.some((p) => /IPAddressClaim a\/g1 is bound to g1/.test(p)));
  });

  it('an IPAddress owned by an earlier claim of the same name (another uid) is a leak', () => {
    const t = world();
    t.addresses[0]!.metadata.ownerReferences![0]!.uid = 'uid-of-a-deleted-claim';
    const r = checkInvariants(t);
    assert.ok(r.leaks >= 1);
    assert.ok(r.problems.some((p) => p.startsWith('leak: IPAddress a/m1')));
  });

  it('an in-cluster IPAddress without a reservation is a leak; a released reservation only past its grace', () => {
    const t = world();
    t.reservations = t.reservations.filter((r) => r.spec.domain !== 'global');
    assert.equal(checkInvariants(t).leaks, 1);

    const g = world();
    const gone = claim('a', 'gone', 'GlobalInClusterIPPool', 'g');
    g.reservations.push(reservation(gone, '10.2.0.9', 'global', undefined, '2025-12-31T23:59:30Z'));
    g.inClusterPools[2]!.status!.ipAddresses = { total: 250, used: 2, free: 248, outOfRange: 0 };
    assert.equal(checkInvariants(g).leaks, 1, 'past a grace period of 0');
    g.inClusterPools[2]!.spec.addressReuseGracePeriodSeconds = 60;
    assert.ok(clean(checkInvariants(g)), checkInvariants(g).problems.join('\n'));
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
