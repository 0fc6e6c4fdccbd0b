// The API users write by hand (k0rdent.mirantis.com/v1beta1): ClusterIPAMClaim, ClusterIPAM, ClusterDeployment.
import { addressListSchema, cel, ipSchema, networkCIDRSchema } from './address.ts';
import { conditionsSchema, objectNameSchema, observedGenerationSchema } from './common.ts';
import { ageColumn, defineKind, type FromKubeSchema, type ObjectOf } from './meta.ts';

const group = 'k0rdent.mirantis.com';
const version = 'v1beta1';

export const providers = ['in-cluster', 'ipam-infoblox'] as const;
export type Provider = (typeof providers)[number];

const providerSchema = {
  type: 'string',
  enum: providers,
  description: 'Where addresses come from: in-cluster (pools kept in the Kubernetes API) or ipam-infoblox.',
} as const;

// The family of an address space: its cidr's, else its first ipAddresses entry's.
const spaceIsIPv6 = `(has(self.cidr) ? ${cel.isIPv6('self.cidr')} : ${cel.isIPv6('self.ipAddresses[0]')})`;
const hasIPAddresses = 'has(self.ipAddresses) && size(self.ipAddresses) > 0';

export const addressSpaceSchema = {
  type: 'object',
  description:
    'An address space: a cidr, or ipAddresses (addresses, ranges A-B and CIDRs), or both (ipAddresses inside the cidr).',
  properties: {
    cidr: { ...networkCIDRSchema, description: 'The network, e.g. 192.0.2.0/24; its prefix is the default prefix.' },
    ipAddresses: {
      ...addressListSchema,
      description: 'Addresses to use: single addresses, inclusive ranges A-B, or CIDRs.',
    },
    gateway: { ...ipSchema, description: 'Default gateway handed to every machine; never allocated.' },
    prefix: {
      type: 'integer',
      minimum: 0,
      maximum: 128,
      description: "Prefix length of the machines' network. Defaults to the cidr's prefix; required without a cidr.",
    },
  },
  'x-kubernetes-validations': [
    { rule: `has(self.cidr) || ${hasIPAddresses}`, message: 'one of cidr or ipAddresses must be set' },
    {
      rule: `has(self.cidr) || !(${hasIPAddresses}) || has(self.prefix)`,
      fieldPath: '.prefix',
      reason: 'FieldValueRequired',
      message: "prefix is required when the space is given by ipAddresses alone (the machines' prefix length, e.g. 24)",
    },
    {
      rule: `!(has(self.cidr) && has(self.ipAddresses)) || self.ipAddresses.all(a, ${cel.isIPv6('a')} == ${cel.isIPv6('self.cidr')})`,
      fieldPath: '.ipAddresses',
      message: 'ipAddresses must be of the same IP family as cidr',
    },
    {
      rule:
        `!(has(self.cidr) && has(self.ipAddresses)) || !isCIDR(self.cidr) || self.ipAddresses.all(a, ` +
        `!${cel.isEntry('a')} || ${cel.isIPv6('a')} != ${cel.isIPv6('self.cidr')} || ${cel.entryInside('cidr(self.cidr)', 'a')})`,
      fieldPath: '.ipAddresses',
      message: 'every ipAddresses entry must lie inside cidr',
    },
    {
      rule: `!has(self.gateway) || !(has(self.cidr) || ${hasIPAddresses}) || ${cel.isIPv6('self.gateway')} == ${spaceIsIPv6}`,
      fieldPath: '.gateway',
      message: 'gateway must be of the same IP family as the address space',
    },
    {
      rule: `!has(self.prefix) || self.prefix <= 32 || !(has(self.cidr) || ${hasIPAddresses}) || ${spaceIsIPv6}`,
      fieldPath: '.prefix',
      message: 'prefix must be at most 32 for IPv4',
    },
  ],
} as const;
export type AddressSpace = FromKubeSchema<typeof addressSpaceSchema>;

// A network Infoblox serves must be a cidr: Infoblox allocates inside one of its networks, not from a list.
const infobloxNeedsCIDR = (network: string) =>
  ({
    rule: `self.provider != 'ipam-infoblox' || !has(self.${network}) || (has(self.${network}.cidr) && !has(self.${network}.ipAddresses))`,
    fieldPath: `.${network}`,
    message: `with provider ipam-infoblox, ${network} must be given as a cidr (ipAddresses are not supported)`,
  }) as const;

