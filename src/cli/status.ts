// `cluster-ipam status`: the address plan as it stands in a live cluster — pools with their counts (exact, however
// big), ClusterIPAMClaims and ClusterDeployments bound or why not, and every IPAddress with its holder.
import { parseArgs } from 'node:util';
import {
  ClusterDeployments,
  ClusterIPAMClaims,
  GlobalInClusterIPPools,
  InClusterIPPools,
  IPAddresses,
  type Condition,
} from '../api/index.ts';
import { humanCount, validatePool } from '../core/index.ts';
import { isNotFound, KubeClient, type KubeObject, type ResourceType } from '../kube/index.ts';
import { formatData, isOutputFormat, styleFor, table, type OutputFormat, type Style } from './output.ts';

const usage = `usage: cluster-ipam status [--kubeconfig PATH] [-n NAMESPACE] [-o table|json|yaml]

The pools (total, used, free: exact counts, 2^64-1 for an IPv6 /64), the ClusterIPAMClaims and ClusterDeployments
(bound, or why not) and the addresses handed out, from the cluster of the kubeconfig (default: $KUBECONFIG,
in-cluster, ~/.kube/config). All namespaces unless -n is given.

exit codes: 0 all bound and ready, 1 something is not, 2 usage or the cluster cannot be read
`;

export interface Status {
  readonly pools: readonly {
    pool: string;
    addresses: string;
    total: string;
    totalHuman: string;
    used: number | undefined;
    free: string;
    freeHuman: string;
    ready: string;
  }[];
  readonly claims: readonly { claim: string; bound: boolean; reason: string; message: string }[];
  readonly clusters: readonly { cluster: string; claim: string; ipamReady: string; reason: string; message: string }[];
  readonly addresses: readonly { claim: string; address: string; pool: string }[];
}

type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

const conditionOf = (o: Obj, type: string): Condition | undefined =>
  (o.status?.conditions as Condition[] | undefined)?.find((c) => c.type === type);
