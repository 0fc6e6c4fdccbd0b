// A self-signed CA and a serving certificate, built with node:crypto alone, for whatever serves HTTPS here: the
// pools' admission webhook, the WAPI simulator, the local mode's Cluster API webhooks. It sits below all of them and
// does no I/O. Node can make keys and sign, but has no X.509 builder; the few DER structures a certificate needs
// (RFC 5280) are written here rather than pulling in a dependency. ECDSA P-256 with SHA-256: what Go's crypto/x509
// (the API server) verifies natively. The serving certificate names its hosts in subjectAltName (Go ignores the CN).
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

export interface ServingCertificate {
  /** PEM of the CA: the webhook configuration's caBundle. */
  caPem: string;
  /** PEM of the serving certificate and of its private key, for the HTTPS server. */
  certPem: string;
  keyPem: string;
}

// --- DER ------------------------------------------------------------------------------------------------------------

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, content: Buffer) => tlv(0xa0 + n, content);
const octets = (b: Buffer) => tlv(0x04, b);
const bits = (b: Buffer, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));

/** A non-negative INTEGER from big-endian bytes. */
function uint(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const trimmed = b.subarray(i);
  return tlv(0x02, trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime (years 1950-2049), as RFC 5280 requires for those years. */
function time(d: Date): Buffer {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(2, 14);
  return tlv(0x17, Buffer.from(`${s}Z`, 'ascii'));
}

const OID = {
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
};

const name = (cn: string) => seq(set(seq(oid(OID.commonName), utf8(cn))));
const extension = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

function keyId(publicKey: KeyObject): Buffer {
  return createHash('sha1')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest();
}

function sanEntry(host: string): Buffer {
  if (isIP(host) === 4) return tlv(0x87, Buffer.from(host.split('.').map(Number)));
  if (isIP(host) === 6) {
    const [head, tail = ''] = host.split('::');
    const groups = (s: string) => (s ? s.split(':') : []);
    const h = groups(head!);
    const t = host.includes('::') ? groups(tail) : [];
    const all = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    return tlv(0x87, Buffer.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff])));
  }
  return tlv(0x82, Buffer.from(host, 'ascii'));
}

interface CertInput {
  subject: string;
  issuer: string;
  publicKey: KeyObject;
  signer: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: Buffer[];
}

function certificate(c: CertInput): Buffer {
  const algorithm = seq(oid(OID.ecdsaWithSHA256));
  const tbs = seq(
    explicit(0, uint(Buffer.from([2]))), // v3
    uint(Buffer.concat([Buffer.from([0x01]), randomBytes(15)])), // positive, 16 bytes
    algorithm,
    name(c.issuer),
    seq(time(c.notBefore), time(c.notAfter)),
    name(c.subject),
    c.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...c.extensions)),
  );
  return seq(tbs, algorithm, bits(sign('sha256', tbs, c.signer)));
}

const pem = (der: Buffer) =>
  `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;

/**
 * A fresh CA and a certificate for `hosts` (DNS names and IP addresses) signed by it. The CA's key is dropped:
 * nothing else is ever signed with it, and a restart makes a new pair (and re-registers the caBundle).
 */
export function selfSignedServingCertificate(hosts: readonly string[], validDays = 365): ServingCertificate {
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const leaf = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // A little slack for clocks that disagree.
  const notBefore = new Date(Date.now() - 5 * 60_000);
  const notAfter = new Date(Date.now() + validDays * 86_400_000);
  const caName = `cluster-ipam-webhook-ca-${randomBytes(4).toString('hex')}`;
  const caCert = certificate({
    subject: caName,
    issuer: caName,
    publicKey: ca.publicKey,
    signer: ca.privateKey,
    notBefore,
    notAfter,
    extensions: [
      extension(OID.basicConstraints, true, seq(bool(true))),
      // digitalSignature, keyCertSign, cRLSign
      extension(OID.keyUsage, true, bits(Buffer.from([0x86]), 1)),
      extension(OID.subjectKeyIdentifier, false, octets(keyId(ca.publicKey))),
    ],
  });
  const leafCert = certificate({
    subject: hosts[0] ?? 'cluster-ipam-webhook',
    issuer: caName,
    publicKey: leaf.publicKey,
    signer: ca.privateKey,
    notBefore,
    notAfter,
    extensions: [
      extension(OID.basicConstraints, true, seq()),
      // digitalSignature
      extension(OID.keyUsage, true, bits(Buffer.from([0x80]), 7)),
      extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))),
      extension(OID.subjectAltName, false, seq(...hosts.map(sanEntry))),
      extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, keyId(ca.publicKey)))),
    ],
  });
  return {
    caPem: pem(caCert),
    certPem: pem(leafCert),
    keyPem: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}
