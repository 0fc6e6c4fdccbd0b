// The hostile-input corpus (test/chaos/hostile/) on the test control plane, with the manager and the pools' webhook:
// every malformed or hostile manifest is refused naming the field, or answered by a condition naming the problem;
// the manager never stops serving, and a stream of well-formed machine claims keeps getting addresses meanwhile.
// The chaos suite runs the same corpus against a manager process of its own and measures its memory
// (test/chaos/hostile.ts).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { runCorpus, selectCases, type CorpusResult } from '../chaos/hostile/run-corpus.ts';
import { kubectl, testKubeconfig, ownControlPlane } from '../support/cluster.ts';
import { startManagerWithWebhook, type WebhookManager } from './ipam-support.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

const run = randomBytes(3).toString('hex');
const labelKey = 'cluster-ipam.test/hostile';
const configurationName = `cluster-ipam-hostile-${run}`;

let webhook: WebhookManager | undefined;
let crashed: unknown;
let result: CorpusResult | undefined;

before(async () => {
  webhook = await startManagerWithWebhook({ labelKey, run, configurationName, probeNamespace: 'hostile-probe' });
  const { manager } = webhook;
  manager.done.catch((err: unknown) => (crashed = err ?? new Error('stopped')));
  void manager.done.then(() => (crashed ??= new Error('the manager stopped by itself')));
  result = await runCorpus({
    kubeconfig: await testKubeconfig(),
    quick: true,
    concurrency: 4,
    poolLabels: { [labelKey]: run },
    managerProblem: async () => (crashed ? `the manager stopped: ${String(crashed)}` : undefined),
    log: (line) => console.log(line),
  });
  console.log(
    `# hostile input: ${result.cases.length} cases, ${result.cases.filter((c) => !c.ok).length} failed; ` +
      `well-formed claims meanwhile: ${result.stream.answered}/${result.stream.claims} answered, ` +
      `p50 ${result.stream.p50Ms} ms, p99 ${result.stream.p99Ms} ms, max ${result.stream.maxMs} ms`,
  );
  for (const s of result.stream.slowest) {
    const during = result.timeline.filter((t) => t.fromMs <= s.atMs + s.ms && t.toMs >= s.atMs).map((t) => t.name);
    console.log(`# slow well-formed claim: created at ${s.atMs} ms, ${s.ms} ms; cases running: ${during.join(' | ')}`);
  }
});

after(async () => {
  await webhook?.stop().catch(() => {});
  if (result) {
    await kubectl(['delete', 'namespace', result.namespace, `${result.namespace}-steady`, '--wait=false'], {
      check: false,
    });
  }
});

describe('hostile input', () => {
  it('has at least 60 cases', () => assert.ok(selectCases(true).length >= 60, String(selectCases(true).length)));

  for (const c of selectCases(true)) {
    it(`${c.group}: ${c.name}`, () => {
      const r = result?.cases.find((x) => x.name === c.name);
      assert.ok(r, 'the corpus did not run');
      assert.ok(r.ok, r.error);
    });
  }

  it('the manager kept running through all of it', () => {
    assert.deepEqual(result?.managerProblems, []);
    assert.equal(crashed, undefined);
  });

  it('well-formed claims were all served meanwhile', () => {
    const s = result!.stream;
    assert.ok(s.claims > 10, `only ${s.claims} well-formed claims were made`);
    // Every one answered; how fast is a figure the chaos suite prints (p99), not a bound a shared machine could trip.
    assert.equal(s.answered, s.claims, `${s.claims - s.answered} well-formed claims got no address`);
  });
});