const at = (o: Obj) => `${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/** Reads what exists; ClusterDeployments are optional (no k0rdent installed). */
export async function readStatus(client: KubeClient, namespace?: string): Promise<Status> {
  const list = async (type: ResourceType<KubeObject>, optional = false): Promise<Obj[]> => {
    try {
      return (await client.resource(type).listAll(type.namespaced ? { namespace } : {})).items as Obj[];
    } catch (err) {
      if (optional && isNotFound(err)) return [];
      throw err;
    }
  };
  const [local, global, claims, deployments, addresses] = await Promise.all([
    list(InClusterIPPools as ResourceType<KubeObject>),
    namespace ? Promise.resolve([]) : list(GlobalInClusterIPPools as ResourceType<KubeObject>),
    list(ClusterIPAMClaims as ResourceType<KubeObject>, true),
    list(ClusterDeployments as ResourceType<KubeObject>, true),
    list(IPAddresses as ResourceType<KubeObject>),
  ]);
  const pools = [...global, ...local].map((p) => {
    const counts = (p.status?.ipAddresses ?? {}) as Record<string, unknown>;
    // Before the manager has written exact counts, they come from the spec, as the pool reconciler computes them.
    const usable = validatePool(p.spec as never).pool?.usable.size;
    const total =
      typeof counts.totalHuman === 'string' ? counts.totalHuman : usable === undefined ? '' : humanCount(usable);
    const used = typeof counts.used === 'number' ? counts.used : undefined;
    const free =
      typeof counts.freeHuman === 'string'
        ? counts.freeHuman
        : usable !== undefined && used !== undefined
          ? humanCount(usable - BigInt(used))
          : '';
    const ready = conditionOf(p, 'Ready');
    return {
      pool: `${p.kind} ${at(p)}`,
      addresses: ((p.spec?.addresses as string[] | undefined) ?? []).join(','),
      total: usable === undefined ? '' : usable.toString(),
      totalHuman: total,
      used,
      free: usable !== undefined && used !== undefined ? (usable - BigInt(used)).toString() : '',
      freeHuman: free,
      ready: ready ? `${ready.status} ${ready.reason}` : 'Unknown',
    };
  });
  return {
    pools,
    claims: claims.map((c) => {
      const ready = conditionOf(c, 'Ready');
      return {
        claim: at(c),
        bound: c.status?.bound === true,
        reason: ready?.reason ?? '',
        message: ready?.message ?? '',
      };
    }),
    clusters: deployments
      .filter((d) => d.spec?.ipamClaim)
      .map((d) => {
        const ipam = d.spec!.ipamClaim as { ref?: string };
        const c = conditionOf(d, 'IPAMReady');
        return {
          cluster: at(d),
          claim: ipam.ref ?? '',
          ipamReady: c?.status ?? 'Unknown',
          reason: c?.reason ?? '',
          message: c?.message ?? '',
        };
      }),
    addresses: addresses.map((a) => {
      const spec = a.spec as {
        address?: string;
        claimRef?: { name?: string };
        poolRef?: { kind?: string; name?: string };
      };
      const ns = a.metadata.namespace ? `${a.metadata.namespace}/` : '';
      return {
        claim: `${ns}${spec.claimRef?.name ?? ''}`,
        address: spec.address ?? '',
        pool: `${spec.poolRef?.kind ?? ''} ${spec.poolRef?.kind === 'GlobalInClusterIPPool' ? '' : ns}${spec.poolRef?.name ?? ''}`,
      };
    }),
  };
}

/** Something is not bound or not ready. */
export function statusProblems(s: Status): boolean {
  return (
    s.pools.some((p) => !p.ready.startsWith('True')) ||
    s.claims.some((c) => !c.bound) ||
    s.clusters.some((c) => c.ipamReady !== 'True')
  );
}

export function renderStatus(s: Status, format: OutputFormat, style: Style): string {
  if (format !== 'table') return formatData(s, format);
  const mark = (ok: boolean, text: string) => (ok ? style.green(text) : style.red(text));
  return [
    table(
      ['POOL', 'ADDRESSES', 'TOTAL', 'USED', 'FREE', 'READY'],
      s.pools.map((p) => [
        p.pool,
        p.addresses,
        p.totalHuman,
        p.used?.toString() ?? '',
        p.freeHuman,
        mark(p.ready.startsWith('True'), p.ready),
      ]),
      style,
    ),
    table(
      ['CLAIM', 'BOUND', 'REASON', 'MESSAGE'],
      s.claims.map((c) => [c.claim, mark(c.bound, String(c.bound)), c.reason, c.message]),
      style,
    ),
    table(
      ['CLUSTER', 'CLAIM', 'IPAMREADY', 'REASON', 'MESSAGE'],
      s.clusters.map((c) => [c.cluster, c.claim, mark(c.ipamReady === 'True', c.ipamReady), c.reason, c.message]),
      style,
    ),
    table(
      ['ADDRESS', 'CLAIM', 'POOL'],
      s.addresses.map((a) => [a.address, a.claim, a.pool]),
      style,
    ),
  ].join('\n');
}

export async function statusCommand(
  argv: string[],
  out: NodeJS.WriteStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  let values: { kubeconfig?: string; namespace?: string; output?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: 'string' },
        namespace: { type: 'string', short: 'n' },
        output: { type: 'string', short: 'o', default: 'table' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    err.write(`cluster-ipam status: ${(e as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    out.write(usage);
    return 0;
  }
  if (!isOutputFormat(values.output)) {
    err.write(`cluster-ipam status: unknown output "${values.output}"\n${usage}`);
    return 2;
  }
  let client: KubeClient | undefined;
  let status: Status;
  try {
    client = KubeClient.load({ kubeconfig: values.kubeconfig, userAgent: 'cluster-ipam-status' });
    status = await readStatus(client, values.namespace);
  } catch (e) {
    err.write(`cluster-ipam status: ${(e as Error).message}\n`);
    return 2;
  } finally {
    client?.close();
  }
  out.write(renderStatus(status, values.output, styleFor(out)));
  return statusProblems(status) ? 1 : 0;
}
