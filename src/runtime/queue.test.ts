import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import fc from 'fast-check';
import { WorkQueue, type QueueMetrics } from './queue.ts';
import { ItemExponentialFailureRateLimiter } from './ratelimiter.ts';

/** A queue without delays from the overall token bucket, so tests see only what they exercise. */
function queue<K>(metrics?: QueueMetrics): WorkQueue<K> {
  return new WorkQueue<K>({ rateLimiter: new ItemExponentialFailureRateLimiter<K>(5, 1_000_000), metrics });
}

async function yieldTimes(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

describe('WorkQueue', () => {
  it('hands keys out in FIFO order and de-duplicates waiting keys', async () => {
    const q = queue<string>();
    for (const k of ['a', 'b', 'a', 'c', 'b']) q.add(k);
    assert.equal(q.len(), 3);
    assert.deepEqual([await q.get(), await q.get(), await q.get()], ['a', 'b', 'c']);
  });

  it('re-queues once a key added while it was processing, and only after done', async () => {
    const q = queue<string>();
    q.add('a');
    const key = await q.get();
    q.add('a');
    q.add('a');
    assert.equal(q.len(), 0, 'a key being processed is not handed out again');
    q.done(key!);
    assert.equal(q.len(), 1);
    assert.equal(await q.get(), 'a');
  });

  it('wakes a waiting get when a key arrives', async () => {
    const q = queue<string>();
    const got = q.get();
    q.add('x');
    assert.equal(await got, 'x');
  });

  it('property: matches the dirty/processing model of client-go for any sequence of operations', () => {
    type Op = { op: 'add'; key: number } | { op: 'get' } | { op: 'done'; pick: number };
    const op = fc.oneof(
      fc.record({ op: fc.constant('add' as const), key: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ op: fc.constant('get' as const) }),
      fc.record({ op: fc.constant('done' as const), pick: fc.nat() }),
    );
    return fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 80 }), async (ops: Op[]) => {
        const q = queue<number>();
        const model = { queue: [] as number[], dirty: new Set<number>(), processing: new Set<number>() };
        for (const o of ops) {
          if (o.op === 'add') {
            q.add(o.key);
            if (!model.dirty.has(o.key)) {
              model.dirty.add(o.key);
              if (!model.processing.has(o.key)) model.queue.push(o.key);
            }
          } else if (o.op === 'get') {
            if (model.queue.length === 0) continue; // get would block
            const expected = model.queue.shift()!;
            assert.equal(await q.get(), expected);
            model.dirty.delete(expected);
            model.processing.add(expected);
          } else {
            const processing = [...model.processing];
            if (processing.length === 0) continue;
            const key = processing[o.pick % processing.length]!;
            q.done(key);
            model.processing.delete(key);
            if (model.dirty.has(key)) model.queue.push(key);
          }
          assert.equal(q.len(), model.queue.length);
          assert.equal(new Set(model.queue).size, model.queue.length, 'a key waits at most once');
        }
      }),
    );
  });

  it('property: concurrent workers never hold the same key and every add is processed after it', () => {
    return fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 4 })), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 20 }),
        async (workers, adds, workYields) => {
          const q = queue<number>();
          const inFlight = new Set<number>();
          let clock = 0;
          const lastAdd = new Map<number, number>();
          const lastStart = new Map<number, number>();
          let n = 0;
          const worker = async () => {
            for (let key = await q.get(); key !== undefined; key = await q.get()) {
              assert.ok(!inFlight.has(key), `key ${key} handed to two workers`);
              inFlight.add(key);
              lastStart.set(key, ++clock);
              await yieldTimes(workYields[n++ % workYields.length]!);
              inFlight.delete(key);
              q.done(key);
            }
          };
          const running = Array.from({ length: workers }, worker);
          for (const [key, pause] of adds) {
            lastAdd.set(key, ++clock);
            q.add(key);
            await yieldTimes(pause);
          }
          // Let the workers finish what is queued, then stop them.
          while (q.len() > 0 || inFlight.size > 0) await yieldTimes(1);
          await q.shutDownWithDrain();
          await Promise.all(running);
          for (const [key, added] of lastAdd) {
            assert.ok((lastStart.get(key) ?? 0) > added, `key ${key} added at ${added} was not processed after`);
          }
        },
      ),
    );
  });

  it('shutDownWithDrain waits for keys in flight, then get returns undefined and adds are ignored', async () => {
    const q = queue<string>();
    q.add('a');
    q.add('b');
    const key = await q.get();
    let drained = false;
    const drain = q.shutDownWithDrain().then(() => (drained = true));
    await yieldTimes(5);
    assert.equal(drained, false);
    assert.equal(await q.get(), undefined, 'nothing more is handed out after shutdown');
    q.add('c');
    assert.equal(q.len(), 1, 'only b, queued before the shutdown, remains');
    q.done(key!);
    await drain;
    assert.equal(drained, true);
  });

  it('shutdown wakes every blocked get', async () => {
    const q = queue<string>();
    const gets = [q.get(), q.get(), q.get()];
    q.shutDown();
    assert.deepEqual(await Promise.all(gets), [undefined, undefined, undefined]);
  });

  it('reports metrics like client-go (adds, depth, retries, latencies)', async () => {
    const seen = { added: 0, depth: [] as number[], queued: 0, worked: 0, retried: 0 };
    const q = queue<string>({
      added: () => seen.added++,
      depth: (n) => seen.depth.push(n),
      queued: () => seen.queued++,
      worked: () => seen.worked++,
      retried: () => seen.retried++,
    });
    q.add('a');
    q.add('a');
    q.add('b');
    const a = await q.get();
    q.done(a!);
    q.addAfter('c', 0);
    assert.equal(seen.added, 3, 'a, b, c (the duplicate a is not counted)');
    assert.deepEqual(seen.depth, [1, 2, 1, 2]);
    assert.equal(seen.queued, 1);
    assert.equal(seen.worked, 1);
    assert.equal(seen.retried, 1);
  });
});

