// The `run` flags the Helm chart sets: who owns the webhook configuration, and which controllers run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
