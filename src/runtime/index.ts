// A small controller runtime over src/kube, modelled on controller-runtime and client-go.
export * from './backoff.ts';
export * from './cache.ts';
export * from './conditions.ts';
export * from './controller.ts';
export * from './events.ts';
export * from './informer.ts';
export * from './leaderelection.ts';
export * from './log.ts';
export * from './manager.ts';
export * from './metrics.ts';
export * from './ownerrefs.ts';
export * from './queue.ts';
export * from './ratelimiter.ts';
export { parseBindAddress } from './server.ts';
export * from './writes.ts';
export * from './predicates.ts';
