// The cluster IPAM workflow's decisions (spec 01), pure: controllers read the cache, call these, and write.
export * from './claim.ts';
export * from './conflicts.ts';
export * from './deployment.ts';
export * from './holders.ts';
export * from './infoblox.ts';
export * from './kinds.ts';
export * from './pools.ts';
