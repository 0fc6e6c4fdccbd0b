import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IntervalSet, validatePool, type PoolSpec } from '../core/index.ts';
import { countText, maxCells, planDomains, planPool, type HolderInput, type PoolInput } from './model.ts';
import { esc, renderJSON, renderPage } from './render.ts';

const input = (spec: PoolSpec, holders: HolderInput[] = [], extra: Partial<PoolInput> = {}): PoolInput => ({
  key: 'InClusterIPPool/ns/p',
  kind: 'InClusterIPPool',
  namespace: 'ns',
  name: 'p',
  domain: 'namespace/ns',
  pool: validatePool(spec).pool,
  errors: [],
  warnings: [],
  holders,
  ...extra,
});

const ip = (address: string, machine: string, extra: Partial<HolderInput> = {}): HolderInput => ({
  address,
  kind: 'IPAddress',
  namespace: 'ns',
  name: machine,
  machine,
  ...extra,
});

describe('address plan model', () => {
  it('draws a /24 as 256 cells: holders, gateway, reserved, excluded, free, outside', () => {
    const plan = planPool(
      input({ addresses: ['10.0.0.10-10.0.0.20'], prefix: 24, gateway: '10.0.0.1', excludedAddresses: ['10.0.0.15'] }, [
        ip('10.0.0.10', 'm1', { cluster: 'c1' }),
        ip('10.0.0.11', 'm2', { cluster: 'c1' }),
      ]),
    );
    assert.equal(plan.cells?.length, 256);
    const state = (a: string) => plan.cells!.find((c) => c.address === a)!.state;
    assert.equal(state('10.0.0.0'), 'reserved');
    assert.equal(state('10.0.0.1'), 'gateway');
    assert.equal(state('10.0.0.2'), 'outside');
    assert.equal(state('10.0.0.10'), 'used');
    assert.equal(state('10.0.0.12'), 'free');
    assert.equal(state('10.0.0.15'), 'excluded');
    assert.equal(state('10.0.0.255'), 'reserved');
    assert.match(plan.cells!.find((c) => c.address === '10.0.0.10')!.title, /machine m1 \(cluster c1\)/);
    assert.deepEqual(plan.counts, { subnet: '256', usable: '10', used: '2', free: '8', usableHuman: '10' });
    assert.deepEqual(plan.conflicts, []);
    assert.deepEqual(
      plan.runs.map((r) => [r.from, r.to, r.state]),
      [
        ['10.0.0.0', '10.0.0.0', 'reserved'],
        ['10.0.0.1', '10.0.0.1', 'gateway'],
        ['10.0.0.2', '10.0.0.9', 'outside'],
        ['10.0.0.10', '10.0.0.11', 'used'],
        ['10.0.0.12', '10.0.0.14', 'free'],
        ['10.0.0.15', '10.0.0.15', 'excluded'],
        ['10.0.0.16', '10.0.0.20', 'free'],
        ['10.0.0.21', '10.0.0.254', 'outside'],
        ['10.0.0.255', '10.0.0.255', 'reserved'],
      ],
    );
  });

  it('flags two holders of one address, a DuplicateAddress condition, a held gateway; a claim is one holder', () => {
    const plan = planPool(
      input({ addresses: ['10.0.0.0/24'], prefix: 24, gateway: '10.0.0.1' }, [
        ip('10.0.0.5', 'y'),
        ip('10.0.0.5', 'z', { problem: 'DuplicateAddress: same as y' }),
        ip('10.0.0.1', 'g'),
        ip('10.0.0.7', 'r'),
        { ...ip('10.0.0.7', 'r'), kind: 'IPAddressReservation', name: 'ipv4-10-0-0-7' },
        ip('10.0.0.9', 'flagged', { problem: 'DuplicateAddress: elsewhere' }),
        ip('10.9.9.9', 'stray'),
      ]),
    );
    assert.deepEqual(
      plan.conflicts.map((c) => [c.address, c.message]),
      [
        ['10.0.0.1', 'held, but it is the gateway'],
        ['10.0.0.5', 'held by 2: claim ns/y, claim ns/z'],
        ['10.0.0.9', 'DuplicateAddress: elsewhere'],
        ['10.9.9.9', 'held outside the pool subnet'],
      ],
    );
    const state = (a: string) => plan.cells!.find((c) => c.address === a)!.state;
    assert.equal(state('10.0.0.5'), 'conflict');
    assert.equal(state('10.0.0.7'), 'used');
    assert.equal(plan.counts?.used, '3'); // the gateway is not usable
  });

  it('shows an endpoint kept out of the machines as the endpoint; a machine on an excluded or endpoint address is red', () => {
    const endpoint = (address: string, name: string): HolderInput => ({
      address,
      kind: 'Endpoint',
      namespace: 'ns',
      name,
    });
    const plan = planPool(
      input({ addresses: ['10.0.0.0/24'], prefix: 24, excludedAddresses: ['10.0.0.5', '10.0.0.6'] }, [
        endpoint('10.0.0.5', 'prod'),
        ip('10.0.0.6', 'm-excluded'),
        endpoint('10.0.0.7', 'lab'),
        ip('10.0.0.7', 'm-on-endpoint'),
      ]),
    );
    const state = (a: string) => plan.cells!.find((c) => c.address === a)!.state;
    assert.equal(state('10.0.0.5'), 'endpoint');
    assert.deepEqual(
      plan.conflicts.map((c) => [c.address, c.message]),
      [
        ['10.0.0.6', 'held, but it is excluded'],
        ['10.0.0.7', 'held by 2: endpoint ns/lab, claim ns/m-on-endpoint'],
      ],
    );
  });

  it('summarises an IPv6 /64 and a /16 in runs, with no cells', () => {
    const v6 = planPool(
      input({ addresses: ['fd00::/64'], prefix: 64 }, [ip('fd00::1', 'a'), ip('fd00::2', 'b'), ip('fd00::10', 'c')]),
    );
    assert.equal(v6.cells, undefined);
    assert.equal(v6.counts?.usable, ((1n << 64n) - 1n).toString());
    assert.deepEqual(
      v6.runs.map((r) => [r.from, r.to, r.state, r.holders.length]),
      [
        ['fd00::', 'fd00::', 'reserved', 0],
        ['fd00::1', 'fd00::2', 'used', 2],
        ['fd00::3', 'fd00::f', 'free', 0],
        ['fd00::10', 'fd00::10', 'used', 1],
        ['fd00::11', 'fd00::ffff:ffff:ffff:ffff', 'free', 0],
      ],
    );
    assert.equal(v6.runs.at(-1)!.count, ((1n << 64n) - 0x11n).toString());

    const holders = Array.from({ length: 300 }, (_, i) => ip(`10.1.${(i + 1) >> 8}.${(i + 1) & 255}`, `m${i}`));
    const v4 = planPool(input({ addresses: ['10.1.0.0/16'], prefix: 16 }, holders));
    assert.equal(v4.cells, undefined);
    assert.ok(v4.runs.length < 10, `${v4.runs.length} runs`);
    assert.equal(v4.counts?.used, '300');
  });

  it('marks free addresses shared with another pool of the domain; groups pools by domain', () => {
    const other = validatePool({ addresses: ['10.0.0.100-10.0.0.200'], prefix: 24 }).pool!;
    const plan = planPool(
      input({ addresses: ['10.0.0.0/24'], prefix: 24 }, [], {
        overlaps: [{ pool: 'InClusterIPPool/ns/q', set: other.usable }],
      }),
    );
    assert.equal(plan.cells!.find((c) => c.address === '10.0.0.150')!.state, 'shared');
    assert.equal(plan.cells!.find((c) => c.address === '10.0.0.50')!.state, 'free');
    const domains = planDomains([
      input({ addresses: ['10.0.0.0/24'], prefix: 24 }, [], { domain: 'global', key: 'G//g' }),
      input({ addresses: ['10.0.0.0/24'], prefix: 24 }),
    ]);
    assert.deepEqual(
      domains.map((d) => d.domain),
      ['global', 'namespace/ns'],
    );
  });

  it('an invalid pool has its errors and no picture', () => {
    const plan = planPool(input({ addresses: ['nope'], prefix: 24 }, [], { errors: ['spec.addresses[0]: bad'] }));
    assert.equal(plan.cells, undefined);
    assert.deepEqual(plan.runs, []);
    assert.deepEqual(plan.errors, ['spec.addresses[0]: bad']);
  });

  it('counts', () => {
    assert.equal(countText(256n), '256');
    assert.equal(countText(1n << 64n), '2^64');
    assert.equal(countText((1n << 64n) - 1n), '18446744073709551615');
    assert.equal(maxCells, 256);
    assert.ok(IntervalSet.empty(4).isEmpty);
  });
});

describe('address plan page', () => {
  it('escapes names in HTML and keeps the same data in JSON', () => {
    const evil = '<img src=x onerror=alert(1)>"\'&';
    const domains = planDomains([
      input({ addresses: ['10.0.0.0/24'], prefix: 24 }, [ip('10.0.0.5', evil, { cluster: evil })], { name: evil }),
    ]);
    const html = renderPage(domains, 'now');
    assert.ok(!html.includes('<img'), 'raw markup from a name');
    assert.ok(html.includes(esc(evil)));
    assert.equal(esc(evil), '&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;');
    assert.equal((html.match(/class="cell /g) ?? []).length, 256);
    const json = JSON.parse(renderJSON(domains, 'now')) as {
      domains: { pools: { holders: { machine: string }[] }[] }[];
    };
    assert.equal(json.domains[0]!.pools[0]!.holders[0]!.machine, evil);
  });
});
