import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAddress, parseAddress, validatePool } from '../../core/index.ts';
import { AddressBook, type ReservationInfo } from './book.ts';

const pool = (addresses: string[], prefix = 24) => validatePool({ addresses, prefix }).pool!;
const a = parseAddress;
const res = (address: string, claimUid: string, uid = `r-${address}`): ReservationInfo => ({
  name: address,
  uid,
  address: a(address),
  claimUid,
  claimNamespace: 'ns',
  claimName: claimUid,
  poolKey: 'p',
});
const picked = (book: AddressBook, key: string, claim: string) => {
  const x = book.pick(key, claim);
  return x && formatAddress(x);
};

describe('AddressBook', () => {
  it('picks the lowest free address and never the same one twice', () => {
    const book = new AddressBook();
    book.syncPool('p', pool(['10.0.0.1-10.0.0.3']), 'v1');
    assert.equal(picked(book, 'p', 'c1'), '10.0.0.1');
    assert.equal(picked(book, 'p', 'c2'), '10.0.0.2');
    assert.equal(picked(book, 'p', 'c3'), '10.0.0.3');
    assert.equal(picked(book, 'p', 'c4'), undefined);
    assert.deepEqual(book.claimAddress('c2'), { address: a('10.0.0.2'), poolKey: 'p', pending: true, released: false });
  });

  it('counts reservations and IPAddresses as taken, in every pool that holds the address', () => {
    const book = new AddressBook();
    book.observeReservation(res('10.0.0.1', 'old'));
    book.observeIPAddress('ns/legacy', a('10.0.0.2'));
    book.syncPool('p', pool(['10.0.0.1-10.0.0.4']), 'v1');
    book.syncPool('q', pool(['10.0.0.3-10.0.0.4']), 'v1'); // overlaps p
    assert.equal(picked(book, 'p', 'c1'), '10.0.0.3');
    assert.equal(picked(book, 'q', 'c2'), '10.0.0.4');
    assert.equal(picked(book, 'p', 'c3'), undefined);
    assert.deepEqual(book.poolsContaining(a('10.0.0.3')), ['p', 'q']);
    book.forgetReservation(res('10.0.0.1', 'old'));
    assert.equal(picked(book, 'p', 'c3'), '10.0.0.1');
  });

  it('keeps an address taken until the informer shows its deletion, and ignores stale deletions', () => {
    const book = new AddressBook();
    book.syncPool('p', pool(['10.0.0.1']), 'v1');
    book.observeReservation(res('10.0.0.1', 'c1', 'uid-1'));
    book.forgetReservation(res('10.0.0.1', 'c1', 'uid-1'));
    assert.equal(picked(book, 'p', 'c2'), '10.0.0.1');
    book.observeReservation(res('10.0.0.1', 'c2', 'uid-2'));
    assert.equal(book.claimAddress('c2')?.pending, false);
    book.forgetReservation(res('10.0.0.1', 'c1', 'uid-1')); // a late event about the old object
    assert.equal(book.isTaken(a('10.0.0.1')), true);
  });

  it('a 409 marks the address taken; abandoning a failed create frees it', () => {
    const book = new AddressBook();
    book.syncPool('p', pool(['10.0.0.1-10.0.0.2']), 'v1');
    const first = book.pick('p', 'c1')!;
    book.conflict(first, 'c1');
    assert.equal(book.claimAddress('c1'), undefined);
    assert.equal(picked(book, 'p', 'c1'), '10.0.0.2');
    book.abandon(a('10.0.0.2'), 'c1');
    assert.equal(picked(book, 'p', 'c3'), '10.0.0.2');
  });

  it('drops unconfirmed marks after staleMs, only when the pool would otherwise be exhausted', () => {
    let now = 0;
    const book = new AddressBook({ now: () => now, staleMs: 1000 });
    book.syncPool('p', pool(['10.0.0.1']), 'v1');
    book.conflict(book.pick('p', 'c1')!, 'c1');
    now = 999;
    assert.equal(picked(book, 'p', 'c1'), undefined);
    now = 1000;
    assert.equal(picked(book, 'p', 'c1'), '10.0.0.1');
  });

  it('rebuilds a pool from what is taken when its spec changes', () => {
    const book = new AddressBook();
    book.syncPool('p', pool(['10.0.0.1']), 'v1');
    assert.equal(picked(book, 'p', 'c1'), '10.0.0.1');
    book.syncPool('p', pool(['10.0.0.1-10.0.0.2']), 'v2');
    assert.equal(picked(book, 'p', 'c2'), '10.0.0.2');
    assert.equal(book.freeCount('p'), 0n);
  });
});
