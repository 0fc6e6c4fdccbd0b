import type { ControllerSetup } from '../runtime/index.ts';

// The controllers `cluster-ipam run` starts, in order. Each later issue adds its own entry here, e.g.
//   import { claimController } from './claims.ts';
//   export const controllers: ControllerSetup[] = [claimController];
export const controllers: ControllerSetup[] = [];
