import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import fc from 'fast-check';
import { getEventListeners } from 'node:events';
import { Backoff, linkedSignal, sleep } from './backoff.ts';
import {
  BucketRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  defaultControllerRateLimiter,
} from './ratelimiter.ts';

describe('ItemExponentialFailureRateLimiter', () => {
  it('property: delays double from the base per failure, are capped, and are per key', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 100, max: 2_000_000 }),
        fc.integer({ min: 1, max: 80 }),
        (base, max, failures) => {
          const rl = new ItemExponentialFailureRateLimiter<string>(base, max);
          const delays = Array.from({ length: failures }, () => rl.when('a'));
          delays.forEach((d, i) => assert.equal(d, Math.min(max, base * 2 ** i)));
          for (let i = 1; i < delays.length; i++) assert.ok(delays[i]! >= delays[i - 1]!);
          assert.ok(delays.every((d) => Number.isFinite(d) && d <= max));
          assert.equal(rl.numRequeues('a'), failures);
          assert.equal(rl.when('b'), base, 'another key starts fresh');
          rl.forget('a');
          assert.equal(rl.numRequeues('a'), 0);
          assert.equal(rl.when('a'), base);
        },
      ),
    );
  });

  it("client-go's defaults: 5 ms then 10, 20 ... capped at 1000 s even after 1000 failures", () => {
    const rl = new ItemExponentialFailureRateLimiter<string>();
    assert.deepEqual([rl.when('k'), rl.when('k'), rl.when('k')], [5, 10, 20]);
    for (let i = 0; i < 1000; i++) rl.when('k');
    assert.equal(rl.when('k'), 1_000_000);
  });
});

describe('BucketRateLimiter (fake clock)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: 0 }));
  afterEach(() => mock.timers.reset());

  it('lets a burst of 100 through, then spaces items 100 ms apart (10 qps)', () => {
    const rl = new BucketRateLimiter<string>(10, 100);
    const delays = Array.from({ length: 103 }, (_, i) => rl.when(`k${i}`));
    assert.ok(delays.slice(0, 100).every((d) => d === 0));
    assert.deepEqual(delays.slice(100).map(Math.round), [100, 200, 300]);
    mock.timers.tick(1000); // 10 tokens back, 3 of them already promised
    assert.equal(Math.round(rl.when('x')), 0);
  });

  it('property: by any time t no more than burst + qps·t items are let through', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 300 }),
        (qps, burst, gaps) => {
          mock.timers.setTime(0);
          const rl = new BucketRateLimiter<number>(qps, burst);
          const releases: number[] = [];
          for (const gap of gaps) {
            mock.timers.tick(gap);
            releases.push(Date.now() + rl.when(0));
          }
          releases.sort((a, b) => a - b);
          releases.forEach((at, i) => {
            assert.ok(i + 1 <= burst + (qps * at) / 1000 + 1e-6, `${i + 1} releases by ${at} ms`);
          });
        },
      ),
    );
  });
});

describe('MaxOfRateLimiter', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'], now: 0 }));
  afterEach(() => mock.timers.reset());

  it('the default controller limiter takes the larger of per-item backoff and the token bucket', () => {
    const rl = defaultControllerRateLimiter<string>();
    assert.equal(rl.when('a'), 5);
    assert.equal(rl.when('a'), 10);
    for (let i = 0; i < 98; i++) rl.when(`b${i}`);
    // The bucket is empty now: a fresh key waits for a token (100 ms) rather than its 5 ms backoff.
    assert.equal(Math.round(rl.when('c')), 100);
    assert.equal(rl.numRequeues('a'), 2);
    rl.forget('a');
    assert.equal(rl.numRequeues('a'), 0);
  });

  it('takes the maximum of its limiters', () => {
    const rl = new MaxOfRateLimiter<string>(
      new ItemExponentialFailureRateLimiter<string>(1, 1000),
      new ItemExponentialFailureRateLimiter<string>(3, 10),
    );
    assert.deepEqual([rl.when('k'), rl.when('k'), rl.when('k'), rl.when('k')], [3, 6, 10, 10]);
  });
});

describe('Backoff', () => {
  it('property: grows by the factor from the initial delay up to the cap, jitter adds at most its fraction', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1000, max: 60_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (initial, max, jitter, r) => {
          const b = new Backoff({ initialMs: initial, maxMs: max, jitter }, () => r);
          for (let i = 0; i < 30; i++) {
            const base = Math.min(max, initial * 2 ** i);
            assert.equal(b.next(), Math.min(max, base + base * jitter * r));
          }
          b.reset();
          assert.equal(b.next(), Math.min(max, initial + initial * jitter * r));
        },
      ),
    );
  });

  it('sleep resolves early and quietly when aborted', async () => {
    const ac = new AbortController();
    const slept = sleep(60_000, ac.signal);
    ac.abort();
    await slept;
    await sleep(1, ac.signal); // already aborted: immediate
  });

  it('linkedSignal aborts with the source that aborted, or on its deadline; released, it leaves the sources alone', async () => {
    const a = new AbortController();
    const b = new AbortController();
    const linked = linkedSignal([a.signal, b.signal], 60_000);
    b.abort(new Error('stopped'));
    assert.equal((linked.signal.reason as Error).message, 'stopped');
    assert.equal(getEventListeners(a.signal, 'abort').length, 0, 'aborting released it');

    const timed = linkedSignal([a.signal], 1);
    await new Promise((resolve) => timed.signal.addEventListener('abort', resolve));
    assert.equal((timed.signal.reason as DOMException).name, 'TimeoutError');

    const released = linkedSignal([a.signal], 60_000);
    released.release();
    assert.equal(getEventListeners(a.signal, 'abort').length, 0);
    a.abort();
    assert.equal(released.signal.aborted, false);
    assert.equal(linkedSignal([a.signal]).signal.aborted, true, 'an aborted source aborts it at once');
  });
});
