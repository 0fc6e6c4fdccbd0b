// `cluster-ipam check` as users run it: on the examples and an undersized claim, each output format and exit code.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: root,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

interface Plan {
  problems: { severity: string; object: string; field: string; message: string }[];
  clusters: { cluster: string; machines: { machine: string; address: string }[] }[];
  pools: { pool: string; total: string; totalHuman: string }[];
}

describe('cluster-ipam check', () => {
  it('excludes the prod-vsphere endpoint from its nodes (a warning) and reports an undersized claim', async () => {
    const r = await cli(['check', '-f', 'examples/', '-f', 'test/fixtures/check/undersized.yaml', '-o', 'json']);
    assert.equal(r.code, 1, r.stderr);
    const plan = JSON.parse(r.stdout) as Plan;
    const errors = plan.problems.filter((p) => p.severity === 'error');
    const excluded = plan.problems.find((p) => p.object === 'ClusterDeployment default/prod-vsphere');
    assert.equal(excluded?.severity, 'warning', 'a hand-set endpoint inside the node network is excluded, as live');
    assert.equal(excluded.field, 'spec.config.controlPlaneEndpointIP');
    assert.match(excluded.message, /198\.51\.100\.5 is inside the node network; excluded from node addresses/);
    const prod = plan.clusters.find((c) => c.cluster === 'prod-vsphere')!;
    assert.equal(prod.machines[3]!.address, '198.51.100.6');
    assert.ok(prod.machines.every((m) => m.address !== '198.51.100.5'));
    const shortfall = errors.find((p) => p.object === 'ClusterDeployment default/small');
    assert.equal(shortfall?.field, 'spec.config');
    assert.match(shortfall.message, /6 addresses.*has 5 usable: 1 address missing/);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    const v6 = plan.pools.find((p) => p.pool === 'InClusterIPPool default/workload-nodes-v6')!;
    assert.equal(v6.totalHuman, '2^64-2');
    assert.equal(v6.total, (2n ** 64n - 2n).toString());
  });

  it('prints a table by default (no colour off a TTY) and YAML on request; exits 0 without errors', async () => {
    const table = await cli(['check', '-f', 'examples/option1-cidr']);
    assert.equal(table.code, 0, table.stdout);
    assert.match(table.stdout, /default\/dev-vsphere-1 +control-plane-0 +10\.0\.10\.2 /);
    assert.match(table.stdout, /no problems found/);
    assert.ok(!table.stdout.includes('\u001b['), 'no colour off a TTY');
    const yaml = await cli(['check', '-f', 'examples/option1-cidr', '-o', 'yaml']);
    assert.equal((parse(yaml.stdout) as Plan).clusters[0]!.machines.length, 5);
  });

  it('exits 2 on usage errors', async () => {
    assert.equal((await cli(['check'])).code, 2);
    assert.equal((await cli(['check', '-f', 'examples', '-o', 'xml'])).code, 2);
    assert.equal((await cli(['check', '-f', 'no/such/dir'])).code, 2);
    assert.equal((await cli(['status', '-o', 'xml'])).code, 2);
    assert.equal((await cli(['status', '--kubeconfig', 'no/such/kubeconfig'])).code, 2);
  });
});
