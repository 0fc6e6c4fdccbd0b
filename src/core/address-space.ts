// A k0rdent AddressSpace (`cidr` | `ipAddresses`, `gateway`, `prefix`; spec 01 §1.1) turned into the in-cluster pool
// that serves it, with errors on the AddressSpace's own fields. `path` says where the space sits, e.g.
// `spec.nodeNetwork` on a ClusterIPAMClaim or `spec.ipamClaim.spec.nodeNetwork` on a ClusterDeployment.
//
// The pool's addresses are `ipAddresses` when non-empty, else `[cidr]`; the prefix defaults to the cidr's. When both
// are given, every ipAddresses entry must lie inside the cidr: the two name one space.
import { familyName, parseCidr, parseEntry, type Cidr } from './ip.ts';
import {
  checkPoolParts,
  listed,
  parseOrReport,
  type FieldIssue,
  type FieldText,
  type PoolCheck,
  type PoolSpec,
} from './pool.ts';

export interface AddressSpace {
  cidr?: string;
  ipAddresses?: readonly string[];
  gateway?: string;
  prefix?: number;
}

/** `spec` is the InClusterIPPool spec to create, set when there are no errors. */
export interface AddressSpaceCheck extends PoolCheck {
  readonly spec: PoolSpec | undefined;
}

export function addressSpacePool(space: AddressSpace, path: string): AddressSpaceCheck {
  const errors: FieldIssue[] = [];
  const cidrField = `${path}.cidr`;
  const listField = `${path}.ipAddresses`;
  const cidr = space.cidr ? parseOrReport(parseCidr, { field: cidrField, text: space.cidr }, errors) : undefined;
  const list = space.ipAddresses ?? [];
  const useList = list.length > 0;
  if (!useList && !space.cidr) errors.push({ field: path, message: 'one of cidr or ipAddresses is required' });
  const prefix = space.prefix ?? cidr?.prefix;
  if (prefix === undefined && useList && !space.cidr) {
    errors.push({ field: `${path}.prefix`, message: 'required when ipAddresses is used' });
  }
  const addresses: FieldText[] = useList
    ? listed(list, listField)
    : space.cidr
      ? [{ field: cidrField, text: space.cidr }]
      : [];
  if (useList && cidr !== undefined) errors.push(...outsideCidr(addresses, cidr, space.cidr!));

  const check = checkPoolParts({
    addressesField: useList ? listField : cidrField,
    addresses,
    prefixField: `${path}.prefix`,
    prefix,
    gatewayField: `${path}.gateway`,
    gateway: space.gateway,
    excluded: [],
    allocateReserved: false,
  });
  // One complaint per field: the AddressSpace's own is the more specific.
  errors.push(...check.errors.filter((e) => !errors.some((x) => x.field === e.field)));
  if (errors.length > 0) return { spec: undefined, pool: undefined, errors, warnings: check.warnings };
  const spec: PoolSpec = { addresses: useList ? [...list] : [space.cidr!], prefix };
  return { spec: space.gateway ? { ...spec, gateway: space.gateway } : spec, ...check };
}

function outsideCidr(items: readonly FieldText[], cidr: Cidr, cidrText: string): FieldIssue[] {
  const errors: FieldIssue[] = [];
  for (const { field, text } of items) {
    const entry = parseOrReport(parseEntry, { field, text }, []); // a parse error is the pool check's to report
    if (entry === undefined) continue;
    if (entry.family !== cidr.family) {
      errors.push({
        field,
        message: `"${text}" is ${familyName(entry.family)} but the cidr is ${familyName(cidr.family)}`,
      });
    } else if (entry.lo < cidr.lo || entry.hi > cidr.hi) {
      errors.push({ field, message: `"${text}" is outside the cidr ${cidrText}` });
    }
  }
  return errors;
}
