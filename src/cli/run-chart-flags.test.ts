// The `run` flags the Helm chart sets: who owns the webhook configuration, and which controllers run; and the time
// the chart gives the manager to stop.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { drainTimeoutMs } from '../runtime/index.ts';
import { parseRunArgs, runCommand } from './run.ts';

describe('cluster-ipam run flags for the chart', () => {
  it('reads --webhook-configuration none|register, absent unless given', () => {
    assert.equal(parseRunArgs([])?.webhookConfiguration, undefined);
    assert.ok(!('webhookConfiguration' in parseRunArgs([])!));
    assert.equal(parseRunArgs(['--webhook-configuration=none'])?.webhookConfiguration, 'none');
    assert.equal(parseRunArgs(['--webhook-configuration', 'register'])?.webhookConfiguration, 'register');
    assert.throws(() => parseRunArgs(['--webhook-configuration=maybe']), /none or register/);
  });

  it('reads --controllers as a list; empty runs none', () => {
    assert.ok(!('controllers' in parseRunArgs([])!));
    assert.deepEqual(parseRunArgs(['--controllers=ipaddressclaim,inclusterippool'])?.controllers, [
      'ipaddressclaim',
      'inclusterippool',
    ]);
    assert.deepEqual(parseRunArgs(['--controllers='])?.controllers, []);
  });

  it('reads --kcm auto|present|absent (default auto) and --take-over-from-reference-providers', () => {
    assert.equal(parseRunArgs([])?.kcm, 'auto');
    assert.equal(parseRunArgs(['--kcm=absent'])?.kcm, 'absent');
    assert.equal(parseRunArgs(['--kcm', 'present'])?.kcm, 'present');
    assert.throws(() => parseRunArgs(['--kcm=maybe']), /--kcm must be one of auto, present, absent/);
    assert.equal(parseRunArgs([])?.takeOverFromReferenceProviders, false);
    assert.equal(parseRunArgs(['--take-over-from-reference-providers'])?.takeOverFromReferenceProviders, true);
  });

  it('reads --default-infoblox-instance, else CLUSTER_IPAM_DEFAULT_INFOBLOX_INSTANCE', () => {
    const saved = process.env.CLUSTER_IPAM_DEFAULT_INFOBLOX_INSTANCE;
    try {
      delete process.env.CLUSTER_IPAM_DEFAULT_INFOBLOX_INSTANCE;
      assert.ok(!('defaultInfobloxInstance' in parseRunArgs([])!));
      assert.equal(parseRunArgs(['--default-infoblox-instance=ib-1'])?.defaultInfobloxInstance, 'ib-1');
      process.env.CLUSTER_IPAM_DEFAULT_INFOBLOX_INSTANCE = 'from-env';
      assert.equal(parseRunArgs([])?.defaultInfobloxInstance, 'from-env');
      assert.equal(parseRunArgs(['--default-infoblox-instance', 'ib-2'])?.defaultInfobloxInstance, 'ib-2');
    } finally {
      if (saved === undefined) delete process.env.CLUSTER_IPAM_DEFAULT_INFOBLOX_INSTANCE;
      else process.env.CLUSTER_IPAM_DEFAULT_INFOBLOX_INSTANCE = saved;
    }
  });

  it('reads --rediscovery-interval in seconds; 0 never looks again', () => {
    assert.equal(parseRunArgs([])?.rediscoveryIntervalMs, 30_000);
    assert.equal(parseRunArgs(['--rediscovery-interval=0'])?.rediscoveryIntervalMs, 0);
    assert.equal(parseRunArgs(['--rediscovery-interval', '2.5'])?.rediscoveryIntervalMs, 2500);
    assert.throws(() => parseRunArgs(['--rediscovery-interval=-1']), /0 or more/);
  });

  it('gives the manager longer to stop than its drain and lease release take', async () => {
    const deployment = await readFile(new URL('../../deploy/chart/templates/deployment.yaml', import.meta.url), 'utf8');
    const grace = Number(/terminationGracePeriodSeconds: (\d+)/.exec(deployment)?.[1]) * 1000;
    const renewDeadlineMs = parseRunArgs([])!.renewDeadlineMs!;
    assert.ok(
      grace >= drainTimeoutMs + renewDeadlineMs + 5_000,
      `terminationGracePeriodSeconds ${grace / 1000} s < drain ${drainTimeoutMs / 1000} s + lease release ${renewDeadlineMs / 1000} s + 5 s`,
    );
  });

  it('refuses an unknown controller name with exit code 2', async () => {
    const write = process.stderr.write;
    let err = '';
    process.stderr.write = ((chunk: string) => ((err += chunk), true)) as typeof process.stderr.write;
    try {
      assert.equal(
        await runCommand(['--controllers=ipaddressclaim,nope'], [{ name: 'ipaddressclaim', setup() {} }]),
        2,
      );
    } finally {
      process.stderr.write = write;
    }
    assert.match(err, /--controllers: unknown nope/);
  });
});
