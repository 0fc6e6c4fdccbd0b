import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Allocator } from './allocator.ts';
import { formatAddress, parseAddress } from './ip.ts';
import { checkPoolShrink, validatePool, type Pool, type PoolSpec } from './pool.ts';

function pool(spec: PoolSpec): Pool {
  const check = validatePool(spec);
  assert.deepEqual(check.errors, []);
  return check.pool!;
}

/** The first `n` allocations from a fresh pool, then whether it is exhausted. */
function allocations(spec: PoolSpec, n: number): { got: string[]; exhausted: boolean } {
  const allocator = new Allocator(pool(spec).usable);
  const got: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = allocator.allocate();
    if (a === undefined) break;
    got.push(formatAddress(a));
  }
  return { got, exhausted: allocator.counts().free === 0n };
}

const usable = (spec: PoolSpec): string => pool(spec).usable.toString();
const fields = (spec: PoolSpec, path?: string): string[] => validatePool(spec, path).errors.map((e) => e.field);

describe('worked examples of the in-cluster provider', () => {
  it('10.0.0.1-10.0.0.254, prefix 24, gateway 10.0.0.2: the first claim gets 10.0.0.1', () => {
    const { got } = allocations({ addresses: ['10.0.0.1-10.0.0.254'], prefix: 24, gateway: '10.0.0.2' }, 2);
    assert.deepEqual(got, ['10.0.0.1', '10.0.0.3']);
  });

  it('10.0.1.0, .1, .2, .255, prefix 24, gateway 10.0.1.1: 10.0.1.2, then exhausted', () => {
    const spec = { addresses: ['10.0.1.0', '10.0.1.1', '10.0.1.2', '10.0.1.255'], prefix: 24, gateway: '10.0.1.1' };
    assert.deepEqual(allocations(spec, 5), { got: ['10.0.1.2'], exhausted: true });
  });

  it('10.0.0.0/24 excluding 10.0.0.2-10.0.0.5 and 10.0.0.7, gateway 10.0.0.1: .6, .8, .9', () => {
    const spec = {
      addresses: ['10.0.0.0/24'],
      prefix: 24,
      gateway: '10.0.0.1',
      excludedAddresses: ['10.0.0.2-10.0.0.5', '10.0.0.7'],
    };
    assert.deepEqual(allocations(spec, 3).got, ['10.0.0.6', '10.0.0.8', '10.0.0.9']);
  });

  it('the same three examples on IPv6', () => {
    assert.deepEqual(allocations({ addresses: ['fd00::1-fd00::fe'], prefix: 64, gateway: 'fd00::2' }, 2).got, [
      'fd00::1',
      'fd00::3',
    ]);
    const listed = { addresses: ['fd00::', 'fd00::1', 'fd00::2', 'fd00::ffff'], prefix: 112, gateway: 'fd00::1' };
    assert.deepEqual(allocations(listed, 5), { got: ['fd00::2', 'fd00::ffff'], exhausted: true });
    const excluded = {
      addresses: ['fd00::/120'],
      prefix: 120,
      gateway: 'fd00::1',
      excludedAddresses: ['fd00::2-fd00::5', 'fd00::7'],
    };
    assert.deepEqual(allocations(excluded, 3).got, ['fd00::6', 'fd00::8', 'fd00::9']);
  });

  it('allocates in ascending order however the addresses are written', () => {
    const spec = { addresses: ['10.0.0.200-10.0.0.201', '10.0.0.0/30', '10.0.0.100'], prefix: 24 };
    assert.deepEqual(allocations(spec, 10).got, [
      '10.0.0.1',
      '10.0.0.2',
      '10.0.0.3',
      '10.0.0.100',
      '10.0.0.200',
      '10.0.0.201',
    ]);
  });
});