describe('WorkQueue delays (fake timers)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  it('addAfter adds when the time comes, and an earlier time for the same key wins', () => {
    const q = queue<string>();
    q.addAfter('a', 100);
    q.addAfter('b', 50);
    q.addAfter('a', 30);
    q.addAfter('b', 500);
    mock.timers.tick(29);
    assert.equal(q.len(), 0);
    mock.timers.tick(1);
    assert.equal(q.len(), 1);
    mock.timers.tick(20);
    assert.equal(q.len(), 2);
    mock.timers.tick(1000);
    assert.equal(q.len(), 2, 'the later times of a and b were superseded');
  });

  it('addRateLimited backs off per key: 5, 10, 20 ms ... and forget resets', async () => {
    const q = queue<string>();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const before = Date.now();
      q.addRateLimited('k');
      let waited = 0;
      while (q.len() === 0) {
        mock.timers.tick(1);
        waited++;
      }
      delays.push(waited);
      q.done((await q.get())!);
      assert.equal(Date.now() - before, waited);
    }
    assert.deepEqual(delays, [5, 10, 20, 40]);
    assert.equal(q.numRequeues('k'), 4);
    q.forget('k');
    assert.equal(q.numRequeues('k'), 0);
  });

  it('shutdown cancels pending delayed adds', () => {
    const q = queue<string>();
    q.addAfter('a', 10);
    q.shutDown();
    mock.timers.tick(100);
    assert.equal(q.len(), 0);
  });

  it('property: random delayed adds come out exactly when due', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 1000 })), { maxLength: 200 }),
        (adds) => {
          const q = queue<number>();
          const due = new Map<number, number>();
          for (const [key, ms] of adds) {
            q.addAfter(key, ms);
            due.set(key, Math.min(due.get(key) ?? Infinity, ms));
          }
          for (let t = 1; t <= 1000; t++) {
            mock.timers.tick(1);
            const expected = [...due.values()].filter((d) => d <= t).length;
            assert.equal(q.len(), expected, `at ${t} ms`);
          }
        },
      ),
      { numRuns: 20 },
    );
  });
});
