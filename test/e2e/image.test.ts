// The OCI image that hack/build-image.sh builds, checked without a container runtime: umoci unpacks its layers and
// unshare runs its entrypoint in the unpacked root filesystem (own mount, pid and network namespaces, a fresh /proc)
// as the image's user, with the image's environment and working directory only. The build is reused while its
// inputs are unchanged (build/image/<arch>/key); the Debian root filesystem and Node.js are cached in
// ~/.cache/cluster-ipam/. Needs root and Debian's mmdebstrap and umoci, which npm test installs (scripts/test-setup.sh).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: repo, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr: err && code === null ? `${stderr}\n${err.message}` : stderr });
      },
    );
  });
}

interface ImageConfig {
  architecture: string;
  os: string;
  config: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[];
    Cmd?: string[];
    WorkingDir?: string;
    Labels?: Record<string, string>;
  };
}

/** The config of `<layout>:<tag>`, read from the OCI layout as a runtime would. */
async function imageConfig(layout: string, tag: string): Promise<ImageConfig> {
  const blob = async (digest: string) =>
    JSON.parse(await readFile(join(layout, 'blobs', ...digest.split(':')), 'utf8')) as Record<string, unknown>;
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  assert.ok(desc, `no manifest tagged ${tag} in ${layout}/index.json`);
  const manifest = (await blob(desc.digest)) as { config: { digest: string } };
  return (await blob(manifest.config.digest)) as unknown as ImageConfig;
}

let work = '';
let rootfs = '';
let config: ImageConfig;
let home = '/';

