import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../kube/index.ts';
import { silentLogger } from '../runtime/index.ts';
import { UsageError, discoverPatiently, parseDuration, parseRunArgs } from './run.ts';

describe('cluster-ipam run flags', () => {
  it('has controller-runtime-like defaults', () => {
    assert.deepEqual(parseRunArgs([]), {
      kubeconfig: undefined,
      namespace: 'cluster-ipam-system',
      leaderElect: true,
      leaderElectionId: 'cluster-ipam-leader',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      metricsBindAddress: ':8080',
      healthProbeBindAddress: ':8081',
      logLevel: 'info',
      webhookBindAddress: ':9443',
      webhookService: undefined,
      webhookUrl: undefined,
      webhookCertDir: undefined,
      kcm: 'auto',
      takeOverFromReferenceProviders: false,
      rediscoveryIntervalMs: 30_000,
    });
  });

  it('reads the lease timings as Go durations and refuses an order in which a leader could not renew', () => {
    const opts = parseRunArgs([
      '--leader-elect-lease-duration=6s',
      '--leader-elect-renew-deadline',
      '4s',
      '--leader-elect-retry-period=500ms',
    ]);
    assert.deepEqual([opts?.leaseDurationMs, opts?.renewDeadlineMs, opts?.retryPeriodMs], [6000, 4000, 500]);
    assert.throws(() => parseRunArgs(['--leader-elect-lease-duration=5s']), /lease-duration must be longer than/);
    assert.throws(() => parseRunArgs(['--leader-elect-retry-period=fast']), /--leader-elect-retry-period must be/);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('15'), undefined);
    assert.equal(parseDuration('15s junk'), undefined);
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

  it('reads the webhook flags', () => {
    const inCluster = parseRunArgs([
      '--webhook-service',
      'ipam-system/cluster-ipam-webhook',
      '--webhook-cert-dir=/certs',
    ]);
    assert.deepEqual(inCluster?.webhookService, { namespace: 'ipam-system', name: 'cluster-ipam-webhook' });
    assert.equal(inCluster?.webhookBindAddress, ':9443');
    assert.equal(inCluster?.webhookCertDir, '/certs');
    assert.equal(inCluster?.webhookUrl, undefined);
    const local = parseRunArgs(['--webhook-bind-address=127.0.0.1:9444', '--webhook-url', 'https://127.0.0.1:9444']);
    assert.equal(local?.webhookBindAddress, '127.0.0.1:9444');
    assert.equal(local?.webhookUrl, 'https://127.0.0.1:9444/validate-ipam-cluster-x-k8s-io-v1alpha2-pools');
    assert.equal(
      parseRunArgs(['--webhook-url=https://h.example:8443/custom'])?.webhookUrl,
      'https://h.example:8443/custom',
    );
    assert.equal(parseRunArgs(['--webhook-bind-address', '0'])?.webhookBindAddress, '0');
  });

  it('serves the address-plan page only with --ui-bind-address', () => {
    assert.equal(parseRunArgs([])?.uiBindAddress, undefined);
    assert.equal(parseRunArgs(['--ui-bind-address', '0'])?.uiBindAddress, undefined);
    assert.equal(parseRunArgs(['--ui-bind-address=127.0.0.1:8082'])?.uiBindAddress, '127.0.0.1:8082');
    assert.throws(() => parseRunArgs(['--ui-bind-address', 'nope']), UsageError);
  });

  it('names the webhook flag at fault', () => {
    for (const [args, flag] of [
      [['--webhook-bind-address', '9443'], '--webhook-bind-address'],
      [['--webhook-service', 'just-a-name'], '--webhook-service'],
      [['--webhook-service', 'a/b/c'], '--webhook-service'],
      [['--webhook-url', 'not a url'], '--webhook-url'],
      [['--webhook-url', 'http://127.0.0.1:9443'], '--webhook-url'],
      [['--webhook-url=https://h:1', '--webhook-service=a/b'], '--webhook-service'],
      [['--webhook-bind-address=0', '--webhook-service=a/b'], '--webhook-bind-address'],
      [['--webhook-cert-dir'], '--webhook-cert-dir'],
    ] as const) {
      assert.throws(
        () => parseRunArgs([...args]),
        (err: Error) => err instanceof UsageError && err.message.includes(flag),
        args.join(' '),
      );
    }
  });
});

describe('discovery at start', () => {
  const never = new AbortController().signal;
  const apiError = (status: number) => new ApiError(status, { kind: 'Status', code: status, message: 'x' }, 'GET /x');

  it('retries while the API server cannot be reached or answers 5xx/429, then goes on', async () => {
    const failures: unknown[] = [
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      apiError(503),
      apiError(429),
    ];
    let calls = 0;
    const got = await discoverPatiently(
      async () => {
        calls++;
        if (failures.length) throw failures.shift();
        return 'discovered';
      },
      silentLogger,
      never,
      { initialMs: 5 },
    );
    assert.equal(got, 'discovered');
    assert.equal(calls, 4);
  });

  it('fails at once on a refusal, and after its patience on a fault that lasts', async () => {
    let calls = 0;
    await assert.rejects(
      discoverPatiently(() => (calls++, Promise.reject(apiError(403))), silentLogger, never),
      (err: unknown) => err instanceof ApiError && err.statusCode === 403,
    );
    assert.equal(calls, 1);
    await assert.rejects(
      discoverPatiently(() => Promise.reject(new Error('connect ECONNREFUSED')), silentLogger, never, {
        patienceMs: 0,
      }),
      /ECONNREFUSED/,
    );
  });
});
