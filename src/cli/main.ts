#!/usr/bin/env node
// The `cluster-ipam` command. Each subcommand lives in its own module and is loaded only when used.
const usage = `usage: cluster-ipam <command> [flags]

commands:
  run          run the controller manager against the current kubeconfig (or in-cluster config)
  local up     start a local control plane in the background; prints KUBECONFIG=<path> last
  local down   stop it
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return (await import('./run.ts')).runCommand(rest);
    case 'local':
      return (await import('./local.ts')).localCommand(rest);
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
