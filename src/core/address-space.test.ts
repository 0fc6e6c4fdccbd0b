import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressSpacePool } from './address-space.ts';

const path = 'spec.nodeNetwork';

describe('addressSpacePool', () => {
  it('turns a cidr into a pool whose prefix defaults to the cidr length', () => {
    const check = addressSpacePool({ cidr: '10.0.0.0/24', gateway: '10.0.0.1' }, path);
    assert.deepEqual([check.errors, check.warnings], [[], []]);
    assert.deepEqual(check.spec, { addresses: ['10.0.0.0/24'], prefix: 24, gateway: '10.0.0.1' });
    assert.equal(check.pool!.usable.toString(), '10.0.0.2-10.0.0.254');
  });

  it('keeps an explicit prefix over the cidr length', () => {
    const check = addressSpacePool({ cidr: '10.0.0.64/26', prefix: 24 }, path);
    assert.deepEqual(check.spec, { addresses: ['10.0.0.64/26'], prefix: 24 });
    assert.equal(check.pool!.usable.toString(), '10.0.0.64/26');
  });

  it('uses ipAddresses entries of all three forms', () => {
    const space = {
      ipAddresses: ['10.0.0.10', '10.0.0.20-10.0.0.22', '10.0.0.32/30'],
      prefix: 24,
      gateway: '10.0.0.1',
    };
    const check = addressSpacePool(space, path);
    assert.deepEqual(check.errors, []);
    assert.deepEqual(check.spec, { addresses: space.ipAddresses, prefix: 24, gateway: '10.0.0.1' });
    assert.equal(check.pool!.usable.toString(), '10.0.0.10, 10.0.0.20-10.0.0.22, 10.0.0.32/30');
  });

  it('requires a prefix when only ipAddresses are given', () => {
    assert.deepEqual(addressSpacePool({ ipAddresses: ['10.0.0.10-10.0.0.20'] }, path), {
      spec: undefined,
      pool: undefined,
      errors: [{ field: 'spec.nodeNetwork.prefix', message: 'required when ipAddresses is used' }],
      warnings: [],
    });
  });

  it('requires cidr or ipAddresses', () => {
    assert.deepEqual(addressSpacePool({ ipAddresses: [], gateway: '10.0.0.1' }, path).errors, [
      { field: 'spec.nodeNetwork', message: 'one of cidr or ipAddresses is required' },
    ]);
  });

  it('reports a bad cidr once, on the cidr field', () => {
    for (const cidr of ['10.0.0.0/33', '10.0.0.5', 'ten/8']) {
      const { errors, spec } = addressSpacePool({ cidr }, path);
      assert.equal(spec, undefined);
      assert.deepEqual(
        errors.map((e) => e.field),
        ['spec.nodeNetwork.cidr'],
        cidr,
      );
    }
    assert.match(addressSpacePool({ cidr: '10.0.0.5' }, path).errors[0]!.message, /is not a CIDR/);
  });

  it('requires ipAddresses to lie inside the cidr when both are given', () => {
    const { errors } = addressSpacePool(
      { cidr: '10.0.0.0/24', ipAddresses: ['10.0.0.5', '10.0.1.5', 'fd00::1'] },
      path,
    );
    assert.deepEqual(errors, [
      { field: 'spec.nodeNetwork.ipAddresses[1]', message: '"10.0.1.5" is outside the cidr 10.0.0.0/24' },
      { field: 'spec.nodeNetwork.ipAddresses[2]', message: '"fd00::1" is IPv6 but the cidr is IPv4' },
    ]);
  });

  it('names the fields of a nested address space, IPv6 included', () => {
    const nested = 'spec.ipamClaim.spec.nodeNetwork';
    assert.deepEqual(
      addressSpacePool({ cidr: 'fd00::/64', gateway: '10.0.0.1' }, nested).errors.map((e) => e.field),
      ['spec.ipamClaim.spec.nodeNetwork.gateway'],
    );
    assert.deepEqual(
      addressSpacePool({ ipAddresses: ['fd00::1', 'x'], prefix: 64 }, nested).errors.map((e) => e.field),
      ['spec.ipamClaim.spec.nodeNetwork.ipAddresses[1]'],
    );
    const check = addressSpacePool({ cidr: 'fd00::/64', gateway: 'fd00::1' }, nested);
    assert.equal(check.pool!.usable.size, (1n << 64n) - 2n);
    assert.deepEqual(
      addressSpacePool({ cidr: 'fd00::/64', gateway: 'fd00:1::1' }, nested).warnings.map((w) => w.field),
      ['spec.ipamClaim.spec.nodeNetwork.gateway'],
    );
  });
});
