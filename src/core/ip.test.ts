import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { exactPrefix, formatAddress, IpParseError, maxValue, parseAddress, parseCidr, parseEntry } from './ip.ts';

const fmt = (text: string): string => formatAddress(parseAddress(text));

describe('parseAddress', () => {
  it('reads IPv4 dotted quads as 32-bit values', () => {
    assert.deepEqual(parseAddress('10.0.0.1'), { family: 4, value: 0x0a000001n });
    assert.deepEqual(parseAddress('0.0.0.0'), { family: 4, value: 0n });
    assert.deepEqual(parseAddress('255.255.255.255'), { family: 4, value: 0xffffffffn });
  });

  it('reads IPv6 in any case and prints it per RFC 5952', () => {
    assert.deepEqual(parseAddress('2001:DB8::1'), { family: 6, value: (0x20010db8n << 96n) | 1n });
    assert.equal(fmt('2001:0DB8:0:0:0:0:0:0001'), '2001:db8::1');
    assert.equal(fmt('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
    assert.equal(fmt('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
    assert.equal(fmt('1:2:3:4:5:6:7::'), '1:2:3:4:5:6:7:0');
    assert.equal(fmt('0:0:0:0:0:0:0:0'), '::');
    assert.equal(fmt('fd00::ffff:0:1'), 'fd00::ffff:0:1');
  });

  for (const [text, why] of [
    ['10.0.0.256', /not a valid IPv4 address/],
    ['1.2.3', /not a valid IPv4 address/],
    ['10.1', /not a valid IPv4 address/],
    ['010.0.0.1', /no leading zeros/],
    ['10.0.0.01', /no leading zeros/],
    ['4294967295', /not a valid IPv4 address/],
    ['0x0a.0.0.1', /not an IP address/],
    [' 10.0.0.1', /not an IP address/],
    ['10.0.0.1 ', /not an IP address/],
    ['', /not an IP address/],
    ['fe80::1%eth0', /zone/],
    ['::ffff:10.0.0.1', /hex, not dotted decimal/],
    ['64:ff9b::1.2.3.4', /hex, not dotted decimal/],
    ['::ffff:a00:1', /IPv4-mapped/],
    ['1::2::3', /not a valid IPv6 address/],
    ['12345::', /not a valid IPv6 address/],
    ['1:2:3:4:5:6:7:8:9', /not a valid IPv6 address/],
  ] as const) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseAddress(text),
        (e) => e instanceof IpParseError && why.test(e.message),
      );
    });
  }

  it('round-trips every IPv4 and non-mapped IPv6 value through text', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: maxValue(4) }), (value) => {
        assert.deepEqual(parseAddress(formatAddress({ family: 4, value })), { family: 4, value });
      }),
    );
    const v6 = fc.bigInt({ min: 0n, max: maxValue(6) }).filter((v) => v >> 32n !== 0xffffn);
    fc.assert(
      fc.property(v6, (value) => {
        assert.deepEqual(parseAddress(formatAddress({ family: 6, value })), { family: 6, value });
      }),
    );
  });
});

describe('parseCidr', () => {
  it('masks an unaligned CIDR', () => {
    const c = parseCidr('192.168.1.1/24');
    assert.deepEqual(
      [c.prefix, formatAddress({ family: 4, value: c.lo }), formatAddress({ family: 4, value: c.hi })],
      [24, '192.168.1.0', '192.168.1.255'],
    );
    const v6 = parseCidr('fd00::1:2:3:4/64');
    assert.deepEqual([v6.prefix, v6.lo, v6.hi - v6.lo + 1n], [64, 0xfd00n << 112n, 1n << 64n]);
  });

  it('accepts /0 and full-length prefixes', () => {
    assert.equal(parseCidr('0.0.0.0/0').hi, maxValue(4));
    assert.equal(parseCidr('::/0').hi, maxValue(6));
    assert.equal(parseCidr('10.0.0.7/32').lo, parseCidr('10.0.0.7/32').hi);
    assert.equal(parseCidr('fd00::7/128').lo, parseAddress('fd00::7').value);
  });

  for (const text of [
    '10.0.0.0/33',
    'fd00::/129',
    '10.0.0.0/024',
    '10.0.0.0/',
    '10.0.0.0/-1',
    '10.0.0.0/ 8',
    '10.0.0/8',
  ]) {
    it(`rejects ${text}`, () => assert.throws(() => parseCidr(text), IpParseError));
  }
});

describe('parseEntry', () => {
  it('reads single addresses, inclusive ranges and CIDRs', () => {
    assert.deepEqual(parseEntry('10.0.0.5'), { family: 4, lo: 0x0a000005n, hi: 0x0a000005n });
    assert.deepEqual(parseEntry('10.0.0.1-10.0.0.254'), { family: 4, lo: 0x0a000001n, hi: 0x0a0000fen });
    assert.deepEqual(parseEntry('fd00::a-fd00::a'), {
      family: 6,
      lo: (0xfd00n << 112n) | 10n,
      hi: (0xfd00n << 112n) | 10n,
    });
    assert.deepEqual(parseEntry('10.0.0.1/30'), { family: 4, prefix: 30, lo: 0x0a000000n, hi: 0x0a000003n });
  });

  for (const [text, why] of [
    ['10.0.0.5-10.0.0.1', /starts after it ends/],
    ['10.0.0.1-fd00::1', /cannot mix IPv4 and IPv6/],
    ['10.0.0.1-10.0.0.2-10.0.0.3', /one "-"/],
    ['10.0.0.0/24-10.0.1.0', /single addresses/],
    ['10.0.0.1-', /not an IP address/],
    ['10.0.0.1 - 10.0.0.5', /not an IP address/],
  ] as const) {
    it(`rejects ${text}`, () => {
      assert.throws(
        () => parseEntry(text),
        (e) => e instanceof IpParseError && why.test(e.message),
      );
    });
  }
});

describe('exactPrefix', () => {
  it('knows a range that is exactly one CIDR', () => {
    assert.equal(exactPrefix(4, parseEntry('10.0.0.0/24')), 24);
    assert.equal(exactPrefix(4, parseEntry('10.0.0.0-10.0.0.0')), 32);
    assert.equal(exactPrefix(6, parseEntry('::/0')), 0);
    assert.equal(exactPrefix(4, parseEntry('10.0.0.1-10.0.0.2')), undefined);
    assert.equal(exactPrefix(4, parseEntry('10.0.0.0-10.0.0.2')), undefined);
  });
});
