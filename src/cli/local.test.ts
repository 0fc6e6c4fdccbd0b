import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { elapsed, ProgressDisplay } from './local.ts';

function sink(isTTY: boolean) {
  const out = { isTTY, columns: 100, text: '', write: (s: string) => ((out.text += s), true) };
  return out;
}

const step = (step: string, at: number, detail?: string) => JSON.stringify({ step, detail, at });

describe('local up progress', () => {
  it('formats elapsed time', () => {
    assert.equal(elapsed(8_400), '8s');
    assert.equal(elapsed(72_000), '1m12s');
    assert.equal(elapsed(245_000), '4m05s');
  });

  it('rewrites one line on a TTY and keeps each finished step with its time', () => {
    let now = 0;
    const out = sink(true);
    const display = new ProgressDisplay(out as never, () => now);
    display.show(step('building the control plane: downloading modules', 0, '1: k8s.io/api v0.34.1'));
    now = 72_000;
    display.show(step('building the control plane: downloading modules', 0, '90: k8s.io/apiserver v0.34.1'));
    now = 75_000;
    display.show(step('starting etcd', 75_000));
    display.end();
    assert.ok(
      out.text.includes(
        '\r\x1b[Kbuilding the control plane: downloading modules: 90: k8s.io/apiserver v0.34.1 … 1m12s',
      ),
    );
    assert.ok(out.text.includes('\r\x1b[Kbuilding the control plane: downloading modules: 1m15s\n'));
    assert.ok(out.text.endsWith('\r\x1b[Kstarting etcd: 0s\n'));
  });

  it('fits the line to the terminal, taking 100 columns where the terminal says 0', () => {
    const out = sink(true);
    out.columns = 0;
    new ProgressDisplay(out as never, () => 5_000).show(step('starting etcd', 0, 'x'.repeat(200)));
    assert.equal(out.text, `\r\x1b[Kstarting etcd: ${'x'.repeat(83)}…`);
    const short = sink(true);
    new ProgressDisplay(short as never, () => 5_000).show(step('starting etcd', 0));
    assert.equal(short.text, '\r\x1b[Kstarting etcd … 5s');
  });

  it('prints a line per step and one every 15 s elsewhere', () => {
    let now = 0;
    const out = sink(false);
    const display = new ProgressDisplay(out as never, () => now);
    for (now = 0; now <= 40_000; now += 200) display.show(step('building the control plane: compiling', 0, 'x'));
    display.show(step('starting etcd', now));
    display.show('not json yet');
    assert.deepEqual(out.text.trim().split('\n'), [
      'building the control plane: compiling: x … 0s',
      'building the control plane: compiling: x … 15s',
      'building the control plane: compiling: x … 30s',
      'building the control plane: compiling: 40s',
      'starting etcd … 0s',
    ]);
  });
});
