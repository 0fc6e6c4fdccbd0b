import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IPAddressLedger, IPAddressLedgerEntry } from '../../api/index.ts';
import { parseAddress } from '../../core/index.ts';
import { AddressBook } from './book.ts';
import { diffEntries, ledgerInfos } from './entries.ts';

const entry = (uid: string, releasedAt?: string): IPAddressLedgerEntry => ({
  poolRef: { kind: 'InClusterIPPool', namespace: 'ns', name: 'p' },
  claimRef: { namespace: 'ns', name: `c-${uid}`, uid },
  ...(releasedAt ? { releasedAt } : {}),
});

const ledger = (entries: Record<string, IPAddressLedgerEntry>): IPAddressLedger => ({
  apiVersion: 'ipam.k0rdent.mirantis.com/v1alpha1',
  kind: 'IPAddressLedger',
  metadata: { name: 'ipv4-10-0-0-0-24.ns.ns' },
  spec: { domain: 'namespace/ns', block: '10.0.0.0/24', entries },
});

describe('ledger entries in the book', () => {
  it('an update changes only the entries that differ; a release keeps its holder, a new claim replaces it', () => {
    const bad: string[] = [];
    const v1 = ledgerInfos(
      ledger({ '10.0.0.1': entry('a'), '10.0.0.2': entry('b'), '10.0.0.3': entry('c') }),
      undefined,
      (k) => bad.push(k),
    );
    const first = diffEntries(undefined, v1);
    assert.deepEqual(first.forget, []);
    assert.equal(first.observe.length, 3);

    const at = '2026-01-01T00:00:00Z';
    // .1 unchanged, .2 released, .3 goes to another claim, .4 new, and two keys that are not addresses of the block.
    const v2 = ledgerInfos(
      ledger({
        '10.0.0.1': entry('a'),
        '10.0.0.2': entry('b', at),
        '10.0.0.3': entry('d'),
        '10.0.0.4': entry('e'),
        '10.0.1.5': entry('x'),
        '10.0.0.006': entry('y'),
      }),
      v1,
      (k) => bad.push(k),
    );
    assert.deepEqual(bad, ['10.0.1.5', '10.0.0.006']);
    assert.equal(v2.get('10.0.0.1'), v1.get('10.0.0.1'), 'an unchanged entry keeps its object');
    const d = diffEntries(v1, v2);
    assert.deepEqual(
      d.forget.map((i) => i.claimUid),
      ['c'],
    );
    assert.deepEqual(
      d.observe.map((i) => [i.claimUid, i.releasedAt]),
      [
        ['b', at],
        ['d', undefined],
        ['e', undefined],
      ],
    );
    assert.deepEqual(d.changed.map((i) => i.claimUid).sort(), ['b', 'b', 'c', 'd', 'e']);

    // The book, fed the two diffs: .2 is still held (released), .3 is d's, c holds nothing, and .2's holder kept
    // the time it was first seen.
    let now = 1000;
    const book = new AddressBook({ now: () => now });
    for (const i of first.observe) book.observeReservation(i);
    now = 5000;
    for (const i of d.forget) book.forgetReservation(i);
    for (const i of d.observe) book.observeReservation(i);
    const held = book.reservationAt('namespace/ns', parseAddress('10.0.0.2'));
    assert.equal(held?.releasedAt, at);
    assert.equal(held?.seenAt, 1000);
    assert.equal(held?.releaseSeenAt, 5000);
    assert.equal(book.reservationAt('namespace/ns', parseAddress('10.0.0.3'))?.claimUid, 'd');
    assert.equal(book.claimAddress('c'), undefined);
    assert.deepEqual(book.holds('InClusterIPPool/ns/p'), { ipAddresses: 0, reservations: 4 });

    // Entries removed: forgotten, the address free.
    const v3 = ledgerInfos(ledger({ '10.0.0.1': entry('a') }), v2, () => {});
    const gone = diffEntries(v2, v3);
    for (const i of gone.forget) book.forgetReservation(i);
    assert.deepEqual(gone.forget.map((i) => i.claimUid).sort(), ['b', 'd', 'e']);
    assert.equal(book.isTaken('namespace/ns', parseAddress('10.0.0.3')), false);
    assert.deepEqual(book.holds('InClusterIPPool/ns/p'), { ipAddresses: 0, reservations: 1 });
  });
});
