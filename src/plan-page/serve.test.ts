import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DomainPlan } from './model.ts';
import { waitFor } from '../../test/support/wait.ts';
import { PlanCache } from './serve.ts';
import type { Steps } from './steps.ts';

/** A plan of one empty domain, in one step. */
function* plan(domain: string): Steps<DomainPlan[]> {
  yield;
  return [{ domain, pools: [] }];
}

describe('PlanCache', () => {
  it('builds the plan again only after a change, at most once per interval, and renders each build once', async () => {
    let now = 1_000_000;
    let builds = 0;
    const cache = new PlanCache(() => plan(`build-${++builds}`), { intervalMs: 1000, now: () => now });
    const page = await cache.html();
    assert.match(page, /build-1/);
    assert.match(page, new RegExp(new Date(now).toISOString()), 'the page says when it was built');
    assert.match(await cache.json(), /build-1/);
    now += 5000;
    assert.equal(await cache.html(), page, 'unchanged: the same page, not rebuilt');
    assert.equal(builds, 1);

    cache.invalidate();
    assert.match(await cache.html(), /build-2/, 'changed a while after the last build: rebuilt at once');
    cache.invalidate();
    now += 999;
    assert.match(
      await cache.json(),
      /build-2/,
      'changed within the interval: the last build, which says when it was made',
    );
    now += 1;
    assert.match(await cache.json(), /build-3/);
    assert.match(await cache.html(), /build-3/);
    assert.equal(builds, 3);
  });

  it('drops its build a while after the last GET, so an unread page holds no memory', async () => {
    let builds = 0;
    const cache = new PlanCache(() => plan(`build-${++builds}`), { keepMs: 20 });
    assert.match(await cache.html(), /build-1/);
    assert.match(await cache.html(), /build-1/, 'read again at once: kept');
    // Each look reads the page (and keeps it another 20 ms); looks 200 ms apart find it dropped and built again.
    await waitFor(async () => /build-2/.test(await cache.html()), { intervalMs: 200, what: 'the page built again' });
  });

  it('builds in slices: the event loop gets its turn while a long build runs, and GETs meanwhile share it', async () => {
    let builds = 0;
    let turns = 0;
    const cache = new PlanCache(function* (): Steps<DomainPlan[]> {
      builds++;
      // ~200 ms of CPU in small steps, like a plan of many holders.
      for (let i = 0; i < 20_000; i++) {
        const until = performance.now() + 0.01;
        while (performance.now() < until);
        yield;
      }
      return [{ domain: 'big', pools: [] }];
    });
    const ticking = setInterval(() => turns++, 1);
    try {
      const [html, json] = await Promise.all([cache.html(), cache.json()]);
      assert.match(html, /big/);
      assert.match(json, /big/);
    } finally {
      clearInterval(ticking);
    }
    assert.equal(builds, 1, 'one build for both GETs');
    assert.ok(turns >= 5, `timers ran ${turns} times during the build`);
  });
});
