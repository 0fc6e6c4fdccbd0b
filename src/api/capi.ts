// Cluster API's machine-level IPAM contract (ipam.cluster.x-k8s.io/v1beta2): IPAddressClaim and IPAddress.
// This project's CRDs serve only v1beta2 (see docs/api-validation.md for why v1beta1 waits for a conversion webhook).
// On a cluster whose Cluster API serves only v1beta1 (≤ 1.10) the manager speaks v1beta1 and converts at the edge
// (capi-v1beta1.ts): the code always sees these shapes, but `apiVersion` says the version actually served, so owner
// references made from an object name a version the garbage collector can resolve.
import { cel, ipSchema } from './address.ts';
import {
  conditionsSchema,
  immutable,
  localObjectReferenceSchema,
  observedGenerationSchema,
  poolRefSchema,
} from './common.ts';
import { ageColumn, defineKind, type FromKubeSchema, type ObjectOf } from './meta.ts';

export const ipamGroup = 'ipam.cluster.x-k8s.io';
const version = 'v1beta2';
const categories = ['cluster-api', 'cluster-ipam'] as const;

/** The v1beta2 shape, in whichever version of the group the cluster serves (see above). */
type Served<T> = Omit<T, 'apiVersion'> & { apiVersion: `${typeof ipamGroup}/${string}` };

const poolColumns = [
  { name: 'Pool Name', type: 'string', jsonPath: '.spec.poolRef.name' },
  { name: 'Pool Kind', type: 'string', jsonPath: '.spec.poolRef.kind' },
] as const;

/**
 * Cluster API's condition before v1beta2 (sigs.k8s.io/cluster-api/api/core/v1beta1 Condition), with its limits.
 * Severity is set on False conditions only.
 */
const v1beta1ConditionSchema = {
  type: 'object',
  required: ['type', 'status', 'lastTransitionTime'],
  properties: {
    type: { type: 'string', minLength: 1, maxLength: 256, description: 'Type of condition in CamelCase.' },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    severity: { type: 'string', maxLength: 32, description: 'Error, Warning or Info; only when status is False.' },
    reason: { type: 'string', minLength: 1, maxLength: 256, description: 'Why the condition last changed.' },
    message: { type: 'string', minLength: 1, maxLength: 10240, description: 'Human-readable details.' },
    lastTransitionTime: {
      type: 'string',
      format: 'date-time',
      description: 'When the condition last changed status.',
    },
  },
} as const;
export type V1Beta1Condition = FromKubeSchema<typeof v1beta1ConditionSchema>;
export const v1beta1ConditionLimits = {
  reason: v1beta1ConditionSchema.properties.reason.maxLength,
  message: v1beta1ConditionSchema.properties.message.maxLength,
};

export const ipAddressClaimKind = defineKind({
  group: ipamGroup,
  version,
  kind: 'IPAddressClaim',
  plural: 'ipaddressclaims',
  singular: 'ipaddressclaim',
  scope: 'Namespaced',
  categories,
  statusSubresource: true,
  description: 'A request for one IP address from a pool, usually made by an infrastructure provider per machine NIC.',
  printerColumns: [...poolColumns, ageColumn],
  spec: {
    type: 'object',
    required: ['poolRef'],
    properties: {
      clusterName: {
        type: 'string',
        minLength: 1,
        maxLength: 63,
        description: 'Name of the Cluster the claim belongs to.',
      },
      poolRef: poolRefSchema,
    },
    'x-kubernetes-validations': [immutable('spec')],
  },
  status: {
    type: 'object',
    properties: {
      addressRef: { ...localObjectReferenceSchema, description: 'The IPAddress allocated for this claim.' },
      conditions: conditionsSchema,
      observedGeneration: observedGenerationSchema,
      // Where Cluster API ≥ 1.11 keeps what v1beta1 clients read as status.conditions (its conversion maps one to
      // the other): the Ready condition in the older shape, which CAPV and `clusterctl describe` read.
      deprecated: {
        type: 'object',
        description: 'Status fields kept for readers of older API versions.',
        properties: {
          v1beta1: {
            type: 'object',
            description: 'What v1beta1 clients read (as status.conditions).',
            properties: {
              conditions: {
                type: 'array',
                description: 'The Ready condition in Cluster API v1beta1 condition shape.',
                maxItems: 32,
                items: v1beta1ConditionSchema,
              },
            },
          },
        },
      },
    },
  },
});
export type IPAddressClaim = Served<ObjectOf<typeof ipAddressClaimKind>>;
export type IPAddressClaimSpec = IPAddressClaim['spec'];
export type IPAddressClaimStatus = NonNullable<IPAddressClaim['status']>;

export const ipAddressKind = defineKind({
  group: ipamGroup,
  version,
  kind: 'IPAddress',
  plural: 'ipaddresses',
  singular: 'ipaddress',
  scope: 'Namespaced',
  categories,
  statusSubresource: false,
  description: 'An IP address allocated from a pool for an IPAddressClaim of the same name.',
  printerColumns: [{ name: 'Address', type: 'string', jsonPath: '.spec.address' }, ...poolColumns, ageColumn],
  spec: {
    type: 'object',
    required: ['claimRef', 'poolRef', 'address', 'prefix'],
    properties: {
      claimRef: { ...localObjectReferenceSchema, description: 'The IPAddressClaim this address was allocated for.' },
      poolRef: poolRefSchema,
      address: { ...ipSchema, minLength: 1, description: 'The IP address.' },
      prefix: { type: 'integer', minimum: 0, maximum: 128, description: 'Prefix length of the network.' },
      gateway: { ...ipSchema, minLength: 1, description: 'Default gateway of the network.' },
    },
    'x-kubernetes-validations': [
      immutable('spec'),
      {
        rule: `${cel.isIPv6('self.address')} || self.prefix <= 32`,
        fieldPath: '.prefix',
        message: 'prefix must be at most 32 for an IPv4 address',
      },
      {
        rule: `!has(self.gateway) || ${cel.isIPv6('self.gateway')} == ${cel.isIPv6('self.address')}`,
        fieldPath: '.gateway',
        message: 'gateway must be of the same IP family as address',
      },
    ],
  },
});
export type IPAddress = Served<ObjectOf<typeof ipAddressKind>>;
export type IPAddressSpec = IPAddress['spec'];