/** ClusterIPAMClaim's spec without its transition rules, as embedded in ClusterDeployment.spec.ipamClaim.spec. */
const claimSpecProperties = {
  provider: providerSchema,
  cluster: {
    ...objectNameSchema,
    description: 'Name of the ClusterDeployment (same namespace) the claim is for. Immutable once set.',
  },
  clusterIPAMRef: {
    ...objectNameSchema,
    description: 'Name of the ClusterIPAM created for this claim; written by the controller. Immutable once set.',
  },
  nodeNetwork: { ...addressSpaceSchema, description: "Addresses for the cluster's machines." },
  clusterNetwork: { ...addressSpaceSchema, description: 'Addresses for the Kubernetes cluster itself.' },
  externalNetwork: {
    ...addressSpaceSchema,
    description: 'Addresses for external services such as load balancers and API endpoint VIPs.',
  },
} as const;

const claimSpecRules = [
  infobloxNeedsCIDR('nodeNetwork'),
  infobloxNeedsCIDR('clusterNetwork'),
  infobloxNeedsCIDR('externalNetwork'),
] as const;

const inlineClaimSpecSchema = {
  type: 'object',
  description: 'A ClusterIPAMClaim spec; the controller creates the claim <clusterdeployment>-ipam from it.',
  required: ['provider', 'nodeNetwork'],
  properties: claimSpecProperties,
  'x-kubernetes-validations': claimSpecRules,
} as const;

/** An update from a non-empty value to another value (or to nothing) is rejected. */
const setOnce = (field: string) =>
  ({
    rule: `!has(oldSelf.${field}) || oldSelf.${field} == '' || (has(self.${field}) && self.${field} == oldSelf.${field})`,
    fieldPath: `.${field}`,
    message: `${field} is immutable once set`,
  }) as const;

export const clusterIPAMClaimSpecSchema = {
  ...inlineClaimSpecSchema,
  description: 'The address spaces a cluster needs and the provider that serves them.',
  'x-kubernetes-validations': [...claimSpecRules, setOnce('cluster'), setOnce('clusterIPAMRef')],
} as const;

export const clusterIPAMClaimStatusSchema = {
  type: 'object',
  properties: {
    bound: { type: 'boolean', default: false, description: 'True once the ClusterIPAM is Bound.' },
    conditions: conditionsSchema,
    observedGeneration: observedGenerationSchema,
  },
} as const;

export const clusterIPAMClaimKind = defineKind({
  group,
  version,
  kind: 'ClusterIPAMClaim',
  plural: 'clusteripamclaims',
  singular: 'clusteripamclaim',
  scope: 'Namespaced',
  shortNames: ['cic'],
  categories: ['k0rdent', 'cluster-ipam'],
  statusSubresource: true,
  description: 'Reserves address spaces for one ClusterDeployment.',
  printerColumns: [
    { name: 'Bound', type: 'boolean', jsonPath: '.status.bound' },
    { name: 'Provider', type: 'string', jsonPath: '.spec.provider', priority: 1 },
    { name: 'Cluster', type: 'string', jsonPath: '.spec.cluster', priority: 1 },
    ageColumn,
  ],
  spec: clusterIPAMClaimSpecSchema,
  status: clusterIPAMClaimStatusSchema,
});
export type ClusterIPAMClaim = ObjectOf<typeof clusterIPAMClaimKind>;
export type ClusterIPAMClaimSpec = ClusterIPAMClaim['spec'];
export type ClusterIPAMClaimStatus = NonNullable<ClusterIPAMClaim['status']>;

export const clusterIPAMPhases = ['Pending', 'Bound'] as const;

export const providerDataSchema = {
  type: 'object',
  required: ['name'],
  properties: {
    name: {
      type: 'string',
      minLength: 1,
      maxLength: 63,
      description: 'ipPool for the node network; one distinct name per extra network.',
    },
    config: {
      type: 'object',
      'x-kubernetes-preserve-unknown-fields': true,
      description: 'Provider data; for pools a typed reference {apiGroup, kind, name} (addressesFromPools entry).',
    },
    ready: { type: 'boolean', description: 'Whether the pool is ready to allocate.' },
  },
} as const;
export type ProviderData = FromKubeSchema<typeof providerDataSchema>;

