import type { ControllerSetup } from '../runtime/index.ts';
import { clusterDeploymentController } from './clusterdeployment.ts';
import { clusterIPAMControllerSetup } from './clusteripam.ts';
import { clusterIPAMClaimController } from './clusteripamclaim.ts';
import { inClusterPoolController } from './inclusterpool.ts';
import { infobloxInstanceController } from './infobloxinstance.ts';
import { infobloxPoolController } from './infobloxpool.ts';
import { ipAddressClaimController } from './ipaddressclaim.ts';

// The controllers `cluster-ipam run` starts, in order. Each later issue adds its own entry here, e.g.
//   import { claimController } from './claims.ts';
//   export const controllers: ControllerSetup[] = [claimController];
export const controllers: ControllerSetup[] = [
  clusterIPAMClaimController,
  clusterIPAMControllerSetup,
  clusterDeploymentController,
  // They create (and so register) the Infoblox provider: IPAddressClaims of InfobloxIPPools are served only where these run.
  infobloxInstanceController(),
  infobloxPoolController(),
  ipAddressClaimController(),
  inClusterPoolController(),
];
