// `cluster-ipam wapi-simulator`: the WAPI simulator (src/infoblox/simulator) as a command, for local trials of the
// ipam-infoblox provider and as a test peer of other WAPI clients.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readSeedFile, startWapiSimulator, type WapiSimulatorOptions } from '../infoblox/simulator/index.ts';
import { parseBindAddress } from '../runtime/server.ts';

const usage = `usage: cluster-ipam wapi-simulator --listen HOST:PORT --username U --password P [flags]

Serves a simulated Infoblox WAPI (the subset the ipam-infoblox provider uses) over HTTPS, with its state in memory,
until SIGINT or SIGTERM. Prints WAPI_URL=<url> and, when it knows the CA, WAPI_CA=<path of its PEM>.

flags:
  --listen HOST:PORT     where to listen, e.g. 127.0.0.1:8443, [::1]:8443, :8443 (all interfaces); port 0 picks one
  --username U           the account basic auth accepts (for /wapi/ and /_admin/)
  --password P
  --seed FILE            objects to create at start, YAML or JSON: the bodies of the POSTs that would create them,
                         by object type (networkview, view, network, ipv6network, networkcontainer, zone_auth,
                         record:host); see docs/infoblox-provider.md
  --tls-cert-dir DIR     serve DIR/tls.crt and DIR/tls.key (DIR/ca.crt, if there, is printed as the CA); without
                         it a CA and a serving certificate are made at start and the CA written to a temporary file
  --wapi-version V       the highest WAPI version served (default 2.12)
  --client-ca FILE       also accept client certificates this CA signed
  -h, --help

Admin endpoints (same credentials): GET /_admin/records (host records, request counters), GET|DELETE
/_admin/requests, GET|POST|DELETE /_admin/faults (fault injection).
`;

class UsageError extends Error {}

export interface SimulatorArgs {
  host: string;
  port: number;
  username: string;
  password: string;
  seed?: string;
  tlsCertDir?: string;
  wapiVersion: string;
  clientCA?: string;
}

/** Parses the flags; undefined for --help. Throws UsageError. */
export function parseSimulatorArgs(argv: string[]): SimulatorArgs | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string' },
        username: { type: 'string' },
        password: { type: 'string' },
        seed: { type: 'string' },
        'tls-cert-dir': { type: 'string' },
        'wapi-version': { type: 'string', default: '2.12' },
        'client-ca': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return undefined;
  for (const flag of ['listen', 'username', 'password'] as const) {
    if (!values[flag]) throw new UsageError(`--${flag} is required`);
  }
  let bind;
  try {
    bind = parseBindAddress(values.listen!);
  } catch (err) {
    throw new UsageError(`--listen: ${(err as Error).message}`);
  }
  if (!bind) throw new UsageError('--listen must be HOST:PORT');
  if (!/^[0-9]+\.[0-9]+(\.[0-9]+)?$/.test(values['wapi-version'])) {
    throw new UsageError('--wapi-version must be like 2.12');
  }
  return {
    host: bind.host ?? '0.0.0.0',
    port: bind.port,
    username: values.username!,
    password: values.password!,
    seed: values.seed,
    tlsCertDir: values['tls-cert-dir'],
    wapiVersion: values['wapi-version'],
    clientCA: values['client-ca'],
  };
}

async function readOptional(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
}

/** Where the command writes, and a signal that stops it like SIGTERM does (tests run it in-process). */
export interface CommandIO {
  stdout?: { write(s: string): unknown };
  stderr?: { write(s: string): unknown };
  stop?: AbortSignal;
}

export async function wapiSimulatorCommand(argv: string[], io: CommandIO = {}): Promise<number> {
  const { stdout = process.stdout, stderr = process.stderr, stop } = io;
  let args: SimulatorArgs | undefined;
  try {
    args = parseSimulatorArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    stderr.write(`cluster-ipam wapi-simulator: ${err.message}\n${usage}`);
    return 2;
  }
  if (!args) {
    stdout.write(usage);
    return 0;
  }
  const options: WapiSimulatorOptions = {
    host: args.host,
    port: args.port,
    username: args.username,
    password: args.password,
    wapiVersion: args.wapiVersion,
  };
  if (args.seed) options.seed = await readSeedFile(args.seed);
  if (args.clientCA) options.clientCAPem = await readFile(args.clientCA, 'utf8');
  let caPath: string | undefined;
  let tempDir: string | undefined;
  if (args.tlsCertDir) {
    const [certPem, keyPem] = await Promise.all(
      ['tls.crt', 'tls.key'].map((n) => readFile(join(args.tlsCertDir!, n), 'utf8')),
    );
    options.certificate = { certPem: certPem!, keyPem: keyPem! };
    if ((await readOptional(join(args.tlsCertDir, 'ca.crt'))) !== undefined) caPath = join(args.tlsCertDir, 'ca.crt');
  }
  const simulator = await startWapiSimulator(options);
  try {
    if (!args.tlsCertDir) {
      tempDir = await mkdtemp(join(tmpdir(), 'cluster-ipam-wapi-simulator-'));
      caPath = join(tempDir, 'ca.crt');
      await writeFile(caPath, simulator.caPem!);
    }
    stdout.write(`WAPI_URL=${simulator.wapiUrl}\n${caPath ? `WAPI_CA=${caPath}\n` : ''}`);
    stderr.write(`wapi-simulator: serving ${simulator.url}; admin endpoints under ${simulator.url}/_admin/\n`);
    await new Promise<void>((resolve) => {
      const done = () => {
        process.off('SIGINT', done);
        process.off('SIGTERM', done);
        resolve();
      };
      process.on('SIGINT', done);
      process.on('SIGTERM', done);
      stop?.addEventListener('abort', done, { once: true });
    });
    return 0;
  } finally {
    await simulator.close();
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  }
}