describe('reserved addresses', () => {
  it('keeps the IPv4 network and broadcast of <lowest address>/<prefix> out, unless allocateReservedIPAddresses', () => {
    assert.equal(usable({ addresses: ['10.0.0.0/24'], prefix: 24 }), '10.0.0.1-10.0.0.254');
    assert.equal(usable({ addresses: ['10.0.0.0/24'], prefix: 24, allocateReservedIPAddresses: true }), '10.0.0.0/24');
    // The subnet comes from the lowest address, not from each entry: 10.0.0.128 is not a network address here.
    assert.equal(usable({ addresses: ['10.0.0.128/25'], prefix: 24 }), '10.0.0.128-10.0.0.254');
    assert.equal(usable({ addresses: ['10.0.0.10-10.0.0.20'], prefix: 24 }), '10.0.0.10-10.0.0.20');
  });

  it('keeps only the Subnet-Router anycast address out on IPv6: there is no broadcast', () => {
    assert.equal(usable({ addresses: ['fd00::/120'], prefix: 120 }), 'fd00::1-fd00::ff');
    assert.equal(pool({ addresses: ['2001:db8::/64'], prefix: 64 }).usable.size, (1n << 64n) - 1n);
  });

  it('reserves nothing on point-to-point and host prefixes (/31, /32, /127, /128)', () => {
    assert.equal(usable({ addresses: ['10.0.0.4/31'], prefix: 31 }), '10.0.0.4/31');
    assert.equal(usable({ addresses: ['10.0.0.5'], prefix: 32 }), '10.0.0.5');
    assert.equal(usable({ addresses: ['fd00::4/127'], prefix: 127 }), 'fd00::4/127');
    assert.equal(usable({ addresses: ['fd00::5'], prefix: 128 }), 'fd00::5');
    assert.equal(usable({ addresses: ['10.0.0.4/30'], prefix: 30 }), '10.0.0.5-10.0.0.6');
    assert.equal(usable({ addresses: ['fd00::4/126'], prefix: 126 }), 'fd00::5-fd00::7');
  });
});

