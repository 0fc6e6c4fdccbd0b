import type { KubeObject, OwnerReference } from '../kube/index.ts';

function refTo(owner: KubeObject): OwnerReference {
  const { apiVersion, kind } = owner;
  const { name, uid } = owner.metadata;
  if (!apiVersion || !kind || !name || !uid) {
    throw new Error('owner needs apiVersion, kind, metadata.name and metadata.uid (use an object read from the API)');
  }
  return { apiVersion, kind, name, uid };
}

/** The controller reference to `owner`: controller=true, blockOwnerDeletion=true (foreground deletion waits). */
export function controllerRef(owner: KubeObject): OwnerReference {
  return { ...refTo(owner), controller: true, blockOwnerDeletion: true };
}

export function getControllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((ref) => ref.controller);
}

function checkScope(obj: KubeObject, owner: KubeObject): void {
  const ownerNs = owner.metadata.namespace;
  if (ownerNs && ownerNs !== obj.metadata.namespace) {
    // The garbage collector would treat the owner as absent and delete the object.
    throw new Error(`cross-namespace owner references are not allowed: ${ownerNs}/${owner.metadata.name}`);
  }
}

function sameOwner(a: OwnerReference, b: OwnerReference): boolean {
  return (
    a.uid === b.uid ||
    (a.kind === b.kind && a.name === b.name && a.apiVersion.split('/')[0] === b.apiVersion.split('/')[0])
  );
}

/**
 * Makes `owner` the controller of `obj` (which must be a mutable object, e.g. one being built or a clone).
 * Throws if another object already controls it, like controllerutil.SetControllerReference.
 */
export function setControllerReference(obj: KubeObject, owner: KubeObject): void {
  checkScope(obj, owner);
  const ref = controllerRef(owner);
  const current = getControllerOf(obj);
  if (current && !sameOwner(current, ref)) {
    throw new Error(`${obj.metadata.name} is already controlled by ${current.kind} ${current.name}`);
  }
  upsert(obj, ref);
}

/** Adds (or refreshes) a plain, non-controller owner reference to `owner`. */
export function setOwnerReference(obj: KubeObject, owner: KubeObject): void {
  checkScope(obj, owner);
  const ref = refTo(owner);
  const existing = obj.metadata.ownerReferences?.find((r) => sameOwner(r, ref));
  upsert(
    obj,
    existing?.controller ? { ...ref, controller: true, blockOwnerDeletion: existing.blockOwnerDeletion } : ref,
  );
}

// In place, so re-setting an existing reference does not reorder the list (and cause a needless write).
function upsert(obj: KubeObject, ref: OwnerReference): void {
  const refs = obj.metadata.ownerReferences ?? [];
  const at = refs.findIndex((r) => sameOwner(r, ref));
  obj.metadata.ownerReferences = at < 0 ? [...refs, ref] : refs.map((r, i) => (i === at ? ref : r));
}
