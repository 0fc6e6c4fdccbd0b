// The Infoblox provider's kinds (ipam.cluster.x-k8s.io/v1alpha1): InfobloxInstance (cluster-scoped: how to reach
// one appliance) and InfobloxIPPool (namespaced: which networks of it to allocate from).
import { cel, ipSchema, networkCIDRSchema } from './address.ts';
import { conditionsSchema, localObjectReferenceSchema, observedGenerationSchema } from './common.ts';
import { ipamGroup } from './capi.ts';
import { ageColumn, defineKind, readyColumns, type FromKubeSchema, type ObjectOf } from './meta.ts';

const version = 'v1alpha1';
const categories = ['cluster-api', 'cluster-ipam'] as const;

const hostnamePattern = '^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$';

/** Infoblox view names are free text in NIOS (spaces included); only bound them. */
const viewSchema = (description: string) => ({ type: 'string', minLength: 1, maxLength: 256, description }) as const;

const statusSchema = {
  type: 'object',
  properties: { conditions: conditionsSchema, observedGeneration: observedGenerationSchema },
} as const;

export const infobloxInstanceKind = defineKind({
  group: ipamGroup,
  version,
  kind: 'InfobloxInstance',
  plural: 'infobloxinstances',
  singular: 'infobloxinstance',
  scope: 'Cluster',
  categories,
  statusSubresource: true,
  labels: { 'cluster.x-k8s.io/v1beta2': version },
  description: 'How to reach one Infoblox appliance (its WAPI endpoint and credentials).',
  printerColumns: [{ name: 'Host', type: 'string', jsonPath: '.spec.host' }, ...readyColumns, ageColumn],
  spec: {
    type: 'object',
    required: ['host', 'wapiVersion', 'credentialsSecretRef'],
    properties: {
      host: {
        type: 'string',
        minLength: 1,
        maxLength: 253,
        description: 'Host name or IP address of the appliance.',
        'x-kubernetes-validations': [
          {
            rule: `isIP(self) || self.matches(r'${hostnamePattern}')`,
            message: 'must be a host name or an IP address (no scheme, port or path)',
          },
        ],
      },
      port: {
        type: 'string',
        default: '443',
        maxLength: 5,
        pattern: '^[0-9]+$',
        description: 'HTTPS port, as a string.',
        'x-kubernetes-validations': [
          { rule: "!self.matches('^[0-9]+$') || (int(self) >= 1 && int(self) <= 65535)", message: 'must be 1-65535' },
        ],
      },
      wapiVersion: {
        type: 'string',
        maxLength: 16,
        pattern: '^[0-9]+\\.[0-9]+(\\.[0-9]+)?$',
        description: 'WAPI version, e.g. "2.12": URLs are https://host:port/wapi/v<wapiVersion>/...',
      },
      credentialsSecretRef: {
        ...localObjectReferenceSchema,
        description: "Secret in the manager's namespace with username + password, or clientCert + clientKey (PEM).",
      },
      defaultNetworkView: viewSchema('Network view used by pools that name none.'),
      defaultDNSView: viewSchema('DNS view used by pools that name none.'),
      disableTLSVerification: {
        type: 'boolean',
        description: "Skip verifying the appliance's certificate (lab use only).",
      },
      customCAPath: {
        type: 'string',
        maxLength: 4096,
        description: "Path, in the manager's file system, of a CA bundle for the appliance's certificate.",
      },
    },
  },
  status: statusSchema,
});
export type InfobloxInstance = ObjectOf<typeof infobloxInstanceKind>;
export type InfobloxInstanceSpec = InfobloxInstance['spec'];

export const infobloxSubnetSchema = {
  type: 'object',
  required: ['cidr'],
  properties: {
    cidr: { ...networkCIDRSchema, description: 'An Infoblox network (network or ipv6network object).' },
    gateway: { ...ipSchema, description: 'Gateway written into every IPAddress; inside cidr.' },
  },
  'x-kubernetes-validations': [
    {
      rule: `!has(self.gateway) || ${cel.isIPv6('self.gateway')} == ${cel.isIPv6('self.cidr')}`,
      fieldPath: '.gateway',
      message: 'gateway must be of the same IP family as cidr',
    },
    {
      // The subnet is the real network here, so a gateway outside it cannot be on-link.
      rule:
        `!has(self.gateway) || !isCIDR(self.cidr) || !isIP(self.gateway) || ` +
        `${cel.isIPv6('self.gateway')} != ${cel.isIPv6('self.cidr')} || cidr(self.cidr).containsIP(self.gateway)`,
      fieldPath: '.gateway',
      message: 'gateway must lie inside cidr',
    },
  ],
} as const;
export type InfobloxSubnet = FromKubeSchema<typeof infobloxSubnetSchema>;

export const infobloxIPPoolKind = defineKind({
  group: ipamGroup,
  version,
  kind: 'InfobloxIPPool',
  plural: 'infobloxippools',
  singular: 'infobloxippool',
  scope: 'Namespaced',
  categories,
  statusSubresource: true,
  labels: { 'cluster.x-k8s.io/v1beta2': version },
  description: 'Networks of an Infoblox appliance to allocate host records from.',
  printerColumns: [{ name: 'Instance', type: 'string', jsonPath: '.spec.instance.name' }, ...readyColumns, ageColumn],
  spec: {
    type: 'object',
    required: ['instance', 'subnets'],
    properties: {
      instance: { ...localObjectReferenceSchema, description: 'The InfobloxInstance to use.' },
      subnets: {
        type: 'array',
        description: 'Networks to allocate from, tried in order.',
        minItems: 1,
        maxItems: 16,
        items: infobloxSubnetSchema,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['cidr'],
      },
      networkView: viewSchema("Network view; defaults to the instance's defaultNetworkView."),
      dnsView: viewSchema('DNS view for host records.'),
      dnsZone: {
        type: 'string',
        maxLength: 253,
        pattern: hostnamePattern,
        description: 'DNS zone: when set, host names are <machine>.<dnsZone> and records are configured for DNS.',
      },
    },
  },
  status: statusSchema,
});
export type InfobloxIPPool = ObjectOf<typeof infobloxIPPoolKind>;
export type InfobloxIPPoolSpec = InfobloxIPPool['spec'];
