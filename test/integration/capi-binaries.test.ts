// The local mode's vCenter: hack/build-capi.sh's simulator serves the inventory CAPV clones from, to the one user it
// was given, and its vSphere client shows the VMs as a vSphere admin would see them.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { capiBinaries, type CAPIBinaries } from '../../src/local/capi-binaries.ts';
import { freePort } from '../../src/local/controlplane.ts';
import { patience, waitFor } from '../support/wait.ts';

function vms(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) =>
    execFile(bin, ['vms', ...args], { timeout: 120_000 }, (err, stdout, stderr) =>
      ok({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

describe('vCenter simulator', () => {
  let binaries: CAPIBinaries;
  // Built here if the test setup has not built it: about 10 minutes on 2 cores.
  before(async () => (binaries = await capiBinaries()), { timeout: patience(15 * 60_000) });

  it('serves the VPX inventory to its user over https; vms lists the VMs, SIGTERM stops it', async () => {
    const { bin, crdFiles, webhookFiles } = binaries;
    assert.ok(crdFiles.some((f) => f.endsWith('/ipam.cluster.x-k8s.io_ipaddressclaims.yaml')));
    assert.ok(crdFiles.some((f) => f.endsWith('/infrastructure.cluster.x-k8s.io_vspherevms.yaml')));
    assert.match(await readFile(webhookFiles.vsphere, 'utf8'), /kind: ValidatingWebhookConfiguration/);

    const dir = await mkdtemp(join(tmpdir(), 'vcsim-'));
    const port = await freePort();
    const urlFile = join(dir, 'url');
    const vcsim = spawn(
      bin,
      ['vcsim', '--listen', `127.0.0.1:${port}`, '--username', 'admin', '--password', 's3cret', '--url-file', urlFile],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    vcsim.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    vcsim.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    const exited = new Promise<number | null>((ok) => vcsim.once('exit', (code) => ok(code)));
    try {
      const url = await waitFor(() => readFile(urlFile, 'utf8').catch(() => undefined), {
        what: 'the simulator to write its URL',
        timeoutMs: 120_000,
      });
      assert.equal(url, `https://admin:s3cret@127.0.0.1:${port}/sdk\n`);
      assert.match(output, new RegExp(`^https://admin:s3cret@127\\.0\\.0\\.1:${port}/sdk$`, 'm'));

      const listed = await vms(bin, ['--url', url.trim(), '--insecure']);
      assert.equal(listed.code, 0, listed.stderr);
      const lines = listed.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.deepEqual(
        lines.map((l) => l.name),
        ['DC0_C0_RP0_VM0', 'DC0_C0_RP0_VM1', 'DC0_H0_VM0', 'DC0_H0_VM1'],
      );
      for (const vm of lines) {
        assert.deepEqual(Object.keys(vm).sort(), ['guestIP', 'metadataAddresses', 'name', 'powerState']);
        assert.equal(vm.powerState, 'poweredOn');
        assert.deepEqual(vm.metadataAddresses, []);
      }

      const wrongPassword = await vms(bin, ['--url', `https://admin:nope@127.0.0.1:${port}/sdk`, '--insecure']);
      assert.notEqual(wrongPassword.code, 0);
      assert.match(wrongPassword.stderr, /connecting to https:\/\/admin:xxxxx@127\.0\.0\.1:\d+\/sdk: .*login/i);
      const unverified = await vms(bin, ['--url', url.trim()]);
      assert.notEqual(unverified.code, 0, 'a self-signed certificate is refused without --insecure');
      assert.match(unverified.stderr, /certificate/);
    } finally {
      vcsim.kill('SIGTERM');
      assert.equal(await exited, 0, `vcsim stops cleanly on SIGTERM:\n${output}`);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
