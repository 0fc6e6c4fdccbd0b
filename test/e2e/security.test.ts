// The security part of the chaos suite (test/chaos/security.ts), as a fast test: the manager under the Helm chart's
// ServiceAccount alone serves claims of both providers, no credential appears in its logs (debug level), Events,
// objects or /metrics, and TLS towards Infoblox is verified by default and refuses a wrong CA.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { run } from '../chaos/security.ts';

describe('security', () => {
  it('chart permissions only, no credential anywhere a user can read, TLS verified towards Infoblox', async () => {
    const result = await run({ quick: true });
    assert.ok(result.passed, result.notes.join('\n'));
    assert.match(result.notes.join('\n'), /: 0 found/);
  });
});
