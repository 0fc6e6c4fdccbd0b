// The only gateway to the Kubernetes API: nothing else in the repo imports @kubernetes/client-node.
export * from './client.ts';
export { inClusterNamespace, type ClusterAccess, type Connection } from './config.ts';
export * from './errors.ts';
export * from './resources.ts';
export { WatchIdleError, type WriteGate } from './transport.ts';
export type * from './types.ts';
