import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DomainPlan } from './model.ts';
import { waitFor } from '../../test/support/wait.ts';
import { PlanCache } from './serve.ts';

describe('PlanCache', () => {
  it('builds the plan again only after a change, at most once per interval, and renders each build once', () => {
    let now = 1_000_000;
    let builds = 0;
    const cache = new PlanCache((): DomainPlan[] => [{ domain: `build-${++builds}`, pools: [] }], {
      intervalMs: 1000,
      now: () => now,
    });
    const page = cache.html();
    assert.match(page, /build-1/);
    assert.match(page, new RegExp(new Date(now).toISOString()), 'the page says when it was built');
    assert.match(cache.json(), /build-1/);
    now += 5000;
    assert.equal(cache.html(), page, 'unchanged: the same page, not rebuilt');
    assert.equal(builds, 1);

    cache.invalidate();
    assert.match(cache.html(), /build-2/, 'changed a while after the last build: rebuilt at once');
    cache.invalidate();
    now += 999;
    assert.match(cache.json(), /build-2/, 'changed within the interval: the last build, which says when it was made');
    now += 1;
    assert.match(cache.json(), /build-3/);
    assert.match(cache.html(), /build-3/);
    assert.equal(builds, 3);
  });

  it('drops its build a while after the last GET, so an unread page holds no memory', async () => {
    let builds = 0;
    const cache = new PlanCache((): DomainPlan[] => [{ domain: `build-${++builds}`, pools: [] }], { keepMs: 20 });
    assert.match(cache.html(), /build-1/);
    assert.match(cache.html(), /build-1/, 'read again at once: kept');
    // Each look reads the page (and keeps it another 20 ms); looks 200 ms apart find it dropped and built again.
    await waitFor(async () => /build-2/.test(cache.html()), { intervalMs: 200, what: 'the page built again' });
  });
});
