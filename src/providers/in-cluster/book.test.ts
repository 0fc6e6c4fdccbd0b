import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAddress, IntervalSet, parseAddress, validatePool } from '../../core/index.ts';
import { AddressBook, type ReservationInfo } from './book.ts';

const pool = (addresses: string[], prefix = 24) => validatePool({ addresses, prefix }).pool!;
const a = parseAddress;
const D = 'namespace/ns';
const P = 'InClusterIPPool/ns/p';
const Q = 'InClusterIPPool/ns/q';
const res = (address: string, claimUid: string, uid = `r-${address}`, domain = D): ReservationInfo => ({
  name: address,
  uid,
  address: a(address),
  domain,
  claimUid,
  claimNamespace: 'ns',
  claimName: claimUid,
  poolKey: P,
});
const picked = (book: AddressBook, key: string, claim: string) => {
  const x = book.pick(key, claim);
  return x && formatAddress(x);
};

describe('AddressBook', () => {
  it('picks the lowest free address and never the same one twice', () => {
    const book = new AddressBook();
    book.syncPool(P, pool(['10.0.0.1-10.0.0.3']), 'v1', D);
    assert.equal(picked(book, P, 'c1'), '10.0.0.1');
    assert.equal(picked(book, P, 'c2'), '10.0.0.2');
    assert.equal(picked(book, P, 'c3'), '10.0.0.3');
    assert.equal(picked(book, P, 'c4'), undefined);
  });

  it('never gives a claim an address it has only tried: a pending attempt is not a reservation', () => {
    const book = new AddressBook();
    book.syncPool(P, pool(['10.0.0.1-10.0.0.3']), 'v1', D);
    const tried = book.pick(P, 'c1')!;
    assert.equal(book.claimAddress('c1'), undefined);
    assert.deepEqual(book.attemptOf('c1'), { domain: D, address: tried, poolKey: P });
    book.observeReservation(res('10.0.0.1', 'c1'));
    assert.deepEqual(book.claimAddress('c1'), { address: tried, domain: D, poolKey: P, released: false });
    assert.equal(book.attemptOf('c1'), undefined);
  });

  it('counts reservations and IPAddresses as taken, in every pool of the domain that holds the address', () => {
    const book = new AddressBook();
    book.observeReservation(res('10.0.0.1', 'old'));
    book.observeIPAddress('ns/legacy', P, a('10.0.0.2'));
    book.syncPool(P, pool(['10.0.0.1-10.0.0.4']), 'v1', D);
    book.syncPool(Q, pool(['10.0.0.3-10.0.0.4']), 'v1', D); // overlaps p
    assert.equal(picked(book, P, 'c1'), '10.0.0.3');
    assert.equal(picked(book, Q, 'c2'), '10.0.0.4');
    assert.equal(picked(book, P, 'c3'), undefined);
    assert.deepEqual(book.poolsContaining(D, a('10.0.0.3')), [P, Q]);
    book.forgetReservation(res('10.0.0.1', 'old'));
    assert.equal(picked(book, P, 'c3'), '10.0.0.1');
  });

  it('keeps address domains apart: the same range in two namespaces hands out the same addresses', () => {
    const book = new AddressBook();
    const A = 'InClusterIPPool/a/p';
    const B = 'InClusterIPPool/b/p';
    book.syncPool(A, pool(['10.0.0.0/24']), 'v1', 'namespace/a');
    book.syncPool(B, pool(['10.0.0.0/24']), 'v1', 'namespace/b');
    assert.equal(picked(book, A, 'a1'), '10.0.0.1');
    assert.equal(picked(book, B, 'b1'), '10.0.0.1');
    book.observeIPAddress('a/m', A, a('10.0.0.2'));
    assert.equal(picked(book, B, 'b2'), '10.0.0.2');
    assert.equal(book.counts(A)?.used, 2n);
    assert.equal(book.counts(B)?.used, 2n);
    assert.deepEqual(book.poolsContaining('namespace/a', a('10.0.0.2')), [A]);
  });

  it('moves a pool and its IPAddresses into the domain an annotation names', () => {
    const book = new AddressBook();
    const A = 'InClusterIPPool/a/p';
    const B = 'InClusterIPPool/b/p';
    book.observeIPAddress('a/m', A, a('10.0.0.1')); // seen before its pool: the default domain of its namespace
    book.syncPool(B, pool(['10.0.0.0/24']), 'v1', 'blue');
    assert.equal(book.isTaken('blue', a('10.0.0.1')), false);
    book.syncPool(A, pool(['10.0.0.0/24']), 'v1', 'blue');
    assert.equal(book.isTaken('blue', a('10.0.0.1')), true);
    assert.equal(book.isTaken('namespace/a', a('10.0.0.1')), false);
    assert.equal(picked(book, B, 'b1'), '10.0.0.2');
    book.removePool(A);
    assert.equal(book.isTaken('namespace/a', a('10.0.0.1')), true);
  });

  it('keeps an address taken until the informer shows its deletion, and ignores stale deletions', () => {
    const book = new AddressBook();
    book.syncPool(P, pool(['10.0.0.1']), 'v1', D);
    book.observeReservation(res('10.0.0.1', 'c1', 'uid-1'));
    book.forgetReservation(res('10.0.0.1', 'c1', 'uid-1'));
    assert.equal(picked(book, P, 'c2'), '10.0.0.1');
    book.observeReservation(res('10.0.0.1', 'c2', 'uid-2'));
    assert.equal(book.claimAddress('c2')?.address.value, a('10.0.0.1').value);
    book.forgetReservation(res('10.0.0.1', 'c1', 'uid-1')); // a late event about the old object
    assert.equal(book.isTaken(D, a('10.0.0.1')), true);
  });

  it('a 409 marks the address taken; abandoning a refused create frees it', () => {
    const book = new AddressBook();
    book.syncPool(P, pool(['10.0.0.1-10.0.0.2']), 'v1', D);
    const first = book.pick(P, 'c1')!;
    book.conflict(D, first, 'c1');
    assert.equal(book.claimAddress('c1'), undefined);
    assert.equal(book.attemptOf('c1'), undefined);
    assert.equal(picked(book, P, 'c1'), '10.0.0.2');
    book.abandon(D, a('10.0.0.2'), 'c1');
    assert.equal(picked(book, P, 'c3'), '10.0.0.2');
  });

  it('frees the address of an attempt its claim gave up: for another address, or by going away', () => {
    const book = new AddressBook();
    book.syncPool(P, pool(['10.0.0.1-10.0.0.3']), 'v1', D);
    assert.equal(picked(book, P, 'c1'), '10.0.0.1');
    book.hold(D, a('10.0.0.3'), 'c1', P);
    assert.equal(picked(book, P, 'c2'), '10.0.0.1');
    assert.equal(picked(book, P, 'c3'), '10.0.0.2');
    book.forgetAttempt('c1');
    assert.equal(book.attemptOf('c1'), undefined);
    assert.equal(picked(book, P, 'c4'), '10.0.0.3');
  });

  it('drops unconfirmed marks after staleMs, only when the pool would otherwise be exhausted', () => {
    let now = 0;
    const book = new AddressBook({ now: () => now, staleMs: 1000 });
    book.syncPool(P, pool(['10.0.0.1']), 'v1', D);
    book.conflict(D, book.pick(P, 'c1')!, 'c1');
    now = 999;
    assert.equal(picked(book, P, 'c1'), undefined);
    now = 1000;
    assert.equal(picked(book, P, 'c1'), '10.0.0.1');
  });

  it('rebuilds a pool from what is taken when its spec changes', () => {
    const book = new AddressBook();
    book.syncPool(P, pool(['10.0.0.1']), 'v1', D);
    assert.equal(picked(book, P, 'c1'), '10.0.0.1');
    book.syncPool(P, pool(['10.0.0.1-10.0.0.2']), 'v2', D);
    assert.equal(picked(book, P, 'c2'), '10.0.0.2');
    assert.equal(book.counts(P)?.free, 0n);
  });

  it('counts what others hold in a domain, for capacity checks', () => {
    const book = new AddressBook();
    book.observeIPAddress('ns/mine', P, a('10.0.0.1'));
    book.observeIPAddress('ns/theirs', Q, a('10.0.0.2'));
    book.observeReservation({ ...res('10.0.0.3', 'x'), poolKey: Q });
    book.observeIPAddress('other/x', 'InClusterIPPool/other/q', a('10.0.0.4'));
    const set = IntervalSet.parse(4, ['10.0.0.0/24']);
    assert.equal(book.takenIn(D, set, [P]), 2n);
    assert.equal(book.takenIn(D, set, []), 3n);
  });

  it('tells the addresses held from a pool: its IPAddresses and unreleased reservations', () => {
    const book = new AddressBook();
    book.observeIPAddress('ns/m', P, a('10.0.0.1'));
    book.observeReservation(res('10.0.0.1', 'm'));
    book.observeReservation(res('10.0.0.2', 'n'));
    book.observeReservation({ ...res('10.0.0.3', 'o'), releasedAt: '2026-01-01T00:00:00Z' });
    book.observeIPAddress('ns/x', Q, a('10.0.0.4'));
    assert.deepEqual(book.heldBy(P).map(formatAddress).sort(), ['10.0.0.1', '10.0.0.2']);
  });

  it('reports the pools whose counts change, also for marks no object event shows (an attempt held, given up)', () => {
    const book = new AddressBook();
    book.syncPool(P, pool(['10.0.0.1-10.0.0.4']), 'v1', D);
    book.syncPool(Q, pool(['10.0.0.3-10.0.0.4']), 'v1', D);
    const seen: string[][] = [];
    book.onCountsChange((keys) => seen.push([...keys]));
    const tried = book.pick(P, 'c1')!;
    book.forgetAttempt('c1');
    assert.deepEqual(seen, [[P], [P]]);
    seen.length = 0;
    book.hold(D, a('10.0.0.3'), 'c2', Q);
    book.abandon(D, a('10.0.0.3'), 'c2');
    assert.deepEqual(seen, [
      [P, Q],
      [P, Q],
    ]);
    seen.length = 0;
    book.hold(D, tried, 'c3', P);
    book.observeReservation(res('10.0.0.1', 'c3')); // still taken: no change to report
    assert.deepEqual(seen, [[P]]);
  });
});
