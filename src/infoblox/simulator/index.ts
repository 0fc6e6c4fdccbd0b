// The WAPI simulator (spec 04 §4.3/§4.4): `startWapiSimulator` serves it in-process; `cluster-ipam wapi-simulator`
// runs it from the command line.
export { FaultInjector, FaultSpecError, type Fault, type FaultKind, type FaultPlan, type FaultSpec } from './faults.ts';
export { WapiFault } from './errors.ts';
export { applySeed, readSeedFile, type Seed } from './seed.ts';
export {
  startWapiSimulator,
  RequestLog,
  type RequestCounters,
  type RequestLogEntry,
  type WapiSimulator,
  type WapiSimulatorOptions,
} from './server.ts';
export { WapiState, objectTypes, type HostRecordSummary, type ObjectType, type ReturnFields } from './state.ts';
