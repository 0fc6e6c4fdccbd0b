import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IntervalSet } from '../core/index.ts';
import { describeConflicts, judge, overlaps, type Holder } from './conflicts.ts';

const holder = (name: string, entries: string[], extra: Partial<Holder> = {}): Holder => ({
  kind: 'ClusterIPAMClaim',
  name,
  namespace: 'ns',
  domain: 'namespace/ns',
  createdAt: '2026-01-01T00:00:00Z',
  holds: false,
  infoblox: false,
  allowOverlap: false,
  spaces: [{ path: 'spec.nodeNetwork', set: IntervalSet.parse(entries[0]!.includes(':') ? 6 : 4, entries) }],
  ...extra,
});

const annotation = 'k0rdent.mirantis.com/allow-overlap';

describe('overlap verdicts', () => {
  const early = holder('a', ['10.0.0.0/24'], { createdAt: '2026-01-01T00:00:00Z' });
  const late = holder('b', ['10.0.0.128/25'], { createdAt: '2026-01-01T00:00:05Z' });

  it('blocks the later claim and reports the overlap on both', () => {
    const forLate = judge(late, [early]);
    const forEarly = judge(early, [late]);
    assert.equal(forLate.blocked, true);
    assert.equal(forEarly.blocked, false);
    assert.equal(
      describeConflicts(late, forLate, annotation),
      'spec.nodeNetwork overlaps ClusterIPAMClaim a spec.nodeNetwork (10.0.0.128/25), which holds these addresses. ' +
        'Not binding: choose another address space, or annotate this claim ' +
        'k0rdent.mirantis.com/allow-overlap="true" if the overlap is intended',
    );
    assert.equal(
      describeConflicts(early, forEarly, annotation),
      'spec.nodeNetwork overlaps ClusterIPAMClaim b spec.nodeNetwork (10.0.0.128/25); b came later and is not bound',
    );
  });

  it('breaks a creationTimestamp tie by name', () => {
    const x = holder('x', ['10.0.0.1']);
    const y = holder('y', ['10.0.0.1']);
    assert.equal(judge(x, [y]).blocked, false);
    assert.equal(judge(y, [x]).blocked, true);
  });

  it('lets whoever already holds the addresses keep them, even if created later', () => {
    // e.g. the older claim was edited into the range of a bound neighbour
    const edited = holder('a', ['10.0.0.0/24'], { createdAt: '2026-01-01T00:00:00Z' });
    const bound = holder('b', ['10.0.0.128/25'], { createdAt: '2026-01-02T00:00:00Z', holds: true });
    assert.equal(judge(edited, [bound]).blocked, true);
    assert.equal(judge(bound, [edited]).blocked, false);
  });

  it('treats an existing pool as holding its addresses', () => {
    const pool = holder('manual', ['10.0.0.10-10.0.0.20'], { kind: 'InClusterIPPool', holds: true });
    const claim = holder('c', ['10.0.0.0/24'], { createdAt: '2026-02-01T00:00:00Z' });
    const verdict = judge(claim, [pool]);
    assert.equal(verdict.blocked, true);
    assert.match(describeConflicts(claim, verdict, annotation), /overlaps InClusterIPPool manual spec.nodeNetwork/);
  });

  it('binds a claim that allows overlap, and still says so', () => {
    const allowed = holder('b', ['10.0.0.128/25'], { createdAt: '2026-01-01T00:00:05Z', allowOverlap: true });
    const verdict = judge(allowed, [early]);
    assert.equal(verdict.blocked, false);
    assert.match(describeConflicts(allowed, verdict, annotation), /Binding anyway: this claim has k0rdent/);
    assert.match(describeConflicts(early, judge(early, [allowed]), annotation), /b binds anyway \(it allows overlap\)/);
  });

  it('does not oppose two Infoblox spaces: the appliance hands out each address once', () => {
    const a = holder('a', ['203.0.113.0/24'], { infoblox: true });
    const b = holder('b', ['203.0.113.128/25'], { infoblox: true, createdAt: '2026-03-01T00:00:00Z' });
    assert.deepEqual(judge(b, [a]).conflicts, []);
    assert.equal(judge(b, [{ ...a, infoblox: false }]).blocked, true);
  });

  it('ignores disjoint spaces and other families', () => {
    assert.equal(overlaps(holder('a', ['10.0.0.0/25']), holder('b', ['10.0.0.128/25'])), false);
    assert.equal(overlaps(holder('a', ['10.0.0.0/24']), holder('b', ['fd00::/64'])), false);
  });
});

describe('address domains', () => {
  const early = holder('a', ['10.0.0.0/24'], { createdAt: '2026-01-01T00:00:00Z' });
  const late = (extra: Partial<Holder>) =>
    holder('b', ['10.0.0.0/24'], { createdAt: '2026-01-01T00:00:05Z', ...extra });

  it('does not oppose the default domains of two namespaces: tenants may reuse a range on their own networks', () => {
    const other = late({ namespace: 'other', domain: 'namespace/other' });
    assert.deepEqual(judge(other, [early]).conflicts, []);
    assert.equal(overlaps(early, other), false);
  });

  it('opposes the members of one named domain across namespaces, naming the namespace of the other', () => {
    const a = { ...early, domain: 'lab' };
    const b = late({ namespace: 'other', domain: 'lab' });
    const verdict = judge(b, [a]);
    assert.equal(verdict.blocked, true);
    assert.match(
      describeConflicts(b, verdict, annotation),
      /^spec\.nodeNetwork overlaps ClusterIPAMClaim ns\/a spec\.nodeNetwork \(10\.0\.0\.0\/24\), which holds these addresses\. Not binding/,
    );
    assert.deepEqual(judge(b, [early]).conflicts, [], 'a named domain and a default one are separate');
    assert.deepEqual(judge(late({ domain: 'other-lab' }), [a]).conflicts, [], 'two named domains are separate');
  });

  it('opposes a global pool to any domain, saying the domains differ and how to join them', () => {
    const pool = holder('shared', ['10.0.0.0/24'], {
      kind: 'GlobalInClusterIPPool',
      namespace: undefined,
      domain: 'global',
      holds: true,
    });
    const verdict = judge(early, [pool]);
    assert.equal(verdict.blocked, true);
    assert.equal(verdict.conflicts[0]!.crossDomain, true);
    assert.equal(
      describeConflicts(early, verdict, annotation),
      'spec.nodeNetwork overlaps GlobalInClusterIPPool shared spec.nodeNetwork (10.0.0.0/24), which holds these ' +
        "addresses in the global address domain, a different address domain than this claim's (the address domain " +
        'of namespace ns): the same address can be handed out twice. Not binding: choose another address space, or ' +
        'annotate this claim k0rdent.mirantis.com/allow-overlap="true" if the overlap is intended. If both are on ' +
        'one network, put them into one address domain, where an address is handed out once: annotate this claim ' +
        'ipam.k0rdent.mirantis.com/address-domain=global',
    );
    const joined = { ...early, domain: 'global', allowOverlap: true };
    const same = judge(joined, [pool]);
    assert.equal(same.blocked, false);
    assert.equal(same.conflicts[0]!.crossDomain, false);
    assert.doesNotMatch(describeConflicts(joined, same, annotation), /address domain/);
  });

  it('tells a claim of the global domain to annotate the namespaced holder it overlaps', () => {
    const g = late({ domain: 'global' });
    assert.match(
      describeConflicts(g, judge(g, [early]), annotation),
      /annotate ClusterIPAMClaim a ipam\.k0rdent\.mirantis\.com\/address-domain=global$/,
    );
  });
});
