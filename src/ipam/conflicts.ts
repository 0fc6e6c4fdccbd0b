// Overlap between a claim's address spaces and those of other claims and pools, and who keeps the addresses.
//
// Precedence: whoever already holds the addresses (a pool exists with exactly these addresses) comes first, then the
// older object (creationTimestamp), then kind and name. So a claim created later does not bind into addresses a
// claim or pool has, and neither does a claim edited into a neighbour's range: the neighbour holds its pool, the
// edited claim does not hold its new space yet. Spaces both served by Infoblox do not conflict: the appliance hands
// out each address once, whichever pool asks.
//
// Address domains (spec 03 §3.4): holders of one domain conflict; holders of two domains do not (two tenants'
// namespaces may use one range on isolated networks), except when one of them is in the global domain: a namespaced
// pool that overlaps a global pool can hand out an address the global pool gave away, so that overlap is judged as if
// the two shared a domain, and the message says how to put them into one.
import { addressDomainAnnotation, domainTitle, globalDomain, type AddressDomain } from '../api/index.ts';
import type { IntervalSet } from '../core/index.ts';

export interface Holder {
  /** ClusterIPAMClaim, InClusterIPPool, GlobalInClusterIPPool or InfobloxIPPool. */
  readonly kind: string;
  readonly name: string;
  /** Undefined for cluster-scoped objects. */
  readonly namespace?: string;
  readonly domain: AddressDomain;
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
  /** The other is in another address domain (one of the two is the global one). */
  readonly crossDomain: boolean;
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
  if (a.name !== b.name) return a.name < b.name;
  return (a.namespace ?? '') < (b.namespace ?? '');
}

/** Whether holders of these domains can conflict: the same domain, or one of them is the global one. */
export function domainsMeet(a: AddressDomain, b: AddressDomain): boolean {
  return a === b || a === globalDomain || b === globalDomain;
}

/** Every pair of overlapping spaces between `subject` and `others` (which should not include the subject). */
export function findConflicts(subject: Holder, others: readonly Holder[]): Conflict[] {
  const out: Conflict[] = [];
  for (const other of others) {
    if (subject.infoblox && other.infoblox) continue;
    if (!domainsMeet(subject.domain, other.domain)) continue;
    const first = precedes(subject, other);
    const crossDomain = subject.domain !== other.domain;
    for (const mine of subject.spaces) {
      for (const theirs of other.spaces) {
        if (mine.set.family !== theirs.set.family) continue;
        const shared = mine.set.intersection(theirs.set);
        if (!shared.isEmpty) out.push({ other, path: mine.path, otherPath: theirs.path, shared, first, crossDomain });
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

/** How the subject names another holder: with its namespace when it is in another one (named domains span them). */
export function holderTitle(subject: Pick<Holder, 'namespace'>, other: Holder): string {
  const ns = other.namespace && other.namespace !== subject.namespace ? `${other.namespace}/` : '';
  return `${other.kind} ${ns}${other.name}`;
}

/** One sentence per conflict, from the subject's side, for its condition message. */
export function describeConflicts(subject: Holder, verdict: Verdict, allowAnnotation: string): string {
  const lines = verdict.conflicts.slice(0, shown).map((c) => {
    const head = `${c.path} overlaps ${holderTitle(subject, c.other)} ${c.otherPath} (${c.shared})`;
    const where = c.crossDomain
      ? ` in ${domainTitle(c.other.domain)}, a different address domain than this claim's ` +
        `(${domainTitle(subject.domain)}): the same address can be handed out twice`
      : '';
    if (!c.first) return `${head}, which holds these addresses${where}`;
    if (c.other.allowOverlap) return `${head}${where}; ${c.other.name} binds anyway (it allows overlap)`;
    return c.other.kind === 'ClusterIPAMClaim'
      ? `${head}${where}; ${c.other.name} came later and is not bound`
      : `${head}${where}; this claim came first`;
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
  const cross = verdict.conflicts.find((c) => c.crossDomain);
  if (cross) text += `. ${joinDomainsHint(subject, cross.other)}`;
  return text;
}

/** How to make two holders of different domains share their addresses: one of them is in the global domain. */
function joinDomainsHint(subject: Holder, other: Holder): string {
  const who = subject.domain === globalDomain ? holderTitle(subject, other) : 'this claim';
  return (
    'If both are on one network, put them into one address domain, where an address is handed out once: ' +
    `annotate ${who} ${addressDomainAnnotation}=${globalDomain}`
  );
}
