// The machinery shared by every kind: the object envelope, the type derivation from a schema literal, and the
// per-kind descriptor that both controllers (group/version/plural) and the CRD generator read.
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';

// Object metadata shapes are src/kube's (plain types, no client library), re-exported for users of the model.
import type { ObjectMeta } from '../kube/types.ts';
export type { ObjectMeta, OwnerReference } from '../kube/types.ts';

/** A CEL rule (`x-kubernetes-validations` entry). */
export interface ValidationRule {
  readonly rule: string;
  readonly message?: string;
  readonly messageExpression?: string;
  /** Relative JSON path (`.field`) the error is reported at, so the message names the field. */
  readonly fieldPath?: string;
  readonly reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

/** What the generator accepts as a schema node: Kubernetes' structural OpenAPI v3 dialect. */
export type KubeSchema = JSONSchema & {
  readonly 'x-kubernetes-validations'?: readonly ValidationRule[];
  readonly 'x-kubernetes-preserve-unknown-fields'?: boolean;
  readonly 'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  readonly 'x-kubernetes-list-map-keys'?: readonly string[];
};

// Structural schemas prune unknown fields unless `x-kubernetes-preserve-unknown-fields` says otherwise; JSON Schema
// allows them by default. Closing every object that declares properties makes the derived type say what the API
// server keeps, so a misspelt field is a compile error instead of a silently pruned value.
type Pruned<S> = S extends { readonly type: 'object'; readonly properties: infer P }
  ? {
      readonly [K in keyof S | 'additionalProperties']: K extends 'properties'
        ? { readonly [N in keyof P]: Pruned<P[N]> }
        : K extends 'additionalProperties'
          ? S extends { readonly 'x-kubernetes-preserve-unknown-fields': true }
            ? true
            : false
          : K extends keyof S
            ? S[K]
            : never;
    }
  : S extends { readonly type: 'array'; readonly items: infer I }
    ? { readonly [K in keyof S]: K extends 'items' ? Pruned<I> : S[K] }
    : S;

/** The TypeScript type of a value valid under a Kubernetes schema literal. Defaulted fields stay optional: they are
 * absent in what a controller writes, even if the API server fills them in on read. */
export type FromKubeSchema<S> =
  Pruned<S> extends infer P extends JSONSchema ? FromSchema<P, { keepDefaultedPropertiesOptional: true }> : never;

export interface PrinterColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly jsonPath: string;
  readonly description?: string;
  /** 0: shown by `kubectl get`; 1: only with `-o wide`. */
  readonly priority?: number;
}

export const ageColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' } as const;

/** The Ready condition's status, and its reason with `-o wide`. */
export const readyColumns = [
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
] as const;

export interface KindInput {
  readonly group: string;
  /** The one served and storage version. */
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly scope: 'Namespaced' | 'Cluster';
  readonly shortNames?: readonly string[];
  readonly categories?: readonly string[];
  /** Whether `status` is a subresource (and thus ignored on main-resource writes). */
  readonly statusSubresource: boolean;
  readonly printerColumns: readonly PrinterColumn[];
  readonly description: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly spec: KubeSchema;
  readonly status?: KubeSchema;
}

export type KindDescriptor<D extends KindInput = KindInput> = D & {
  readonly apiVersion: `${D['group']}/${D['version']}`;
  readonly listKind: `${D['kind']}List`;
  readonly namespaced: D['scope'] extends infer S ? (S extends 'Namespaced' ? true : false) : never;
  /** The whole object's schema, as it goes into the CRD's `openAPIV3Schema`. */
  readonly schema: KubeSchema;
};

export function defineKind<const D extends KindInput>(d: D): KindDescriptor<D> {
  return {
    ...d,
    apiVersion: `${d.group}/${d.version}` as const,
    listKind: `${d.kind}List` as const,
    namespaced: (d.scope === 'Namespaced') as KindDescriptor<D>['namespaced'],
    schema: {
      type: 'object',
      description: d.description,
      required: ['spec'],
      properties: {
        apiVersion: {
          type: 'string',
          description: 'APIVersion defines the versioned schema of this representation of an object.',
        },
        kind: {
          type: 'string',
          description: 'Kind is a string value representing the REST resource this object represents.',
        },
        metadata: { type: 'object' },
        spec: d.spec,
        ...(d.status ? { status: d.status } : {}),
      },
    },
  };
}

/** A full object of a kind: the envelope plus the spec and status types derived from the kind's schema. */
export type ObjectOf<D extends KindInput> = {
  apiVersion: `${D['group']}/${D['version']}`;
  kind: D['kind'];
  metadata: ObjectMeta;
  spec: FromKubeSchema<D['spec']>;
} & (D extends { readonly status: infer S } ? { status?: FromKubeSchema<S> } : unknown);