describe('validatePool', () => {
  it('accepts a valid spec without errors or warnings', () => {
    const check = validatePool({
      addresses: ['10.0.0.0/25', '10.0.0.200-10.0.0.210', '10.0.0.250'],
      prefix: 24,
      gateway: '10.0.0.1',
      excludedAddresses: ['10.0.0.5', '10.0.0.64/26', '192.168.0.1'],
      addressReuseGracePeriodSeconds: 0,
    });
    assert.deepEqual([check.errors, check.warnings], [[], []]);
    assert.equal(
      check.pool!.usable.toString(),
      '10.0.0.2-10.0.0.4, 10.0.0.6-10.0.0.63, 10.0.0.200-10.0.0.210, 10.0.0.250',
    );
  });

  it('rejects empty or missing addresses and a missing prefix', () => {
    assert.deepEqual(validatePool({ addresses: [], prefix: 24 }).errors, [
      { field: 'spec.addresses', message: 'required: at least one address, range A-B or CIDR' },
    ]);
    assert.deepEqual(fields({}), ['spec.addresses', 'spec.prefix']);
  });

  it('names each entry that is not an address, range or CIDR', () => {
    const { errors, pool } = validatePool({
      addresses: ['10.0.0.0/24', '10.0.0.7', '10.0.0.256', '10.0.0.9-10.0.0.3'],
      prefix: 24,
    });
    assert.equal(pool, undefined);
    assert.deepEqual(
      errors.map((e) => e.field),
      ['spec.addresses[2]', 'spec.addresses[3]'],
    );
    assert.match(
      errors[0]!.message,
      /"10\.0\.0\.256" is not a valid IPv4 address.*expected an address, a range A-B or a CIDR/,
    );
    assert.match(errors[1]!.message, /starts after it ends/);
  });

  it('rejects addresses of mixed families, naming the entry that set the family', () => {
    const { errors } = validatePool({ addresses: ['10.0.0.0/24', 'fd00::1'], prefix: 24 });
    assert.deepEqual(errors, [
      {
        field: 'spec.addresses[1]',
        message: '"fd00::1" is IPv6 but spec.addresses[0] ("10.0.0.0/24") is IPv4: a pool has one family',
      },
    ]);
  });

  it('rejects a prefix that is negative, fractional or too long for the family', () => {
    assert.deepEqual(validatePool({ addresses: ['10.0.0.0/24'], prefix: 33 }).errors, [
      { field: 'spec.prefix', message: '33 is not a valid prefix length for IPv4 (0 to 32)' },
    ]);
    assert.deepEqual(fields({ addresses: ['10.0.0.0/24'], prefix: -1 }), ['spec.prefix']);
    assert.deepEqual(fields({ addresses: ['10.0.0.0/24'], prefix: 24.5 }), ['spec.prefix']);
    assert.deepEqual(fields({ addresses: ['fd00::/64'], prefix: 129 }), ['spec.prefix']);
    assert.deepEqual(fields({ addresses: ['fd00::/64'], prefix: 64 }), []);
    assert.deepEqual(fields({ addresses: ['bogus'], prefix: 200 }), ['spec.addresses[0]', 'spec.prefix']);
  });

  it('rejects a gateway that is not one address or is of the other family', () => {
    const base = { addresses: ['10.0.0.0/24'], prefix: 24 };
    assert.deepEqual(fields({ ...base, gateway: '10.0.0.0/24' }), ['spec.gateway']);
    assert.match(
      validatePool({ ...base, gateway: 'gw' }).errors[0]!.message,
      /"gw" is not an IP address; the gateway is a single address/,
    );
    assert.deepEqual(validatePool({ ...base, gateway: 'fd00::1' }).errors, [
      {
        field: 'spec.gateway',
        message: '"fd00::1" is IPv6 but spec.addresses[0] ("10.0.0.0/24") is IPv4: a pool has one family',
      },
    ]);
    assert.deepEqual(fields({ ...base, gateway: '' }), []);
  });

  it('rejects excluded entries that are unparsable, mixed or of the other family', () => {
    const base = { addresses: ['10.0.0.0/24'], prefix: 24 };
    assert.deepEqual(fields({ ...base, excludedAddresses: ['10.0.0.5', 'ten'] }), ['spec.excludedAddresses[1]']);
    assert.deepEqual(fields({ ...base, excludedAddresses: ['fd00::5'] }), ['spec.excludedAddresses[0]']);
    const mixed = validatePool({ addresses: [], prefix: 24, excludedAddresses: ['10.0.0.1', 'fd00::1'] });
    assert.deepEqual(mixed.errors[1], {
      field: 'spec.excludedAddresses[1]',
      message: '"fd00::1" is IPv6 but spec.excludedAddresses[0] ("10.0.0.1") is IPv4: a pool has one family',
    });
  });

  it('rejects a negative or fractional grace period', () => {
    const base = { addresses: ['10.0.0.0/24'], prefix: 24 };
    assert.deepEqual(validatePool({ ...base, addressReuseGracePeriodSeconds: -1 }).errors, [
      { field: 'spec.addressReuseGracePeriodSeconds', message: '-1 is not a number of seconds ≥ 0' },
    ]);
    assert.deepEqual(fields({ ...base, addressReuseGracePeriodSeconds: 0.5 }), ['spec.addressReuseGracePeriodSeconds']);
  });

  it('rejects an entry reaching outside <lowest address>/<prefix>', () => {
    const { errors } = validatePool({ addresses: ['10.0.0.0/24', '10.0.1.5', '10.0.0.250-10.0.1.2'], prefix: 24 });
    assert.deepEqual(errors, [
      {
        field: 'spec.addresses[1]',
        message: '"10.0.1.5" is outside the subnet 10.0.0.0/24 (the lowest pool address with prefix 24)',
      },
      {
        field: 'spec.addresses[2]',
        message: '"10.0.0.250-10.0.1.2" is outside the subnet 10.0.0.0/24 (the lowest pool address with prefix 24)',
      },
    ]);
    assert.deepEqual(fields({ addresses: ['10.0.0.0/16'], prefix: 24 }), ['spec.addresses[0]']);
    assert.deepEqual(fields({ addresses: ['fd00::/64', 'fd00:0:0:1::1'], prefix: 64 }), ['spec.addresses[1]']);
  });

  it('warns about a gateway outside the subnet and a pool with nothing to hand out', () => {
    const outside = validatePool({ addresses: ['10.0.0.0/24'], prefix: 24, gateway: '10.0.1.1' });
    assert.deepEqual(outside.errors, []);
    assert.deepEqual(outside.warnings, [
      {
        field: 'spec.gateway',
        message: '10.0.1.1 is outside the subnet 10.0.0.0/24: machines given prefix 24 have no route to it',
      },
    ]);
    assert.ok(outside.pool);
    const empty = validatePool({
      addresses: ['10.0.0.0/30'],
      prefix: 30,
      gateway: '10.0.0.1',
      excludedAddresses: ['10.0.0.2'],
    });
    assert.deepEqual(
      empty.warnings.map((w) => w.field),
      ['spec.addresses'],
    );
    assert.equal(empty.pool!.usable.isEmpty, true);
  });

  it('names fields under the given path', () => {
    assert.deepEqual(fields({ addresses: ['x'], prefix: 24, gateway: 'y' }, 'spec.template.spec'), [
      'spec.template.spec.addresses[0]',
      'spec.template.spec.gateway',
    ]);
  });
});

