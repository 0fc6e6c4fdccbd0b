// IPAddressClaim and IPAddress as Cluster API ≤ 1.10 serves them (ipam.cluster.x-k8s.io/v1beta1 only), converted at
// the edge to and from the v1beta2 shape the code works with (src/api/capi.ts), so controllers and providers keep one
// shape. src/cli/discovery.ts decides at start which version the cluster serves; the client (src/kube) applies the
// codec to every object read and every body written.
//
// What differs (spec 02 §2.1; the CRDs of ../shared/fixtures/capi-v1.10.4):
// - `spec.poolRef.apiGroup` is optional. Absent reads as '' (what Cluster API's own conversion to v1beta2 does: such
//   a claim names a core-group kind, which no provider serves, so it is ignored); '' is written as absent.
// - `status.conditions` holds Cluster API's older condition shape {type, status, severity?, reason?, message?,
//   lastTransitionTime}; metav1 conditions live under `status.v1beta2.conditions`. As Cluster API's own conversion
//   does, the code's `status.conditions` (metav1) are v1beta1's `status.v1beta2.conditions`, and the code's
//   `status.deprecated.v1beta1.conditions` (the older shape, written by providers/claims.ts) are v1beta1's
//   `status.conditions`, which is what v1beta1 clients (CAPV, clusterctl describe, older tooling) read.
// - Neither kind has `status.observedGeneration` in v1beta1: it is not written.
// Everything else (clusterName, prefix as a plain integer, address, gateway, claimRef, addressRef) is the same.
import type { Codec, KubeObject, ResourceAdapter, ResourceType } from '../kube/index.ts';
import { ipamGroup, v1beta1ConditionLimits, type V1Beta1Condition } from './capi.ts';
import type { Condition } from './common.ts';

export const v1beta1 = 'v1beta1';
const wireApiVersion = `${ipamGroup}/${v1beta1}`;

/**
 * A metav1 condition in the older shape. Severity is set on False conditions only, as Cluster API does: Error when
 * the claim cannot get an address by itself (AllocationFailed, ReleaseFailed), Warning otherwise (a pool not ready
 * or exhausted, which resolves when the pool changes).
 */
export function toV1Beta1Condition(c: Condition): V1Beta1Condition {
  const out: V1Beta1Condition = { type: c.type, status: c.status, lastTransitionTime: c.lastTransitionTime };
  if (c.status === 'False') {
    out.severity = c.reason === 'AllocationFailed' || c.reason === 'ReleaseFailed' ? 'Error' : 'Warning';
  }
  const { reason: maxReason, message: maxMessage } = v1beta1ConditionLimits;
  if (c.reason) out.reason = c.reason.slice(0, maxReason);
  if (c.message) out.message = c.message.length > maxMessage ? `${c.message.slice(0, maxMessage - 1)}…` : c.message;
  return out;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function decodePoolRef(spec: Obj): Obj {
  if (!isObj(spec.poolRef)) return spec;
  return { ...spec, poolRef: { ...spec.poolRef, apiGroup: spec.poolRef.apiGroup ?? '' } };
}

function encodePoolRef(spec: Obj): Obj {
  if (!isObj(spec.poolRef) || spec.poolRef.apiGroup !== '') return spec;
  const { apiGroup: _empty, ...ref } = spec.poolRef;
  return { ...spec, poolRef: ref };
}

// The status as Cluster API's conversion (api/ipam/v1beta1/conversion.go) maps it: v1beta2's status.conditions are
// v1beta1's status.v1beta2.conditions, and v1beta2's status.deprecated.v1beta1.conditions are v1beta1's
// status.conditions.
function decodeClaimStatus(status: Obj): Obj {
  const { conditions: older, v1beta2, addressRef, ...rest } = status;
  const out: Obj = { ...rest };
  // v1beta1's addressRef.name defaults to '': an empty one names nothing.
  if (isObj(addressRef) && addressRef.name) out.addressRef = addressRef;
  if (isObj(v1beta2) && Array.isArray(v1beta2.conditions)) out.conditions = v1beta2.conditions;
  if (Array.isArray(older)) out.deprecated = { v1beta1: { conditions: older } };
  return out;
}

function encodeClaimStatus(status: Obj): Obj {
  const { conditions, deprecated, observedGeneration: _none, ...rest } = status;
  const out: Obj = { ...rest };
  if (Array.isArray(conditions)) out.v1beta2 = { conditions };
  const older = isObj(deprecated) && isObj(deprecated.v1beta1) ? deprecated.v1beta1.conditions : undefined;
  if (Array.isArray(older)) out.conditions = older;
  return out;
}

/** Decodes and encodes one kind: spec always, status when the kind has one. */
function codec(withStatus: boolean): Codec {
  return {
    decode(wire: KubeObject): KubeObject {
      const obj = wire as KubeObject & { spec?: unknown; status?: unknown };
      const out: Obj = { ...obj };
      if (isObj(obj.spec)) out.spec = decodePoolRef(obj.spec);
      if (withStatus && isObj(obj.status)) out.status = decodeClaimStatus(obj.status);
      return out as unknown as KubeObject;
    },
    encode(body: unknown): unknown {
      if (!isObj(body)) return body;
      const out: Obj = { ...body };
      if ('apiVersion' in out) out.apiVersion = wireApiVersion;
      if (isObj(out.spec)) out.spec = encodePoolRef(out.spec);
      if (withStatus && isObj(out.status)) out.status = encodeClaimStatus(out.status);
      return out;
    },
  };
}

export const ipAddressClaimV1Beta1Codec = codec(true);
export const ipAddressV1Beta1Codec = codec(false);

const plurals: Record<string, Codec> = {
  ipaddressclaims: ipAddressClaimV1Beta1Codec,
  ipaddresses: ipAddressV1Beta1Codec,
};

/** The served Cluster API IPAM version: v1beta2 (Cluster API ≥ 1.11, this project's CRDs) or v1beta1 (≤ 1.10). */
export type CapiIPAMVersion = 'v1beta2' | 'v1beta1';

/** The client adapter that speaks `version` for IPAddressClaim and IPAddress; undefined when nothing changes. */
export function capiAdapter(version: CapiIPAMVersion): ResourceAdapter | undefined {
  if (version === 'v1beta2') return undefined;
  return (type: ResourceType<KubeObject>) => {
    const c = type.group === ipamGroup && type.version === 'v1beta2' ? plurals[type.plural] : undefined;
    return c ? { ...type, version: v1beta1, apiVersion: wireApiVersion, codec: c } : undefined;
  };
}
