// `cluster-ipam check -f FILE|DIR ...`: the address plan of manifests, offline (src/ipam/plan.ts).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { planManifests, type AddressPlan, type Manifest } from '../ipam/plan.ts';
import { formatData, isOutputFormat, styleFor, table, type OutputFormat, type Style } from './output.ts';

const usage = `usage: cluster-ipam check -f FILE|DIR [-f ...] [-o table|json|yaml]

Checks manifests offline, with the rules the controllers apply: ClusterIPAMClaims, ClusterDeployments (ipamClaim ref
or inline), InClusterIPPools, GlobalInClusterIPPools and IPAddressClaims; capacity (control planes + workers + 1 for a
rolling update), overlaps within address domains, gateways, and a controlPlaneEndpointIP inside a node network (excluded from the
machines' addresses, as the live gate does; an error when another claim already holds it).
Prints the address plan: the address each machine, endpoint and IPAddressClaim gets, in the manifests' order.
Directories are read recursively (*.yaml, *.yml, *.json); other kinds are skipped.

exit codes: 0 no errors, 1 errors found, 2 usage or unreadable input
`;

/** Every manifest of the files, directories read recursively in name order. */
export function readManifests(paths: readonly string[]): Manifest[] {
  const out: Manifest[] = [];
  const visit = (path: string, explicit: boolean) => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path).sort()) visit(join(path, entry), false);
      return;
    }
    if (!explicit && !/\.(ya?ml|json)$/.test(path)) return;
    const docs = parseAllDocuments(readFileSync(path, 'utf8'));
    (Array.isArray(docs) ? docs : [docs]).forEach((doc, i) => {
      if (doc.errors.length > 0) throw new Error(`${path}: document ${i + 1}: ${doc.errors[0]!.message}`);
      const object = doc.toJS() as unknown;
      const items = isList(object) ? object.items : [object];
      for (const item of items) {
        if (item && typeof item === 'object' && typeof (item as { kind?: unknown }).kind === 'string') {
          out.push({ source: docs.length > 1 ? `${path}#${i + 1}` : path, object: item as Manifest['object'] });
        }
      }
    });
  };
  for (const p of paths) visit(p, true);
  return out;
}

const isList = (o: unknown): o is { items: unknown[] } =>
  !!o && typeof o === 'object' && Array.isArray((o as { items?: unknown }).items);

export function checkCommand(
  argv: string[],
  out: NodeJS.WriteStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): number {
  let values: { file?: string[]; output?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        file: { type: 'string', short: 'f', multiple: true },
        output: { type: 'string', short: 'o', default: 'table' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    err.write(`cluster-ipam check: ${(e as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    out.write(usage);
    return 0;
  }
  if (!values.file?.length || !isOutputFormat(values.output)) {
    err.write(
      `cluster-ipam check: ${values.file?.length ? `unknown output "${values.output}"` : '-f is required'}\n${usage}`,
    );
    return 2;
  }
  let manifests: Manifest[];
  try {
    manifests = readManifests(values.file);
  } catch (e) {
    err.write(`cluster-ipam check: ${(e as Error).message}\n`);
    return 2;
  }
  const plan = planManifests(manifests);
  out.write(renderPlan(plan, values.output, styleFor(out)));
  return plan.problems.some((p) => p.severity === 'error') ? 1 : 0;
}

export function renderPlan(plan: AddressPlan, format: OutputFormat, style: Style): string {
  if (format !== 'table') return formatData(plan, format);
  const parts: string[] = [];
  const machines = plan.clusters.flatMap((c) => [
    ...c.machines.map((m) => [`${c.namespace}/${c.cluster}`, m.machine, m.address ?? style.red('none free'), c.pool]),
    ...(c.endpoint
      ? [
          [
            `${c.namespace}/${c.cluster}`,
            'endpoint',
            c.endpoint.address,
            c.endpoint.from === 'config' ? 'spec.config' : c.endpoint.from,
          ],
        ]
      : []),
  ]);
  const claims = plan.claims.map((c) => [c.claim, 'IPAddressClaim', c.address ?? style.red('none free'), c.pool]);
  if (machines.length + claims.length > 0) {
    parts.push(table(['CLUSTER / CLAIM', 'MACHINE', 'ADDRESS', 'FROM'], [...machines, ...claims], style));
  }
  if (plan.pools.length > 0) {
    const rows = plan.pools.map((p) => [p.pool, p.addresses, p.totalHuman, p.used.toString(), p.freeHuman]);
    parts.push(table(['POOL', 'ADDRESSES', 'TOTAL', 'USED', 'FREE'], rows, style));
  }
  if (plan.problems.length > 0) {
    const rows = plan.problems.map((p) => [
      p.severity === 'error' ? style.red('error') : style.yellow('warning'),
      `${p.object} (${p.source})`,
      `${p.field}: ${p.message}`,
    ]);
    parts.push(table(['SEVERITY', 'OBJECT', 'PROBLEM'], rows, style));
  } else parts.push(`${style.green('no problems found')}\n`);
  return parts.join('\n');
}