describe('checkPoolShrink', () => {
  const allocated = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.7', '10.0.0.8', '10.0.0.20'].map(parseAddress);

  it('accepts a change that keeps every allocated address usable', () => {
    const check = checkPoolShrink(
      undefined,
      pool({ addresses: ['10.0.0.0/24'], prefix: 24, excludedAddresses: ['10.0.0.100-10.0.0.200'] }),
      allocated,
    );
    assert.deepEqual(check, { outside: [], errors: [] });
  });

  it('lists the allocated addresses that would fall outside, on the field responsible', () => {
    const shrunk = pool({
      addresses: ['10.0.0.0-10.0.0.10'],
      prefix: 24,
      gateway: '10.0.0.8',
      excludedAddresses: ['10.0.0.2-10.0.0.3'],
    });
    const { outside, errors } = checkPoolShrink(undefined, shrunk, [
      ...allocated,
      parseAddress('10.0.0.0'),
      parseAddress('fd00::1'),
    ]);
    assert.deepEqual(outside.map(formatAddress), [
      '10.0.0.0',
      '10.0.0.2',
      '10.0.0.3',
      '10.0.0.8',
      '10.0.0.20',
      'fd00::1',
    ]);
    assert.deepEqual(errors, [
      { field: 'spec.addresses', message: 'allocated addresses would no longer be in the pool: 10.0.0.20, fd00::1' },
      { field: 'spec.excludedAddresses', message: 'allocated addresses would be excluded: 10.0.0.2/31' },
      { field: 'spec.gateway', message: 'allocated addresses would be the gateway: 10.0.0.8' },
      {
        field: 'spec.allocateReservedIPAddresses',
        message: 'allocated addresses would be reserved as the network or broadcast address of 10.0.0.0/24: 10.0.0.0',
      },
    ]);
  });

  it('counts only addresses the pool offered before: one already outside (kept after a move) blocks nothing', () => {
    const before = pool({ addresses: ['10.0.0.10-10.0.0.20'], prefix: 24 });
    const held = ['10.0.0.12', '10.0.0.99', 'fd00::1'].map(parseAddress);
    const grown = pool({ addresses: ['10.0.0.10-10.0.0.30'], prefix: 24 });
    assert.deepEqual(checkPoolShrink(before, grown, held), { outside: [], errors: [] });
    const regated = pool({ addresses: ['10.0.0.10-10.0.0.20'], prefix: 24, gateway: '10.0.0.1' });
    assert.deepEqual(checkPoolShrink(before, regated, held), { outside: [], errors: [] });
    // Taking out an address it did offer is still refused, and only that one is named.
    const shrunk = pool({ addresses: ['10.0.0.13-10.0.0.20'], prefix: 24 });
    assert.deepEqual(checkPoolShrink(before, shrunk, held).errors, [
      { field: 'spec.addresses', message: 'allocated addresses would no longer be in the pool: 10.0.0.12' },
    ]);
  });

  it('cuts a long list short', () => {
    const many = Array.from({ length: 30 }, (_, i) => parseAddress(`10.0.1.${i * 2}`));
    const [error] = checkPoolShrink(undefined, pool({ addresses: ['10.0.0.0/24'], prefix: 24 }), many, 'x.spec').errors;
    assert.equal(error!.field, 'x.spec.addresses');
    assert.match(error!.message, /: 10\.0\.1\.0, 10\.0\.1\.2, .*, 10\.0\.1\.18 and 20 more$/);
  });
});
