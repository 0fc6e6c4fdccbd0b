// Schema fragments that several kinds share. Strings and lists are bounded everywhere: the API server's CEL cost
// estimator rejects rules over unbounded values, and bounded objects are cheap to store and watch.
import type { FromKubeSchema } from './meta.ts';

export const dnsSubdomainPattern = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export const dnsLabelPattern = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

/** The name of another object (a DNS subdomain, like metadata.name). */
export const objectNameSchema = {
  type: 'string',
  minLength: 1,
  maxLength: 253,
  pattern: dnsSubdomainPattern,
} as const;

/** `{name}` reference to an object whose kind the field implies. */
export const localObjectReferenceSchema = {
  type: 'object',
  required: ['name'],
  properties: { name: objectNameSchema },
} as const;

/** Typed reference to an IP pool (Cluster API's IPPoolReference, v1beta2: every field required). */
export const poolRefSchema = {
  type: 'object',
  description: 'The pool to allocate from.',
  required: ['apiGroup', 'kind', 'name'],
  properties: {
    apiGroup: {
      type: 'string',
      description: 'API group of the pool, e.g. ipam.cluster.x-k8s.io.',
      minLength: 1,
      maxLength: 253,
      pattern: dnsSubdomainPattern,
    },
    kind: {
      type: 'string',
      description: 'Kind of the pool, e.g. InClusterIPPool.',
      minLength: 1,
      maxLength: 63,
      pattern: '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$',
    },
    name: { ...objectNameSchema, description: 'Name of the pool.' },
  },
} as const;
export type PoolRef = FromKubeSchema<typeof poolRefSchema>;

/** metav1.Condition with the constraints Kubernetes' own types carry. */
export const conditionSchema = {
  type: 'object',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: {
      type: 'string',
      description: 'Type of condition in CamelCase, e.g. Ready.',
      maxLength: 316,
      pattern:
        '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    observedGeneration: {
      type: 'integer',
      format: 'int64',
      minimum: 0,
      description: 'The .metadata.generation the condition was set for.',
    },
    lastTransitionTime: {
      type: 'string',
      format: 'date-time',
      description: 'When the condition last changed status.',
    },
    reason: {
      type: 'string',
      description: "Programmatic identifier of the condition's last transition, in CamelCase.",
      minLength: 1,
      maxLength: 1024,
      pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    },
    message: { type: 'string', description: 'Human-readable details.', maxLength: 32768 },
  },
} as const;
export type Condition = FromKubeSchema<typeof conditionSchema>;

export const conditionsSchema = {
  type: 'array',
  description: 'Observations of the current state, one per type.',
  maxItems: 32,
  items: conditionSchema,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
} as const;

export const observedGenerationSchema = {
  type: 'integer',
  format: 'int64',
  minimum: 0,
  description: 'The .metadata.generation the status was computed for.',
} as const;

/** `spec` may not change once created. */
export const immutable = (what: string) => ({ rule: 'self == oldSelf', message: `${what} is immutable` }) as const;
