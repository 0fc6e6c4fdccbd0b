// Address domains (spec 03 §3.4): the scope within which an address has at most one holder. An InClusterIPPool
// belongs to the domain of its namespace, a GlobalInClusterIPPool to the cluster-wide domain `global`; the
// annotation puts a pool (or a ClusterIPAMClaim, and with it the pools it creates) into a named domain shared
// across namespaces. Pure: the provider, the webhook and the ClusterIPAMClaim checks all ask this one function.
import { dnsLabelPattern } from './common.ts';

export const addressDomainAnnotation = 'ipam.k0rdent.mirantis.com/address-domain';

/** The domain of every GlobalInClusterIPPool, and the name that puts a namespaced pool into it. */
export const globalDomain = 'global';

/**
 * A domain's id: `global`, `namespace/<ns>` for a namespace's default domain, or the name given by the annotation
 * (a DNS label, so it can never contain the `/` of the default ids).
 */
export type AddressDomain = string;

export interface DomainHolder {
  kind?: string;
  metadata: { namespace?: string; annotations?: Readonly<Record<string, string>> };
}

const label = new RegExp(dnsLabelPattern);

type DomainResult = { domain: AddressDomain } | { error: string };

/** The object's domain, or why its annotation cannot name one (a message naming the field). */
function addressDomainOf(obj: DomainHolder): DomainResult {
  const named = obj.metadata.annotations?.[addressDomainAnnotation];
  if (named !== undefined) {
    if (named.length > 63 || !label.test(named)) {
      return {
        error:
          `metadata.annotations[${addressDomainAnnotation}]: "${named}" is not a valid domain name ` +
          '(lowercase letters, digits and "-", at most 63, starting and ending with a letter or digit)',
      };
    }
    return { domain: named };
  }
  return { domain: defaultDomain(obj) };
}

function defaultDomain(obj: DomainHolder): AddressDomain {
  return obj.kind === 'GlobalInClusterIPPool' || !obj.metadata.namespace
    ? globalDomain
    : `namespace/${obj.metadata.namespace}`;
}

/** The annotation's problem as a field issue, undefined when the object's domain is fine. */
export function domainIssue(obj: DomainHolder): { field: string; message: string } | undefined {
  const r = addressDomainOf(obj);
  if (!('error' in r)) return undefined;
  const field = `metadata.annotations[${addressDomainAnnotation}]`;
  return { field, message: r.error.slice(field.length + 2) };
}

/** The domain, falling back to the default one when the annotation is invalid (the object reports the error). */
export function addressDomain(obj: DomainHolder): AddressDomain {
  const r = addressDomainOf(obj);
  if ('domain' in r) return r.domain;
  return defaultDomain(obj);
}

/** How users read a domain in messages. */
export function domainTitle(domain: AddressDomain): string {
  if (domain === globalDomain) return 'the global address domain';
  if (domain.startsWith('namespace/')) return `the address domain of namespace ${domain.slice('namespace/'.length)}`;
  return `address domain ${domain}`;
}

/** The DNS-subdomain suffix that makes a per-address object name unique per domain ('' for `global`). */
export function domainNameSuffix(domain: AddressDomain): string {
  if (domain === globalDomain) return '';
  if (domain.startsWith('namespace/')) return `.ns.${domain.slice('namespace/'.length)}`;
  return `.domain.${domain}`;
}
