import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { crdFileName, crdHeader, crdName, kinds, renderCRD, toCRD } from './index.ts';
import { lintSchema, re2Problem, schemaAt } from './structural.ts';

const crdDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../deploy/crds');

// Short names of kube-apiserver 1.34's built-in resources and of Cluster API's CRDs, which share a cluster with ours.
const takenShortNames = new Set([
  ...['cs', 'cm', 'ep', 'ev', 'limits', 'ns', 'no', 'pvc', 'pv', 'po', 'rc', 'quota', 'sa', 'svc', 'crd', 'crds'],
  ...['ds', 'deploy', 'rs', 'sts', 'hpa', 'cj', 'csr', 'ing', 'ip', 'netpol', 'pdb', 'pc', 'sc', 'vac'],
  ...['cl', 'ma', 'md', 'ms', 'mhc', 'mp', 'cc', 'kcp', 'crs', 'crsb'],
]);

describe('generated CRDs', () => {
  it('deploy/crds holds exactly what npm run gen:crds writes', async () => {
    const files = (await readdir(crdDir)).filter((f) => f.endsWith('.yaml')).sort();
    assert.deepEqual(files, kinds.map(crdFileName).sort(), 'run npm run gen:crds');
    for (const k of kinds) {
      const committed = await readFile(join(crdDir, crdFileName(k)), 'utf8');
      assert.equal(committed, renderCRD(k), `${crdFileName(k)} is stale: run npm run gen:crds`);
    }
  });

  it('YAML is plain data: parses back to the CRD object, no anchors', () => {
    for (const k of kinds) {
      const text = renderCRD(k);
      assert.ok(text.startsWith(crdHeader));
      assert.doesNotMatch(text, /^\s*[^#\n]*[&*][a-z]\w*\s*$/m, 'YAML anchors or aliases');
      assert.deepEqual(parse(text), JSON.parse(JSON.stringify(toCRD(k))));
    }
  });

  for (const k of kinds) {
    it(`${crdName(k)} is structural, bounded and RE2-safe`, () => {
      assert.deepEqual(lintSchema(k.schema), []);
    });
  }
});

describe('kind descriptors', () => {
  it('have unique names and short names that clash with nothing built in', () => {
    assert.equal(new Set(kinds.map(crdName)).size, kinds.length);
    const shortNames = kinds.flatMap((k) => k.shortNames ?? []);
    assert.equal(new Set(shortNames).size, shortNames.length, 'short names are unique');
    for (const s of shortNames) assert.ok(!takenShortNames.has(s), `short name ${s} is taken`);
    for (const k of kinds) {
      assert.ok(!k.categories?.includes('all'), `${k.kind} must not join "all"`);
      assert.equal(k.plural, k.plural.toLowerCase());
      assert.equal(k.singular, k.kind.toLowerCase());
    }
  });

  it('point every printer column at a field of the schema', () => {
    for (const k of kinds) {
      for (const c of k.printerColumns) {
        const node = schemaAt(k.schema, c.jsonPath);
        if (c.jsonPath === '.metadata.creationTimestamp') continue;
        assert.ok(node, `${k.kind} column ${c.name}: ${c.jsonPath} is not in the schema`);
      }
    }
  });

  it('have a status subresource exactly when they have a status', () => {
    for (const k of kinds) assert.equal(k.statusSubresource, k.status !== undefined, k.kind);
  });

  it('use the groups and versions of the contract', () => {
    const versions = Object.fromEntries(kinds.map((k) => [k.kind, `${k.apiVersion} ${k.scope}`]));
    assert.deepEqual(versions, {
      ClusterIPAMClaim: 'k0rdent.mirantis.com/v1beta1 Namespaced',
      ClusterIPAM: 'k0rdent.mirantis.com/v1beta1 Namespaced',
      ClusterDeployment: 'k0rdent.mirantis.com/v1beta1 Namespaced',
      IPAddressClaim: 'ipam.cluster.x-k8s.io/v1beta2 Namespaced',
      IPAddress: 'ipam.cluster.x-k8s.io/v1beta2 Namespaced',
      InClusterIPPool: 'ipam.cluster.x-k8s.io/v1alpha2 Namespaced',
      GlobalInClusterIPPool: 'ipam.cluster.x-k8s.io/v1alpha2 Cluster',
      InfobloxInstance: 'ipam.cluster.x-k8s.io/v1alpha1 Cluster',
      IPAddressReservation: 'ipam.k0rdent.mirantis.com/v1alpha1 Cluster',
      IPAddressLedger: 'ipam.k0rdent.mirantis.com/v1alpha1 Cluster',
      InfobloxIPPool: 'ipam.cluster.x-k8s.io/v1alpha1 Namespaced',
    });
  });
});

describe('structural lint', () => {
  const object = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    type: 'object',
    properties: { metadata: { type: 'object' }, spec: { type: 'object', properties, ...extra } },
  });
  const cases: [string, unknown, string][] = [
    ['$ref', object({ a: { $ref: '#/definitions/x' } }), '"$ref" is not allowed'],
    ['definitions', { ...object({}), definitions: {} }, '"definitions" is not allowed'],
    ['patternProperties', object({ a: { type: 'object', patternProperties: {} } }), '"patternProperties"'],
    ['type null', object({ a: { type: 'null' } }), 'use nullable'],
    ['type list', object({ a: { type: ['string', 'null'], maxLength: 1 } }), 'is not one of'],
    ['untyped field', object({ a: { description: 'x' } }), 'no type'],
    [
      'properties and additionalProperties',
      object({}, { additionalProperties: { type: 'string', maxLength: 1 } }),
      'additionalProperties next to properties',
    ],
    [
      'additionalProperties false',
      object({ a: { type: 'object', additionalProperties: false } }),
      'additionalProperties: false',
    ],
    ['additionalProperties at the root', { ...object({}), additionalProperties: true }, 'at the root'],
    [
      'type inside anyOf',
      object({ a: { type: 'string', maxLength: 3, anyOf: [{ type: 'string' }] } }),
      '"type" inside anyOf',
    ],
    [
      'default inside oneOf',
      object({ a: { type: 'string', maxLength: 3, oneOf: [{ default: 'x' }] } }),
      '"default" inside oneOf',
    ],
    [
      'metadata beyond name',
      { type: 'object', properties: { metadata: { type: 'object', properties: { labels: { type: 'object' } } } } },
      'only constrain name and generateName',
    ],
    ['lookahead', object({ a: { type: 'string', maxLength: 3, pattern: '^(?!x)' } }), 'lookaround'],
    ['backreference', object({ a: { type: 'string', maxLength: 3, pattern: '^(a)\\1$' } }), 'backreference'],
    ['unbounded string', object({ a: { type: 'string' } }), 'without maxLength'],
    ['unbounded list', object({ a: { type: 'array', items: { type: 'integer' } } }), 'without maxItems'],
    [
      'list map key not required',
      object({
        a: {
          type: 'array',
          maxItems: 2,
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['k'],
          items: { type: 'object', properties: { k: { type: 'string', maxLength: 1 } } },
        },
      }),
      'must be required',
    ],
    ['object pruned to nothing', object({ a: { type: 'object' } }), 'pruned'],
    [
      'rule without message',
      object({ a: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self > 0' }] } }),
      'no message',
    ],
    [
      'fieldPath without dot',
      object({}, { 'x-kubernetes-validations': [{ rule: 'true', message: 'm', fieldPath: 'a' }] }),
      'fieldPath',
    ],
    [
      'default of the wrong type',
      object({ a: { type: 'string', maxLength: 3, default: 443 } }),
      'default is not string',
    ],
  ];
  for (const [name, schema, expected] of cases) {
    it(`flags ${name}`, () => {
      const problems = lintSchema(schema);
      assert.ok(
        problems.some((p) => p.includes(expected)),
        `expected a problem containing "${expected}", got ${JSON.stringify(problems)}`,
      );
    });
  }

  it('accepts what Go regexp accepts', () => {
    for (const p of ['^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', '^\\d+\\.\\d+$', 'a{2,3}', '\\+']) {
      assert.equal(re2Problem(p), undefined, p);
    }
    assert.equal(re2Problem('a*+'), 'possessive quantifier');
    assert.equal(re2Problem('(?>a)'), 'atomic group');
  });
});
