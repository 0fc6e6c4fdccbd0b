// An offline check that a CRD schema is structural and bounded, so a mistake fails a unit test with a precise path
// instead of a kube-apiserver rejection at install time. The real API server (test/integration/crds.test.ts)
// remains the judge; this catches the known traps early.

const allowedKeys = new Set([
  'description',
  'type',
  'format',
  'title',
  'default',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'multipleOf',
  'enum',
  'maxProperties',
  'minProperties',
  'required',
  'items',
  'properties',
  'additionalProperties',
  'nullable',
  'example',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-int-or-string',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-validations',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
]);
// Inside value validations (allOf/anyOf/oneOf/not) a structural schema may not declare the shape again.
const forbiddenInJunctors = ['type', 'description', 'default', 'nullable', 'additionalProperties', 'title'];
const types = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);
const reasons = new Set(['FieldValueInvalid', 'FieldValueForbidden', 'FieldValueRequired', 'FieldValueDuplicate']);
// Formats whose values are bounded by the format itself.
const boundedFormats = new Set(['date-time', 'date', 'int32', 'int64', 'uuid']);

/** Constructs RE2 (Go's regexp) does not have: lookarounds, backreferences, atomic groups, possessive quantifiers. */
export function re2Problem(pattern: string): string | undefined {
  if (/\(\?<?[=!]/.test(pattern)) return 'lookaround';
  if (/\\[1-9]|\\k</.test(pattern)) return 'backreference';
  if (/\(\?>/.test(pattern)) return 'atomic group';
  if (/[*+?}]\+/.test(pattern.replace(/\\./g, 'x'))) return 'possessive quantifier';
  try {
    new RegExp(pattern, 'u');
  } catch (err) {
    return `does not compile: ${(err as Error).message}`;
  }
  return undefined;
}

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

function valueMatchesType(value: unknown, type: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isNode(value);
    default:
      return true;
  }
}

