#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

// The `cluster-ipam` command. Each subcommand lives in its own module and is loaded only when used.
const usage = `usage: cluster-ipam <command> [flags]

commands:
  start        run the manager against the configured cluster; with none configured, \`local up\`
  run          run the controller manager against the current kubeconfig (or in-cluster config)
  local up     start a local control plane with the CRDs, the manager and the examples, show the example
               clusters' machines and stay until Ctrl-C; prints KUBECONFIG=<path> last (--detach: return once
               ready, it lives on; --bare: control plane and CRDs only, returns)
  local down   stop it
  check -f FILE|DIR
               check manifests offline and print their address plan (-o table|json|yaml)
  status       the pools, claims and machine addresses of the current cluster (-o table|json|yaml)
  wapi-simulator
               serve a simulated Infoblox WAPI over HTTPS (--listen, --username, --password; --help for more)

flags:
  --version    print the version
  -h, --help   print this help
`;

const startUsage = `usage: cluster-ipam start [flags]

With a cluster configured (KUBECONFIG, ~/.kube/config, or in a pod): \`cluster-ipam run\` against it.
With none: \`cluster-ipam local up\`, the local mode. The flags are theirs: see \`cluster-ipam run --help\` and
\`cluster-ipam local up --help\`.
`;

/** The package's version: package.json sits two levels up from both src/cli and dist/cli. */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function clusterConfigured(): boolean {
  return (
    Boolean(process.env.KUBECONFIG || process.env.KUBERNETES_SERVICE_HOST) ||
    existsSync(join(homedir(), '.kube/config'))
  );
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(startUsage);
        return 0;
      }
      return clusterConfigured() ? main(['run', ...rest]) : main(['local', 'up', ...rest]);
    case 'run':
      return (await import('./run.ts')).runCommand(rest);
    case 'local':
      return (await import('./local.ts')).localCommand(rest);
    case 'check':
      return (await import('./check.ts')).checkCommand(rest);
    case 'status':
      return (await import('./status.ts')).statusCommand(rest);
    case 'wapi-simulator':
      return (await import('./wapi-simulator.ts')).wapiSimulatorCommand(rest);
    case '--version':
    case 'version':
      process.stdout.write(`cluster-ipam ${version()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`cluster-ipam: unknown command "${command}"\n${usage}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`cluster-ipam: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
