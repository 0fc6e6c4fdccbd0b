// IPAddressLedger entries as the address book keeps them (ReservationInfo), and what changed between two copies of
// a ledger: the book follows the ledgers entry by entry, not object by object.
import type { AddressDomain, IPAddressLedger, IPAddressLedgerEntry } from '../../api/index.ts';
import { formatAddress, type Address } from '../../core/index.ts';
import type { ReservationInfo } from './book.ts';
import { ledgerName, poolKey, reservationName, tryParseAddress } from './names.ts';

/** A ledger entry as the book keeps it: one per address, named like the reservation it replaces. */
export function entryInfo(
  ledger: string,
  domain: AddressDomain,
  address: Address,
  e: IPAddressLedgerEntry,
): ReservationInfo {
  return {
    name: reservationName(domain, address),
    uid: e.claimRef.uid,
    ledger,
    address,
    domain,
    claimUid: e.claimRef.uid,
    claimNamespace: e.claimRef.namespace,
    claimName: e.claimRef.name,
    poolKey: poolKey(e.poolRef.kind, e.poolRef.namespace, e.poolRef.name),
    releasedAt: e.releasedAt,
  };
}

/**
 * The ledger's entries as the book keeps them, by address text; entries unchanged since `prev` (the ledger's last
 * copy seen) keep their object. `bad` gets the keys that are not an address of the ledger's block.
 */
export function ledgerInfos(
  l: IPAddressLedger,
  prev: ReadonlyMap<string, ReservationInfo> | undefined,
  bad: (key: string) => void,
): Map<string, ReservationInfo> {
  const name = l.metadata.name ?? '';
  const { domain } = l.spec;
  const out = new Map<string, ReservationInfo>();
  for (const [key, e] of Object.entries(l.spec.entries ?? {})) {
    const before = prev?.get(key);
    const pool = poolKey(e.poolRef.kind, e.poolRef.namespace, e.poolRef.name);
    if (before?.claimUid === e.claimRef.uid && before.releasedAt === e.releasedAt && before.poolKey === pool) {
      out.set(key, before);
      continue;
    }
    const address = tryParseAddress(key);
    if (!address || formatAddress(address) !== key || ledgerName(domain, address) !== name) bad(key);
    else out.set(key, entryInfo(name, domain, address, e));
  }
  return out;
}

/** The entry a reservation of an older release becomes. */
export const entryOf = (info: ReservationInfo): IPAddressLedgerEntry => ({
  poolRef: poolRefOf(info.poolKey),
  claimRef: { namespace: info.claimNamespace, name: info.claimName, uid: info.claimUid },
  ...(info.releasedAt !== undefined ? { releasedAt: info.releasedAt } : {}),
});

/** A pool key as a ledger entry's poolRef. */
export function poolRefOf(key: string): { kind: string; namespace?: string; name: string } {
  const [kind, namespace, ...name] = key.split('/');
  return { kind: kind!, ...(namespace ? { namespace } : {}), name: name.join('/') };
}

/**
 * What the book must do when a ledger's entries go from `prev` to `next` (both from ledgerInfos, so an unchanged
 * entry is the same object): forget the holders that are gone or replaced by another claim, observe the new and
 * changed entries (a release keeps its holder: the book keeps when it first saw it). `changed`: both sides of every
 * difference, for the watches that map a ledger's update to the pools and claims it concerns.
 */
export function diffEntries(
  prev: ReadonlyMap<string, ReservationInfo> | undefined,
  next: ReadonlyMap<string, ReservationInfo>,
): { forget: ReservationInfo[]; observe: ReservationInfo[]; changed: ReservationInfo[] } {
  const forget: ReservationInfo[] = [];
  const observe: ReservationInfo[] = [];
  for (const [key, old] of prev ?? []) {
    const now = next.get(key);
    if (now === old) continue;
    if (now?.claimUid !== old.claimUid) forget.push(old);
  }
  for (const [key, info] of next) if (prev?.get(key) !== info) observe.push(info);
  const changed = [...(prev ?? [])].filter(([key, old]) => next.get(key) !== old).map(([, old]) => old);
  return { forget, observe, changed: [...changed, ...observe] };
}
