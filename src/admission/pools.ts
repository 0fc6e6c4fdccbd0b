// What the admission webhook decides about an InClusterIPPool / GlobalInClusterIPPool change, pure: the rules of
// spec 03 §3.2 that a CRD schema cannot express.
// - create/update: the spec validates (e.g. an IPv6 range that ends before it starts, which CEL cannot order);
// - create/update: the address-domain annotation names a valid domain;
// - update: no allocated address the old usable set had falls outside the new one (shrink under live allocations;
//   an address already outside, kept after a move, does not block changes), and the pool
//   does not change address domain while it has allocations (spec 03 §3.4);
// - delete: refused while addresses are allocated from the pool, unless the pool carries
//   ipam.cluster.x-k8s.io/skip-validate-delete-webhook (moves between management clusters).
import { addressDomain, domainIssue, domainTitle } from '../api/index.ts';
import { sameJSON } from '../api/index.ts';
import { checkPoolShrink, formatAddress, validatePool, type Address } from '../core/index.ts';
import type { PoolObject } from '../providers/in-cluster/pools.ts';

export const skipDeleteAnnotation = 'ipam.cluster.x-k8s.io/skip-validate-delete-webhook';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export type Verdict = { allowed: true } | { allowed: false; message: string };

const shown = 10;

function list(addresses: readonly Address[]): string {
  const sorted = [...addresses].sort(
    (a, b) => a.family - b.family || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0),
  );
  const more = sorted.length - shown;
  return sorted.slice(0, shown).map(formatAddress).join(', ') + (more > 0 ? ` and ${more} more` : '');
}

/** `allocated`: addresses of the pool's IPAddresses and live reservations (what a shrink or delete would strand). */
export function reviewPool(
  operation: Operation,
  pool: PoolObject | undefined,
  old: PoolObject | undefined,
  allocated: readonly Address[],
): Verdict {
  const what = `${(pool ?? old)?.kind} ${(pool ?? old)?.metadata.name}`;
  if (operation === 'DELETE') {
    if (!old || old.metadata.annotations?.[skipDeleteAnnotation] !== undefined || allocated.length === 0) {
      return { allowed: true };
    }
    return {
      allowed: false,
      message:
        `${what} still has ${allocated.length} allocated addresses (${list(allocated)}): delete their ` +
        `IPAddressClaims first, or annotate the pool with ${skipDeleteAnnotation} to delete it anyway`,
    };
  }
  if (!pool || (operation !== 'CREATE' && operation !== 'UPDATE')) return { allowed: true };
  const issue = domainIssue(pool);
  if (issue) return { allowed: false, message: `${what} is invalid: ${issue.field}: ${issue.message}` };
  if (operation === 'UPDATE' && old && addressDomain(old) !== addressDomain(pool) && allocated.length > 0) {
    return {
      allowed: false,
      message:
        `${what} cannot move from ${domainTitle(addressDomain(old))} to ${domainTitle(addressDomain(pool))} ` +
        `while it has ${allocated.length} allocated addresses (${list(allocated)}): their uniqueness was checked ` +
        'in the old domain; release them (delete their IPAddressClaims) first',
    };
  }
  if (operation === 'UPDATE' && old && sameJSON(old.spec, pool.spec)) return { allowed: true };
  const check = validatePool(pool.spec);
  if (!check.pool) {
    return {
      allowed: false,
      message: `${what} is invalid: ${check.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`,
    };
  }
  if (operation === 'UPDATE') {
    const shrink = checkPoolShrink(old && validatePool(old.spec).pool, check.pool, allocated);
    if (shrink.errors.length > 0) {
      return {
        allowed: false,
        message:
          `${what} cannot shrink under live allocations: ` +
          shrink.errors.map((e) => `${e.field}: ${e.message}`).join('; ') +
          '; release those addresses (delete their IPAddressClaims) first',
      };
    }
  }
  return { allowed: true };
}