/** Runs the image as `docker run IMAGE ...args` would: the entrypoint with args in place of Cmd. */
function runImage(args: string[], entrypoint = config.config.Entrypoint ?? []): Promise<Result> {
  const [uid, gid = uid] = (config.config.User ?? '').split(':');
  const env = Object.fromEntries(
    (config.config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  );
  // As runtimes do, HOME comes from the image's /etc/passwd when the image does not set it.
  env.HOME ??= home;
  return run(
    'unshare',
    [
      '--mount',
      '--pid',
      '--net',
      '--uts',
      '--ipc',
      '--fork',
      '--kill-child',
      '--mount-proc=/proc',
      `--root=${rootfs}`,
      `--wd=${config.config.WorkingDir || '/'}`,
      `--setgid=${gid}`,
      `--setuid=${uid}`,
      '--',
      ...entrypoint,
      ...args,
    ],
    { env },
  );
}

describe('the image built by hack/build-image.sh', () => {
  before(async () => {
    const missing = ['mmdebstrap', 'umoci', 'unshare'].filter(
      (tool) => !process.env.PATH?.split(':').some((dir) => existsSync(join(dir, tool))),
    );
    assert.deepEqual(
      missing,
      [],
      `the image test needs Debian's mmdebstrap and umoci (and util-linux's unshare): ` +
        `apt-get install -y --no-install-recommends mmdebstrap umoci (npm test installs them: scripts/test-setup.sh)`,
    );
    assert.equal(process.getuid?.(), 0, 'the image test runs as root (mmdebstrap --mode=root, unshare --root)');

    const started = Date.now();
    const build = await run('bash', ['hack/build-image.sh'], { timeoutMs: 15 * 60_000 });
    assert.equal(build.code, 0, `hack/build-image.sh failed:\n${build.stderr}`);
    const ref = build.stdout.trim().split('\n').at(-1) ?? '';
    process.stderr.write(`image ${ref} ready in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
    const colon = ref.lastIndexOf(':');
    const [layout, tag] = [ref.slice(0, colon), ref.slice(colon + 1)];
    assert.equal(tag, pkg.version, 'the image is tagged with the package version');
    config = await imageConfig(layout, tag);

    work = await mkdtemp(join(tmpdir(), 'cluster-ipam-image-test-'));
    rootfs = join(work, 'rootfs');
    const unpack = await run('umoci', ['raw', 'unpack', '--image', ref, rootfs]);
    assert.equal(unpack.code, 0, `umoci raw unpack failed:\n${unpack.stderr}`);
    const uid = (config.config.User ?? '').split(':')[0];
    const passwd = (await readFile(join(rootfs, 'etc/passwd'), 'utf8')).split('\n').map((l) => l.split(':'));
    home = passwd.find((f) => f[2] === uid)?.[5] ?? '/';
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('runs node (with its memory flags) /app/dist/cli/main.js as uid 65532 with the manager as its default command', () => {
    const c = config.config;
    assert.equal(c.User, '65532:65532');
    assert.deepEqual(c.Entrypoint, [
      'node',
      '--max-semi-space-size=8',
      '--heap-growing-percent=50',
      '/app/dist/cli/main.js',
    ]);
    assert.deepEqual(c.Cmd, ['run']);
    assert.equal(c.WorkingDir, '/app');
    assert.ok(c.Env?.includes('NODE_ENV=production'), `Env: ${c.Env}`);
    assert.equal(config.os, 'linux');
    assert.equal(config.architecture, process.arch === 'x64' ? 'amd64' : process.arch);
  });

  it('carries the OCI labels of this version', () => {
    const labels = config.config.Labels ?? {};
    assert.equal(labels['org.opencontainers.image.title'], 'cluster-ipam');
    assert.equal(labels['org.opencontainers.image.version'], pkg.version);
    assert.equal(labels['org.opencontainers.image.licenses'], pkg.license);
    assert.ok(labels['org.opencontainers.image.description']);
  });

  it('holds the production dependencies of the lockfile and none of the development ones', async () => {
    const lock = JSON.parse(await readFile(join(repo, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean }>;
    };
    const app = join(rootfs, 'app');
    const present: string[] = [];
    const absent: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (!path) continue;
      const there = existsSync(join(app, path, 'package.json'));
      if (entry.dev && there) present.push(path);
      if (!entry.dev && !entry.optional && !there) absent.push(path);
    }
    assert.deepEqual(present, [], 'development dependencies in the image');
    assert.deepEqual(absent, [], 'production dependencies missing from the image');
    for (const name of ['typescript', 'eslint', 'tsx', 'prettier']) {
      assert.ok(!existsSync(join(app, 'node_modules', name)), `${name} is in the image`);
    }
    for (const name of Object.keys(pkg.dependencies)) {
      assert.ok(existsSync(join(app, 'node_modules', name, 'package.json')), `${name} is not in the image`);
    }
  });

  it('holds the compiled application without tests or sources, read-only for its user', async () => {
    const app = join(rootfs, 'app');
    assert.ok(existsSync(join(app, 'dist/cli/main.js')));
    const files = await readdir(join(app, 'dist'), { recursive: true });
    assert.deepEqual(
      files.filter((f) => f.endsWith('.test.js') || f.endsWith('.ts')),
      [],
      'tests or TypeScript sources in /app/dist',
    );
    const writable: string[] = [];
    for (const f of ['.', ...(await readdir(app, { recursive: true }))]) {
      const st = await lstat(join(app, f));
      if (st.uid !== 0 || (!st.isSymbolicLink() && st.mode & 0o022)) writable.push(f);
    }
    assert.deepEqual(writable.slice(0, 10), [], 'files under /app the image user could change');
  });

  it('prints the command usage', async () => {
    const r = await runImage(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^usage: cluster-ipam <command> \[flags\]/);
    assert.match(r.stdout, /^ {2}run {2,}run the controller manager/m);
  });

  it('prints the flags of `run`, loading the manager and its production dependencies', async () => {
    const r = await runImage(['run', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^usage: cluster-ipam run \[flags\]/);
    assert.match(r.stdout, /--leader-elect/);
    assert.equal(r.stderr, '');
  });

  it('refuses an unknown command with exit code 2', async () => {
    const r = await runImage(['no-such-command']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "no-such-command"/);
  });

  it('runs the Node.js version of the Dockerfile, as the image user', async () => {
    const dockerfile = await readFile(join(repo, 'Dockerfile'), 'utf8');
    const nodeVersion = /^ARG NODE_VERSION=(\S+)/m.exec(dockerfile)?.[1];
    assert.ok(nodeVersion, 'Dockerfile: ARG NODE_VERSION=');
    const r = await runImage(
      ['-p', 'JSON.stringify([process.version, process.getuid(), process.getgid(), require("os").homedir()])'],
      ['node'],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [`v${nodeVersion}`, 65532, 65532, '/home/nonroot']);
  });

  it('is the image the Dockerfile describes: version, user, entrypoint and command', async () => {
    const dockerfile = await readFile(join(repo, 'Dockerfile'), 'utf8');
    const line = (re: RegExp) => re.exec(dockerfile)?.[1];
    assert.equal(line(/^ARG VERSION=(\S+)/m), pkg.version, 'Dockerfile ARG VERSION');
    assert.equal(line(/^USER (\S+)/m), config.config.User);
    assert.deepEqual(JSON.parse(line(/^ENTRYPOINT (.+)$/m) ?? 'null'), config.config.Entrypoint);
    assert.deepEqual(JSON.parse(line(/^CMD (.+)$/m) ?? 'null'), config.config.Cmd);
  });

  it('prints the package version with --version', async () => {
    const r = await runImage(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`\\b${pkg.version.replaceAll('.', '\\.')}\\b`));
  });
});
