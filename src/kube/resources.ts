import { resourceType } from './client.ts';
import type { ConfigMap, CoreEvent, CustomResourceDefinition, Lease, Namespace, Secret } from './types.ts';

// Built-in kinds the runtime and the controllers use. Custom resources declare theirs the same way.
export const ConfigMaps = resourceType<ConfigMap>({
  group: '',
  version: 'v1',
  kind: 'ConfigMap',
  plural: 'configmaps',
  namespaced: true,
});
export const Secrets = resourceType<Secret>({
  group: '',
  version: 'v1',
  kind: 'Secret',
  plural: 'secrets',
  namespaced: true,
});
export const Namespaces = resourceType<Namespace>({
  group: '',
  version: 'v1',
  kind: 'Namespace',
  plural: 'namespaces',
  namespaced: false,
});
export const Events = resourceType<CoreEvent>({
  group: '',
  version: 'v1',
  kind: 'Event',
  plural: 'events',
  namespaced: true,
});
export const Leases = resourceType<Lease>({
  group: 'coordination.k8s.io',
  version: 'v1',
  kind: 'Lease',
  plural: 'leases',
  namespaced: true,
});
export const CustomResourceDefinitions = resourceType<CustomResourceDefinition>({
  group: 'apiextensions.k8s.io',
  version: 'v1',
  kind: 'CustomResourceDefinition',
  plural: 'customresourcedefinitions',
  namespaced: false,
});
