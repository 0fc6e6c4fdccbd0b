import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { loadClusterAccess } from './config.ts';

const context = `contexts:
- name: ctx
  context: {cluster: c, user: u, namespace: team-a}
current-context: ctx
`;

function kubeconfig(
  cluster: string,
  user = '    token: secret-token',
  dir = mkdtempSync(join(tmpdir(), 'kc-')),
): string {
  const path = join(dir, 'config');
  writeFileSync(
    path,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n${cluster}\nusers:\n- name: u\n  user:\n${user}\n${context}`,
  );
  return path;
}

const agentOf = async (file: string) => {
  const access = loadClusterAccess(file);
  const conn = await access.connection();
  access.close();
  return { conn, options: (conn.agent as https.Agent).options };
};

describe('loadClusterAccess', () => {
  const savedEnv = process.env.KUBECONFIG;
  afterEach(() => {
    if (savedEnv === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = savedEnv;
  });

  it('reads server, namespace and token; verifies TLS by default with a keep-alive agent', async () => {
    const access = loadClusterAccess(kubeconfig('    server: https://127.0.0.1:6443/'));
    assert.equal(access.server, 'https://127.0.0.1:6443');
    assert.equal(access.namespace, 'team-a');
    const conn = await access.connection();
    assert.equal(conn.headers.Authorization, 'Bearer secret-token');
    assert.ok(conn.agent instanceof https.Agent);
    assert.notEqual(conn.agent.options.rejectUnauthorized, false);
    assert.equal((conn.agent as https.Agent & { keepAlive: boolean }).keepAlive, true);
    assert.equal((await access.connection()).agent, conn.agent, 'one agent while the TLS material is unchanged');
    access.close();
  });

  it('turns verification off only when the kubeconfig says insecure-skip-tls-verify', async () => {
    const { options } = await agentOf(
      kubeconfig('    server: https://127.0.0.1:6443\n    insecure-skip-tls-verify: true'),
    );
    assert.equal(options.rejectUnauthorized, false);
  });

  it('reads CA, client certificate and key from files relative to the kubeconfig, and tls-server-name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    writeFileSync(join(dir, 'ca.pem'), 'CA');
    writeFileSync(join(dir, 'cert.pem'), 'CERT');
    const file = kubeconfig(
      '    server: https://10.0.0.1:6443\n    certificate-authority: ca.pem\n    tls-server-name: kubernetes',
      `    client-certificate: cert.pem\n    client-key-data: ${Buffer.from('KEY').toString('base64')}`,
      dir,
    );
    const { conn, options } = await agentOf(file);
    assert.equal(String(options.ca), 'CA');
    assert.equal(String(options.cert), 'CERT');
    assert.equal(String(options.key), 'KEY');
    assert.equal(options.servername, 'kubernetes');
    assert.equal(conn.headers.Authorization, undefined);
  });

  it('re-reads a token file once the credentials are invalidated (rotated tokens)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    writeFileSync(join(dir, 'token'), 'first\n');
    const access = loadClusterAccess(kubeconfig('    server: https://127.0.0.1:6443', '    tokenFile: token', dir));
    assert.equal((await access.connection()).headers.Authorization, 'Bearer first');
    writeFileSync(join(dir, 'token'), 'second\n');
    access.invalidate();
    assert.equal((await access.connection()).headers.Authorization, 'Bearer second');
    access.close();
  });

  it('sends basic auth when the user has a username and password', async () => {
    const { conn } = await agentOf(
      kubeconfig('    server: https://127.0.0.1:6443', '    username: admin\n    password: pw'),
    );
    assert.equal(conn.headers.Authorization, `Basic ${Buffer.from('admin:pw').toString('base64')}`);
  });

  it('merges a KUBECONFIG path list as kubectl does: the first current-context and the first entry of a name win', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    writeFileSync(join(dir, 'a'), 'current-context: ctx\nusers:\n- name: u\n  user: {token: from-a}\n');
    writeFileSync(
      join(dir, 'b'),
      `clusters:\n- name: c\n  cluster: {server: 'https://b:6443'}\nusers:\n- name: u\n  user: {token: from-b}\n${context.replace('current-context: ctx', 'current-context: other')}`,
    );
    process.env.KUBECONFIG = [join(dir, 'a'), join(dir, 'missing'), join(dir, 'b')].join(delimiter);
    const access = loadClusterAccess();
    assert.equal(access.server, 'https://b:6443');
    assert.equal((await access.connection()).headers.Authorization, 'Bearer from-a');
    access.close();
  });

  it('names what is missing: the current context, its cluster, the server', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    writeFileSync(join(dir, 'none'), 'clusters: []\n');
    assert.throws(() => loadClusterAccess(join(dir, 'none')), /no current-context/);
    writeFileSync(join(dir, 'ctx'), 'current-context: nope\n');
    assert.throws(() => loadClusterAccess(join(dir, 'ctx')), /context "nope" not found/);
    assert.throws(
      () => loadClusterAccess(kubeconfig('    insecure-skip-tls-verify: true')),
      /cluster "c" has no server/,
    );
  });

  it('runs an exec credential plugin through client-node', async () => {
    const credential = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: 'from-plugin' },
    });
    const exec = [
      '    exec:',
      '      apiVersion: client.authentication.k8s.io/v1',
      `      command: ${process.execPath}`,
      `      args: ['-e', ${JSON.stringify(`process.stdout.write(${JSON.stringify(credential)})`)}]`,
      '      interactiveMode: Never',
    ].join('\n');
    const { conn } = await agentOf(kubeconfig('    server: https://127.0.0.1:6443', exec));
    assert.equal(conn.headers.Authorization, 'Bearer from-plugin');
  });
});
