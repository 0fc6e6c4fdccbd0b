import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const bin = new URL('../../bin/cluster-ipam.mjs', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The command as npm links it (bin/cluster-ipam.mjs), with its exit code. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('cluster-ipam', () => {
  it('prints its version, and exits 2 on a usage error', async () => {
    assert.deepEqual(await cli(['--version']), { code: 0, stdout: `cluster-ipam ${pkg.version}\n`, stderr: '' });
    const unknown = await cli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    const help = await cli(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--version/);
  });

  it('answers --help with its own usage, exit 0, for every command and sub-command', async () => {
    const commands = [
      ['start'],
      ['run'],
      ['local'],
      ['local', 'up'],
      ['local', 'down'],
      ['check'],
      ['status'],
      ['wapi-simulator'],
    ];
    for (const command of commands) {
      for (const flag of ['--help', '-h']) {
        const out = await cli([...command, flag]);
        assert.equal(out.code, 0, `${command.join(' ')} ${flag}: ${out.stderr}`);
        const usage = `usage: cluster-ipam ${command.join(' ')}${command.length === 1 && command[0] === 'local' ? ' <up|down>' : ''}`;
        assert.ok(out.stdout.startsWith(usage), `${command.join(' ')} ${flag} prints its usage: ${out.stdout}`);
      }
    }
    const wrong = await cli(['local', 'up', '--frob']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /Unknown option '--frob'/);
  });
});
