// Chaos suite, appliance faults: the Infoblox provider against the WAPI simulator while the simulator injects every
// kind of fault, each both before the appliance applies a request and after it did (the answer lost): latency beyond
// the client's timeout, 5xx bursts, dropped connections, and 401 for a while. Claims of an IPv4 and an IPv6 pool are
// created, and some deleted (some before they are bound), phase by phase while the faults are on. After the faults
// are cleared and the manager has settled, the appliance and the cluster must agree exactly: every live claim bound
// once, no address twice in the appliance's network view, no host record without its claim, one record per claim
// holding exactly its IPAddress's address, no claim left with a finalizer, the instance and pools Ready again.
//
// `run({ quick })` returns a PartResult; standalone: `node --import tsx test/chaos/appliance.ts [--quick]` prints it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  IPAddressClaims,
  IPAddresses,
  InfobloxInstances,
  InfobloxIPPools,
  type IPAddressClaim,
} from '../../src/api/index.ts';
import { controllers } from '../../src/controllers/index.ts';
import { startWapiSimulator, type FaultSpec, type WapiSimulator } from '../../src/infoblox/simulator/index.ts';
import { KubeClient, Namespaces, Secrets, type Condition } from '../../src/kube/index.ts';
import type { ControlPlane } from '../../src/local/controlplane.ts';
import { hostnameAnnotation } from '../../src/providers/infoblox/names.ts';
import { infobloxProvider, type InfobloxProviderOptions } from '../../src/providers/infoblox/provider.ts';
import { createLogger, Informer, type ControllerSetup, type Manager } from '../../src/runtime/index.ts';
import { privateControlPlane } from '../support/cluster.ts';
import { startManagerOn, type TestManager } from '../support/manager.ts';
import { waitFor } from '../support/wait.ts';
import { emptyResult, type PartResult } from './summary.ts';

const username = 'svc-chaos';
const password = 'chaos-9d1e55b0';
const managerNamespace = 'cluster-ipam-system';
const ns = 'chaos-appliance';
const instanceName = 'chaos-ib';
const v4 = { pool: 'nodes-v4', cidr: '10.70.0.0/22', gateway: '10.70.0.1' };
const v6 = { pool: 'nodes-v6', cidr: 'fd00:70::/64', gateway: 'fd00:70::1' };

/** Short timeouts, so that a fault shows (and heals) in seconds; latency faults exceed the request timeout. */
const timeoutMs = 1500;
const tuning: InfobloxProviderOptions = {
  wapiTimeoutMs: timeoutMs,
  wapiRetry: { attempts: 3, initialMs: 20, maxMs: 200 },
  // The settle period bounds how late an appliance may apply a write nobody got an answer for: the latency faults
  // stay below it (docs/infoblox-provider.md, Limits).
  settleMs: 2 * timeoutMs + 1000,
  recheckMs: 60_000,
  retryMs: 1000,
};
const lateMs = timeoutMs + 700;

const writes = ['POST', 'PUT', 'DELETE'];
const host = 'record:host';

/** One phase of faults: installed when it starts, cleared when it ends. */
interface Phase {
  name: string;
  faults: FaultSpec[];
}

const allPhases: Phase[] = [
  {
    name: 'latency beyond the client timeout, before the change',
    faults: [
      { kind: 'latency', when: 'before', latencyMs: lateMs, method: writes, object: host, count: 6 },
      { kind: 'latency', when: 'before', latencyMs: lateMs, method: 'GET', object: host, count: 4 },
    ],
  },
  {
    name: 'latency beyond the client timeout, after the change',
    faults: [
      { kind: 'latency', when: 'after', latencyMs: lateMs, method: writes, object: host, count: 6 },
      { kind: 'latency', when: 'after', latencyMs: lateMs, method: 'GET', count: 4 },
    ],
  },
  {
    name: '5xx burst, before the change (every request)',
    faults: [{ kind: 'status', status: 503, when: 'before', durationMs: 1200 }],
  },
  {
    name: '5xx after the change',
    faults: [
      { kind: 'status', status: 502, when: 'after', method: writes, object: host, count: 8 },
      { kind: 'status', status: 500, when: 'after', method: 'GET', count: 4 },
    ],
  },
  {
    name: 'dropped connections, before the change',
    faults: [{ kind: 'drop', when: 'before', count: 10 }],
  },
  {
    name: 'dropped connections, after the change',
    faults: [
      { kind: 'drop', when: 'after', method: writes, object: host, count: 8 },
      { kind: 'drop', when: 'after', method: 'GET', count: 4 },
    ],
  },
  {
    name: '401 for a while, before the change (every request)',
    faults: [{ kind: 'unauthorized', when: 'before', durationMs: 2500 }],
  },
  {
    name: '401 for a while, after the change (writes)',
    faults: [{ kind: 'unauthorized', when: 'after', method: writes, object: host, durationMs: 2000 }],
  },
];

