// `--workers` sets every controller's concurrency, the IPAddressClaim controller's included; without it each
// controller runs its default (4, and 64 for IPAddressClaims). Read where an operator reads it: /metrics.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inClusterPoolController } from '../../src/controllers/inclusterpool.ts';
import { defaultClaimWorkers, ipAddressClaimController } from '../../src/controllers/ipaddressclaim.ts';
import { startTestManager } from '../support/manager.ts';
import { waitFor } from '../support/wait.ts';
import { freePort } from './in-cluster-support.ts';
import { ownControlPlane } from '../support/cluster.ts';

// Its managers serve every claim of their control plane: alone with them (test/support/cluster.ts).
ownControlPlane();

/** controller_runtime_max_concurrent_reconciles by controller, from a manager started with `workers`. */
async function concurrency(workers: number | undefined): Promise<Map<string, number>> {
  const port = await freePort();
  const manager = await startTestManager([ipAddressClaimController(), inClusterPoolController()], {
    workers,
    metricsBindAddress: `127.0.0.1:${port}`,
  });
  try {
    const text = await waitFor(
      () =>
        fetch(`http://127.0.0.1:${port}/metrics`).then(
          (r) => r.text(),
          () => undefined,
        ),
      { what: 'the metrics endpoint' },
    );
    const found = new Map<string, number>();
    for (const m of text.matchAll(/^controller_runtime_max_concurrent_reconciles\{controller="([^"]+)"\} (\d+)$/gm)) {
      found.set(m[1]!, Number(m[2]));
    }
    return found;
  } finally {
    await manager.stop();
  }
}

describe('--workers', () => {
  it('sets the concurrency of every controller, the claim controller included', async () => {
    const told = await concurrency(3);
    assert.equal(told.get('ipaddressclaim'), 3);
    assert.equal(told.get('inclusterippool'), 3);
    const defaults = await concurrency(undefined);
    assert.equal(defaults.get('ipaddressclaim'), defaultClaimWorkers);
    assert.equal(defaults.get('inclusterippool'), 4);
  });
});
