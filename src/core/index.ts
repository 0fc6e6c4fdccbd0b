// The address engine: pure, no I/O.
export {
  cidrRange,
  exactPrefix,
  familyBits,
  familyName,
  formatAddress,
  formatCidr,
  IpParseError,
  maxValue,
  parseAddress,
  parseCidr,
  parseEntry,
  type Address,
  type Cidr,
  type Entry,
  type Family,
  type Range,
} from './ip.ts';
export { IntervalSet } from './intervals.ts';
export {
  checkPoolShrink,
  reservedAddresses,
  validatePool,
  type FieldIssue,
  type Pool,
  type PoolCheck,
  type PoolSpec,
  type ShrinkCheck,
} from './pool.ts';
export { addressSpacePool, type AddressSpace, type AddressSpaceCheck } from './address-space.ts';
export { AllocationError, Allocator, capCount, statusCounts, type PoolCounts, type StatusCounts } from './allocator.ts';
export { findOverlaps, type NamedSet, type Overlap } from './overlap.ts';
export { checkCapacity, type Capacity } from './capacity.ts';
export { humanCount } from './count.ts';
