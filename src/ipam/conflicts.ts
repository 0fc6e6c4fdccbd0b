// Overlap between a claim's address spaces and those of other claims and pools, and who keeps the addresses.
//
// Precedence: whoever already holds the addresses (a pool exists with exactly these addresses) comes first, then the
// older object (creationTimestamp), then kind and name. So a claim created later does not bind into addresses a
// claim or pool has, and neither does a claim edited into a neighbour's range: the neighbour holds its pool, the
// edited claim does not hold its new space yet. Spaces both served by Infoblox do not conflict: the appliance hands
// out each address once, whichever pool asks.
import type { IntervalSet } from '../core/index.ts';

export interface Holder {
  /** ClusterIPAMClaim, InClusterIPPool, GlobalInClusterIPPool or InfobloxIPPool. */
  readonly kind: string;
  readonly name: string;
  /** RFC 3339, as the API server writes it. */
  readonly createdAt: string;
  /** Already has its addresses in a pool (a pool always does). */
  readonly holds: boolean;
  /** Allocated by Infoblox. */
  readonly infoblox: boolean;
  readonly allowOverlap: boolean;
  /** `path` names the space, e.g. `spec.nodeNetwork` or `spec.addresses`. */
  readonly spaces: readonly { path: string; set: IntervalSet }[];
}

export interface Conflict {
  readonly other: Holder;
  /** The subject's space and the other's. */
  readonly path: string;
  readonly otherPath: string;
  readonly shared: IntervalSet;
  /** The subject comes first: it keeps the addresses. */
  readonly first: boolean;
}

export interface Verdict {
  readonly conflicts: readonly Conflict[];
  /** Some conflict puts the subject second, and it does not allow overlap. */
  readonly blocked: boolean;
}

export function precedes(a: Holder, b: Holder): boolean {
  if (a.holds !== b.holds) return a.holds;
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt;
  if (a.kind !== b.kind) return a.kind < b.kind;
  return a.name < b.name;
}

/** Every pair of overlapping spaces between `subject` and `others` (which should not include the subject). */
export function findConflicts(subject: Holder, others: readonly Holder[]): Conflict[] {
  const out: Conflict[] = [];
  for (const other of others) {
    if (subject.infoblox && other.infoblox) continue;
    const first = precedes(subject, other);
    for (const mine of subject.spaces) {
      for (const theirs of other.spaces) {
        if (mine.set.family !== theirs.set.family) continue;
        const shared = mine.set.intersection(theirs.set);
        if (!shared.isEmpty) out.push({ other, path: mine.path, otherPath: theirs.path, shared, first });
      }
    }
  }
  return out;
}

export function judge(subject: Holder, others: readonly Holder[]): Verdict {
  const conflicts = findConflicts(subject, others);
  return { conflicts, blocked: !subject.allowOverlap && conflicts.some((c) => !c.first) };
}

/** Whether two holders' spaces share an address (for mapping events to the claims they concern). */
export function overlaps(a: Holder, b: Holder): boolean {
  return findConflicts(a, [b]).length > 0;
}

const shown = 3;

/** One sentence per conflict, from the subject's side, for its condition message. */
export function describeConflicts(subject: Holder, verdict: Verdict, allowAnnotation: string): string {
  const lines = verdict.conflicts.slice(0, shown).map((c) => {
    const other = `${c.other.kind} ${c.other.name}`;
    const head = `${c.path} overlaps ${other} ${c.otherPath} (${c.shared})`;
    if (!c.first) return `${head}, which holds these addresses`;
    if (c.other.allowOverlap) return `${head}; ${c.other.name} binds anyway (it allows overlap)`;
    return c.other.kind === 'ClusterIPAMClaim'
      ? `${head}; ${c.other.name} came later and is not bound`
      : `${head}; this claim came first`;
  });
  const more = verdict.conflicts.length - shown;
  if (more > 0) lines.push(`and ${more} more`);
  let text = lines.join('; ');
  if (verdict.blocked) {
    text +=
      `. Not binding: choose another address space, or annotate this claim ${allowAnnotation}="true" ` +
      `if the overlap is intended`;
  } else if (subject.allowOverlap && verdict.conflicts.some((c) => !c.first)) {
    text += `. Binding anyway: this claim has ${allowAnnotation}="true"`;
  }
  return text;
}