export const clusterIPAMKind = defineKind({
  group,
  version,
  kind: 'ClusterIPAM',
  plural: 'clusteripams',
  singular: 'clusteripam',
  scope: 'Namespaced',
  shortNames: ['cipam'],
  categories: ['k0rdent', 'cluster-ipam'],
  statusSubresource: true,
  description: 'The provider side of a ClusterIPAMClaim; created by the controller, one per claim, same name.',
  printerColumns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
    { name: 'Provider', type: 'string', jsonPath: '.spec.provider', priority: 1 },
    ageColumn,
  ],
  spec: {
    type: 'object',
    required: ['provider'],
    properties: {
      provider: providerSchema,
      clusterIPAMClaimRefs: {
        ...objectNameSchema,
        description: "Name of the ClusterIPAMClaim this serves (the user guide's field). Immutable once set.",
      },
      // kcm's ClusterIPAM CRD calls the field clusterIPAMClaimRef: objects written for kcm's CRD apply here too, and
      // the controller writes the field the served CRD has (src/cli/discovery.ts).
      clusterIPAMClaimRef: {
        ...objectNameSchema,
        description:
          "Name of the ClusterIPAMClaim this serves (kcm's field; same as clusterIPAMClaimRefs). Immutable once set.",
      },
    },
    'x-kubernetes-validations': [
      setOnce('clusterIPAMClaimRefs'),
      setOnce('clusterIPAMClaimRef'),
      {
        rule: '!has(self.clusterIPAMClaimRefs) || !has(self.clusterIPAMClaimRef) || self.clusterIPAMClaimRefs == self.clusterIPAMClaimRef',
        message: 'clusterIPAMClaimRefs and clusterIPAMClaimRef name the same claim: set one, or both to the same name',
      },
    ],
  },
  status: {
    type: 'object',
    properties: {
      phase: {
        type: 'string',
        enum: clusterIPAMPhases,
        description: 'Bound when every address space of the claim is ready at the provider.',
      },
      providerData: {
        type: 'array',
        description: 'One entry per provider pool.',
        maxItems: 16,
        items: providerDataSchema,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      },
      conditions: conditionsSchema,
      observedGeneration: observedGenerationSchema,
    },
  },
});
export type ClusterIPAM = ObjectOf<typeof clusterIPAMKind>;
export type ClusterIPAMSpec = ClusterIPAM['spec'];
export type ClusterIPAMStatus = NonNullable<ClusterIPAM['status']>;

export const clusterDeploymentKind = defineKind({
  group,
  version,
  kind: 'ClusterDeployment',
  plural: 'clusterdeployments',
  singular: 'clusterdeployment',
  scope: 'Namespaced',
  shortNames: ['clusterd', 'cld'],
  categories: ['k0rdent'],
  statusSubresource: true,
  description: 'A cluster created from a template; here only its IPAM attachment is acted on.',
  printerColumns: [
    { name: 'IPAM', type: 'string', jsonPath: '.status.conditions[?(@.type=="IPAMReady")].status' },
    { name: 'Template', type: 'string', jsonPath: '.spec.template' },
    ageColumn,
  ],
  spec: {
    type: 'object',
    // Real ClusterDeployments carry more (serviceSpec, propagateCredentials, cleanupOnDeletion, ...): they must
    // apply under strict field validation and be kept, while the fields below stay typed and validated.
    'x-kubernetes-preserve-unknown-fields': true,
    required: ['template'],
    properties: {
      template: { type: 'string', minLength: 1, maxLength: 253, description: 'Name of the ClusterTemplate.' },
      credential: { type: 'string', maxLength: 253, description: 'Name of the Credential.' },
      dryRun: {
        type: 'boolean',
        default: false,
        description: 'Validate (IPAM included) without provisioning. A boolean: true or false, not a quoted string.',
      },
      config: {
        type: 'object',
        'x-kubernetes-preserve-unknown-fields': true,
        description: 'Template values; the IPAM controller adds ipamEnabled and one key per providerData entry.',
      },
      ipamClaim: {
        type: 'object',
        description: 'IPAM for this cluster: a reference to a ClusterIPAMClaim, or an inline claim spec.',
        properties: {
          ref: { ...objectNameSchema, description: 'Name of the ClusterIPAMClaim (same namespace).' },
          spec: inlineClaimSpecSchema,
        },
        'x-kubernetes-validations': [
          { rule: 'has(self.ref) || has(self.spec)', message: 'ipamClaim needs a ref or a spec' },
        ],
      },
    },
  },
  status: {
    type: 'object',
    properties: {
      conditions: conditionsSchema,
      observedGeneration: observedGenerationSchema,
    },
  },
});
export type ClusterDeployment = ObjectOf<typeof clusterDeploymentKind>;
export type ClusterDeploymentSpec = ClusterDeployment['spec'];
export type ClusterDeploymentStatus = NonNullable<ClusterDeployment['status']>;