/** `status/after` → `wapi-5xx-after`, `unauthorized/before` → `wapi-401-before`. */
function faultName(key: string): string {
  const [kind, when] = key.split('/');
  const k = kind === 'status' ? '5xx' : kind === 'unauthorized' ? '401' : kind;
  return `wapi-${k}-${when}`;
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;

async function parallel<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
    }),
  );
}

const readyOf = (obj: { status?: { conditions?: readonly Condition[] } } | undefined) =>
  obj?.status?.conditions?.find((c) => c.type === 'Ready');

export async function run(opts: { quick?: boolean } = {}): Promise<PartResult> {
  const result = emptyResult('appliance');
  const total = opts.quick ? 64 : 320;
  const rounds = opts.quick ? 1 : 3;
  // For a closer look: only the phases whose name matches CHAOS_APPLIANCE_PHASES (a regexp), logs from
  // CHAOS_APPLIANCE_LOG_LEVEL (default warn); the log lines naming a host left behind are in the notes.
  const only = process.env.CHAOS_APPLIANCE_PHASES;
  const phases = only ? allPhases.filter((p) => new RegExp(only).test(p.name)) : allPhases;
  const fail = (note: string) => {
    result.passed = false;
    result.notes.push(`FAIL: ${note}`);
  };

  let cp: ControlPlane | undefined;
  let client: KubeClient | undefined;
  let sim: WapiSimulator | undefined;
  let manager: TestManager | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'chaos-appliance-'));
  const logs: string[] = [];
  const stopWatch = new AbortController();
  try {
    cp = await privateControlPlane();
    client = KubeClient.load({ kubeconfig: cp.kubeconfigPath });
    sim = await startWapiSimulator({
      username,
      password,
      seed: { network: [{ network: v4.cidr }], ipv6network: [{ network: v6.cidr }] },
    });
    const caFile = join(dir, 'wapi-ca.crt');
    writeFileSync(caFile, sim.caPem!);
    for (const name of [managerNamespace, ns]) await client.resource(Namespaces).create({ metadata: { name } });
    await client.resource(Secrets).create({
      metadata: { name: 'ib-credentials', namespace: managerNamespace },
      stringData: { username, password },
    });
    await client.resource(InfobloxInstances).create({
      apiVersion: 'ipam.cluster.x-k8s.io/v1alpha1',
      kind: 'InfobloxInstance',
      metadata: { name: instanceName },
      spec: {
        host: '127.0.0.1',
        port: String(sim.port),
        wapiVersion: '2.12',
        credentialsSecretRef: { name: 'ib-credentials' },
        customCAPath: caFile,
      },
    });
    for (const p of [v4, v6]) {
      await client.resource(InfobloxIPPools).create({
        apiVersion: 'ipam.cluster.x-k8s.io/v1alpha1',
        kind: 'InfobloxIPPool',
        metadata: { name: p.pool, namespace: ns },
        spec: { instance: { name: instanceName }, subnets: [{ cidr: p.cidr, gateway: p.gateway }] },
      });
    }

    const configure: ControllerSetup = {
      name: 'infoblox-options',
      setup: (mgr: Manager) => void infobloxProvider(mgr, tuning),
    };
    manager = startManagerOn(cp.kubeconfigPath, [configure, ...controllers], {
      namespace: managerNamespace,
      logger: createLogger({
        level: process.env.CHAOS_APPLIANCE_LOG_LEVEL ?? 'warn',
        destination: { write: (l: string) => void logs.push(l) },
      }),
    });
    let crashed: unknown;
    manager.done.catch((err: unknown) => (crashed = err ?? new Error('the manager stopped')));
    const k = client;
    await waitFor(
      async () => readyOf(await k.resource(InfobloxInstances).get({ name: instanceName }))?.status === 'True',
      { what: 'the InfobloxInstance Ready', timeoutMs: 60_000 },
    );
    for (const p of [v4, v6]) {
      await waitFor(
        async () => readyOf(await k.resource(InfobloxIPPools).get({ namespace: ns, name: p.pool }))?.status === 'True',
        { what: `the pool ${p.pool} Ready`, timeoutMs: 60_000 },
      );
    }

    // When each claim was created, and when it was first seen with its address; the Ready reasons seen meanwhile.
    const created = new Map<string, number>();
    const boundAt = new Map<string, number>();
    const reasons = new Map<string, number>();
    const informer = new Informer(client.resource(IPAddressClaims), { namespace: ns });
    const seen = (c: IPAddressClaim) => {
      const name = c.metadata.name!;
      if (c.status?.addressRef?.name && !boundAt.has(name)) boundAt.set(name, performance.now());
      const ready = readyOf(c);
      if (ready?.status === 'False') reasons.set(ready.reason, (reasons.get(ready.reason) ?? 0) + 1);
    };
    informer.addEventHandler({ onAdd: seen, onUpdate: (_, c) => seen(c) });
    const watching = informer.run(stopWatch.signal);
    watching.catch(() => {});
    await informer.waitForSync();

    // The churn: per phase, a batch of claims (IPv4 and IPv6 alternately), and deletions: some claims of the batch
    // at once (mid-allocation), some bound ones of earlier batches.
    const names = Array.from({ length: total }, (_, i) => `m-${String(i).padStart(4, '0')}`);
    const poolOf = (name: string) => (Number(name.slice(2)) % 2 === 0 ? v4.pool : v6.pool);
    const batches = phases.length * rounds;
    const batchOf = (b: number) =>
      names.slice(Math.round((b * total) / batches), Math.round(((b + 1) * total) / batches));
    const deleted = new Set<string>();
    const claims = client.resource(IPAddressClaims);
    const history = new Map<string, string>();
    const del = (name: string) => {
      deleted.add(name);
      history.set(name, `${history.get(name)}, deleted at ${Math.round(performance.now() - started)} ms`);
      return claims.delete({ namespace: ns, name });
    };
    const started = performance.now();
    for (let b = 0; b < batches; b++) {
      const phase = phases[b % phases.length]!;
      const batch = batchOf(b);
      const phaseStart = performance.now();
      for (const f of phase.faults) sim.faults.add(f);
      await parallel(batch, 8, async (name) => {
        created.set(name, performance.now());
        const made = await claims.create({
          apiVersion: 'ipam.cluster.x-k8s.io/v1beta2',
          kind: 'IPAddressClaim',
          metadata: { name, namespace: ns },
          spec: { poolRef: { apiGroup: 'ipam.cluster.x-k8s.io', kind: 'InfobloxIPPool', name: poolOf(name) } },
        });
        history.set(name, `uid ${made.metadata.uid} created at ${Math.round(performance.now() - started)} ms`);
      });
      // One in eight of the batch goes before it can have been served; one in six of the earlier ones once bound.
      const early = batch.filter((_, i) => i % 8 === 3 || i % 8 === 6);
      const earlier = names.slice(0, names.indexOf(batch[0]!)).filter((n, i) => i % 6 === 1 && !deleted.has(n));
      await parallel([...early, ...earlier.filter((n) => boundAt.has(n)).slice(0, 4)], 4, del);
      // Faults stay on at least 3 s, and until the batch has met them (every claim bound or given up on).
      await waitFor(
        () =>
          performance.now() - phaseStart > 3000 &&
          (performance.now() - phaseStart > 15_000 || batch.every((n) => deleted.has(n) || boundAt.has(n))),
        { what: `phase ${phase.name}`, timeoutMs: 30_000, intervalMs: 100 },
      );
      sim.faults.clear();
      result.notes.push(
        `phase "${phase.name}": ${batch.length} claims, ${batch.filter((n) => boundAt.has(n)).length} bound meanwhile`,
      );
    }
    // The rest of the deletions once the faults are off: claims of every batch, bound or not.
    sim.faults.clear();
    const faultsDone = performance.now();
    result.claims = total;

    for (const [key, n] of Object.entries(sim.requests.counters.byFault).sort()) result.faults[faultName(key)] = n;
    const missing = phases.flatMap((p) =>
      p.faults.map((f) => faultName(`${f.kind}/${f.when ?? 'before'}`)).filter((k) => !result.faults[k]),
    );
    if (missing.length) fail(`faults never hit: ${[...new Set(missing)].join(', ')}`);

    // Latency of claims created while faults were on (those deleted before their address excluded).
    const latencies = [...created]
      .filter(([n]) => boundAt.has(n))
      .map(([n, t]) => boundAt.get(n)! - t)
      .sort((a, b) => a - b);
    result.p99Ms = Math.round(percentile(latencies, 99));
    result.notes.push(
      `${latencies.length} claims bound during faults: p50 ${Math.round(percentile(latencies, 50))} ms, ` +
        `p99 ${result.p99Ms} ms, max ${Math.round(latencies.at(-1) ?? NaN)} ms; churn took ` +
        `${Math.round((faultsDone - started) / 1000)} s; ${deleted.size} deleted`,
    );
    result.notes.push(
      `claim Ready=False reasons seen: ${[...reasons].map(([r, n]) => `${r} ${n}`).join(', ') || 'none'}`,
    );

    // Settle: every deleted claim gone, every live one bound, the instance and the pools Ready again.
    const settleMs = opts.quick ? 90_000 : 180_000;
    const settled = await waitFor(
      async () => {
        const list = (await claims.list({ namespace: ns })).items;
        const instance = await k.resource(InfobloxInstances).get({ name: instanceName });
        const pools = (await k.resource(InfobloxIPPools).list({ namespace: ns })).items;
        return (
          list.every((c) => !c.metadata.deletionTimestamp && c.status?.addressRef?.name) &&
          readyOf(instance)?.status === 'True' &&
          pools.every((p) => readyOf(p)?.status === 'True')
        );
      },
      { what: 'settling', timeoutMs: settleMs, intervalMs: 500 },
    ).then(
      () => true,
      (err: Error) => (fail(err.message), false),
    );
    result.notes.push(
      `settled ${settled ? 'in' : 'not within'} ${Math.round((performance.now() - faultsDone) / 1000)} s`,
    );
    if (crashed) fail(`the manager crashed: ${String(crashed)}`);

    // Then a last batch of deletions without faults: half of the live claims go, and their records with them.
    const live0 = (await claims.list({ namespace: ns })).items.map((c) => c.metadata.name!);
    await parallel(
      live0.filter((_, i) => i % 2 === 0),
      8,
      del,
    );
    // Settled: no claim being deleted, and (the garbage collector's and the manager's work) every IPAddress and every
    // host record has its live claim. What is not, the invariants below report.
    const s = sim;
    await waitFor(
      async () => {
        const live = (await claims.list({ namespace: ns })).items;
        if (live.some((c) => c.metadata.deletionTimestamp)) return false;
        const names = new Set(live.map((c) => c.metadata.name!));
        const ipas = (await k.resource(IPAddresses).list({ namespace: ns })).items;
        return (
          ipas.every((a) => names.has(a.spec.claimRef?.name ?? '')) &&
          s.state.hostRecords().every((r) => names.has(r.name))
        );
      },
      { what: 'the last deletions, no IPAddress or host record left without its claim', timeoutMs: 60_000 },
    ).catch((err: Error) => result.notes.push(`not settled: ${err.message}`));

    const found = await invariants(client, sim, deleted);
    Object.assign(result, { duplicates: found.duplicates, leaks: found.leaks, stuck: found.stuck });
    result.notes.push(...found.notes);
    if (result.duplicates) fail(`${result.duplicates} duplicate addresses`);
    if (result.leaks) fail(`${result.leaks} leaks`);
    if (result.stuck) fail(`${result.stuck} claims stuck with a finalizer`);
    if (!result.passed) {
      const hosts = found.notes.flatMap((n) => /(?:orphan host record|host|IPAddress) (m-\d+)/.exec(n)?.[1] ?? []);
      const about = logs.filter((l) => hosts.some((h) => l.includes(`${h}"`)));
      for (const h of new Set(hosts)) result.notes.push(`  ${h}: ${history.get(h)}`);
      result.notes.push(...(about.length ? about : logs.slice(-20)).map((l) => `  log: ${l.trim().slice(0, 600)}`));
    }
  } catch (err) {
    fail(`error: ${(err as Error).stack ?? String(err)}`);
    result.notes.push(...logs.slice(-20).map((l) => `  log: ${l.trim().slice(0, 300)}`));
  } finally {
    stopWatch.abort();
    sim?.faults.clear();
    await manager?.stop().catch(() => {});
    client?.close();
    await sim?.close();
    await cp?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

/** The invariants, on the cluster and the appliance as they are now. */
async function invariants(
  client: KubeClient,
  sim: WapiSimulator,
  deleted: ReadonlySet<string>,
): Promise<Pick<PartResult, 'duplicates' | 'leaks' | 'stuck' | 'notes'>> {
  const notes: string[] = [];
  const problem = (s: string) => notes.length < 40 && notes.push(`  ${s}`);
  const claims = (await client.resource(IPAddressClaims).list({ namespace: ns })).items;
  const addresses = (await client.resource(IPAddresses).list({ namespace: ns })).items;
  const records = sim.state.hostRecords();

  const stuck = claims.filter((c) => c.metadata.deletionTimestamp);
  for (const c of stuck) problem(`claim ${c.metadata.name} stuck deleting: ${readyOf(c)?.message ?? ''}`);
  const live = claims.filter((c) => !c.metadata.deletionTimestamp);
  for (const c of live) {
    if (deleted.has(c.metadata.name!)) problem(`claim ${c.metadata.name} deleted but still there`);
  }
  let leaks = 0;
  let duplicates = 0;

  // Cluster side: one IPAddress per live claim, each of a live claim, none twice.
  const ipaOf = new Map(addresses.map((a) => [a.spec.claimRef?.name ?? '', a]));
  const liveNames = new Set(live.map((c) => c.metadata.name!));
  for (const c of live) {
    const mine = addresses.filter((a) => a.spec.claimRef?.name === c.metadata.name);
    if (mine.length !== 1 || c.status?.addressRef?.name !== mine[0]!.metadata.name) {
      leaks++;
      problem(`claim ${c.metadata.name}: ${mine.length} IPAddresses, addressRef ${c.status?.addressRef?.name}`);
    }
  }
  for (const a of addresses) {
    if (!liveNames.has(a.spec.claimRef?.name ?? '')) {
      leaks++;
      const owner = a.metadata.ownerReferences?.find((r) => r.kind === 'IPAddressClaim');
      problem(
        `IPAddress ${a.metadata.name} (${a.spec.address}) without a live claim (owner uid ${owner?.uid}, ` +
          `created ${a.metadata.creationTimestamp}${a.metadata.deletionTimestamp ? ', being deleted' : ''})`,
      );
    }
  }
  const byAddress = new Map<string, string[]>();
  for (const a of addresses)
    byAddress.set(a.spec.address, [...(byAddress.get(a.spec.address) ?? []), a.metadata.name!]);
  for (const [address, holders] of byAddress) {
    if (holders.length > 1) {
      duplicates += holders.length - 1;
      problem(`${address} carried by IPAddresses ${holders.join(', ')}`);
    }
  }

  // Appliance side: no address on two records (one network view here), every record a live claim's, holding exactly
  // the address of that claim's IPAddress.
  const recordAddresses = new Map<string, string[]>();
  for (const r of records) {
    for (const a of [...r.ipv4addrs, ...r.ipv6addrs]) {
      recordAddresses.set(a, [...(recordAddresses.get(a) ?? []), r.name]);
    }
  }
  for (const [address, names] of recordAddresses) {
    if (names.length > 1) {
      duplicates += names.length - 1;
      problem(`${address} on host records ${names.join(', ')}`);
    }
  }
  const hostOf = new Map(live.map((c) => [c.metadata.annotations?.[hostnameAnnotation] ?? c.metadata.name!, c]));
  const recordsOf = new Map<string, typeof records>();
  for (const r of records) recordsOf.set(r.name, [...(recordsOf.get(r.name) ?? []), r]);
  for (const [name, rs] of recordsOf) {
    const claim = hostOf.get(name);
    if (!claim) {
      leaks += rs.length;
      problem(`orphan host record ${name} (${rs.map((r) => [...r.ipv4addrs, ...r.ipv6addrs].join(',')).join('; ')})`);
      continue;
    }
    const have = rs.flatMap((r) => [...r.ipv4addrs, ...r.ipv6addrs]);
    const ipa = ipaOf.get(claim.metadata.name!);
    if (rs.length !== 1 || have.length !== 1 || have[0] !== ipa?.spec.address) {
      leaks += Math.max(1, rs.length - 1);
      problem(`host ${name}: ${rs.length} records with ${have.join(', ')}; its IPAddress has ${ipa?.spec.address}`);
    }
  }
  for (const c of live) {
    const name = c.metadata.annotations?.[hostnameAnnotation] ?? c.metadata.name!;
    if (!recordsOf.has(name)) {
      leaks++;
      problem(`claim ${c.metadata.name}: no host record ${name} on the appliance`);
    }
  }
  notes.unshift(
    `after settling: ${live.length} live claims, ${addresses.length} IPAddresses, ${records.length} host records, ` +
      `${stuck.length} stuck, ${duplicates} duplicates, ${leaks} leaks`,
  );
  return { duplicates, leaks, stuck: stuck.length, notes };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  const r = await run({ quick });
  for (const n of r.notes) console.log(n);
  console.log(JSON.stringify(r));
  process.exit(r.passed ? 0 : 1);
}