/** Problems that would make the schema non-structural, unbounded or otherwise rejected; empty when fine. */
export function lintSchema(root: unknown): string[] {
  const problems: string[] = [];
  const problem = (path: string, what: string) => problems.push(`${path}: ${what}`);

  // `envelope`: the root's apiVersion and kind, which the API server checks itself.
  const walk = (node: unknown, path: string, where: { root?: boolean; metadata?: boolean; envelope?: boolean }) => {
    if (!isNode(node)) return problem(path, 'not a schema object');
    for (const key of Object.keys(node)) {
      if (!allowedKeys.has(key)) problem(path, `"${key}" is not allowed in a structural schema`);
    }
    const preserve = node['x-kubernetes-preserve-unknown-fields'];
    if (preserve !== undefined && preserve !== true) problem(path, 'x-kubernetes-preserve-unknown-fields must be true');
    const typeless = preserve === true || node['x-kubernetes-int-or-string'] === true;
    const type = node.type;
    if (type === undefined) {
      if (!typeless) problem(path, 'no type (and no preserve-unknown-fields / int-or-string)');
    } else if (typeof type !== 'string' || !types.has(type)) {
      problem(path, `type ${JSON.stringify(type)} is not one of ${[...types].join(', ')} (null: use nullable)`);
    }
    if (node.additionalProperties !== undefined) {
      if (node.properties !== undefined) problem(path, 'additionalProperties next to properties');
      if (where.root) problem(path, 'additionalProperties at the root');
      if (node.additionalProperties === false)
        problem(path, 'additionalProperties: false (unknown fields are pruned anyway)');
    }

    if (where.metadata) {
      const props = isNode(node.properties) ? Object.keys(node.properties) : [];
      const extra = props.filter((p) => p !== 'name' && p !== 'generateName');
      if (extra.length) problem(path, `metadata may only constrain name and generateName, not ${extra.join(', ')}`);
    }

    if (type === 'string' && node.maxLength === undefined && node.enum === undefined && !where.envelope) {
      if (!boundedFormats.has(String(node.format))) problem(path, 'string without maxLength or enum');
    }
    if (typeof node.pattern === 'string') {
      const re2 = re2Problem(node.pattern);
      if (re2) problem(path, `pattern is not RE2: ${re2}`);
    }
    if (Array.isArray(node.enum)) {
      for (const v of node.enum)
        if (!valueMatchesType(v, type)) problem(path, `enum value ${JSON.stringify(v)} is not ${type}`);
    }
    if (node.default !== undefined) {
      if (!valueMatchesType(node.default, type)) problem(path, `default is not ${type}`);
      if (Array.isArray(node.enum) && !node.enum.includes(node.default)) problem(path, 'default is not in enum');
    }

    if (type === 'array') {
      if (!isNode(node.items)) problem(path, 'array needs one items schema');
      if (node.maxItems === undefined) problem(path, 'array without maxItems');
    } else if (node.items !== undefined) {
      problem(path, 'items on a non-array');
    }

    const listType = node['x-kubernetes-list-type'];
    const mapKeys = node['x-kubernetes-list-map-keys'];
    if (mapKeys !== undefined && listType !== 'map') problem(path, 'x-kubernetes-list-map-keys needs list-type map');
    if (listType === 'map') {
      const items = isNode(node.items) ? node.items : {};
      const required = Array.isArray(items.required) ? items.required : [];
      const props = isNode(items.properties) ? items.properties : {};
      if (!Array.isArray(mapKeys) || mapKeys.length === 0) problem(path, 'list-type map without list-map-keys');
      for (const k of Array.isArray(mapKeys) ? mapKeys : []) {
        if (!(String(k) in props)) problem(path, `list-map key ${k} is not a property of the items`);
        if (!required.includes(k)) problem(path, `list-map key ${k} must be required (or defaulted)`);
      }
    }

    if (type === 'object' && node.properties === undefined && node.additionalProperties === undefined) {
      if (!typeless && !where.metadata) problem(path, 'object without properties is pruned to {}');
    }
    if (Array.isArray(node.required) && isNode(node.properties)) {
      for (const r of node.required)
        if (!(String(r) in node.properties)) problem(path, `required ${r} is not a property`);
    }

    const rules = node['x-kubernetes-validations'];
    if (rules !== undefined) {
      if (!Array.isArray(rules)) problem(path, 'x-kubernetes-validations must be a list');
      (Array.isArray(rules) ? rules : []).forEach((r: unknown, i) => {
        const at = `${path}.x-kubernetes-validations[${i}]`;
        if (!isNode(r) || typeof r.rule !== 'string' || r.rule.trim() === '') return problem(at, 'rule missing');
        if (r.message === undefined && r.messageExpression === undefined)
          problem(at, 'no message: the error would only quote the rule');
        if (r.fieldPath !== undefined && !String(r.fieldPath).startsWith('.'))
          problem(at, 'fieldPath must start with "."');
        if (r.reason !== undefined && !reasons.has(String(r.reason)))
          problem(at, `reason ${String(r.reason)} is not known`);
      });
    }

    for (const junctor of ['allOf', 'anyOf', 'oneOf', 'not']) {
      const value = node[junctor];
      if (value === undefined) continue;
      const branches = Array.isArray(value) ? value : [value];
      const intOrString = node['x-kubernetes-int-or-string'] === true && junctor === 'anyOf';
      branches.forEach((b: unknown, i) => {
        if (!isNode(b)) return problem(`${path}.${junctor}[${i}]`, 'not a schema object');
        for (const key of forbiddenInJunctors) {
          if (b[key] !== undefined && !(intOrString && key === 'type')) {
            problem(`${path}.${junctor}[${i}]`, `"${key}" inside ${junctor}`);
          }
        }
      });
    }

    if (isNode(node.properties)) {
      for (const [name, child] of Object.entries(node.properties)) {
        walk(child, `${path}.properties.${name}`, {
          metadata: where.root && name === 'metadata',
          envelope: where.root && (name === 'apiVersion' || name === 'kind'),
        });
      }
    }
    if (isNode(node.items)) walk(node.items, `${path}.items`, {});
    if (isNode(node.additionalProperties)) walk(node.additionalProperties, `${path}.additionalProperties`, {});
  };

  walk(root, 'openAPIV3Schema', { root: true });
  return problems;
}

/** The schema node a printer-column JSONPath (`.a.b`, `.list[?(@.type=="X")].field`) points at, if any. */
export function schemaAt(root: unknown, jsonPath: string): unknown {
  let node: unknown = root;
  for (const step of jsonPath
    .replace(/\[\?\(@[^\]]*\)\]/g, '[]')
    .split('.')
    .slice(1)) {
    const [field, ...rest] = step.split('[]');
    if (!isNode(node) || !isNode(node.properties)) return undefined;
    node = node.properties[field!];
    for (let i = 0; i < rest.length; i++) node = isNode(node) ? node.items : undefined;
  }
  return node;
}
