import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError, parseRunArgs } from './run.ts';

describe('cluster-ipam run flags', () => {
  it('has controller-runtime-like defaults', () => {
    assert.deepEqual(parseRunArgs([]), {
      kubeconfig: undefined,
      namespace: 'cluster-ipam-system',
      leaderElect: true,
      leaderElectionId: 'cluster-ipam-leader',
      metricsBindAddress: ':8080',
      healthProbeBindAddress: ':8081',
      workers: 4,
      logLevel: 'info',
    });
  });

  it('reads Go-style flags, including --leader-elect=false and a bare --leader-elect', () => {
    const opts = parseRunArgs([
      '--kubeconfig',
      '/tmp/kc',
      '--namespace=ipam',
      '--leader-elect=false',
      '--leader-election-id',
      'lease-x',
      '--metrics-bind-address=0',
      '--health-probe-bind-address',
      '127.0.0.1:0',
      '--workers',
      '8',
      '--log-level=debug',
    ]);
    assert.equal(opts?.kubeconfig, '/tmp/kc');
    assert.equal(opts?.namespace, 'ipam');
    assert.equal(opts?.leaderElect, false);
    assert.equal(opts?.leaderElectionId, 'lease-x');
    assert.equal(opts?.metricsBindAddress, '0');
    assert.equal(opts?.healthProbeBindAddress, '127.0.0.1:0');
    assert.equal(opts?.workers, 8);
    assert.equal(opts?.logLevel, 'debug');
    assert.equal(parseRunArgs(['--leader-elect'])?.leaderElect, true);
    assert.equal(parseRunArgs(['--leader-elect', 'false'])?.leaderElect, false);
    assert.equal(parseRunArgs(['--help']), undefined);
  });

  it('rejects bad input with a usage error', () => {
    for (const args of [
      ['--workers', '0'],
      ['--workers', 'x'],
      ['--leader-elect=maybe'],
      ['--log-level', 'loud'],
      ['--metrics-bind-address', '8080'],
      ['--unknown'],
      ['positional'],
    ]) {
      assert.throws(() => parseRunArgs(args), UsageError, args.join(' '));
    }
  });
});
