// Chaos suite, ownership (issue 21): two namespaces run a cluster of the same name, with the same machine (claim)
// names, against one network of one appliance: in each namespace an InfobloxIPPool without a DNS zone and one with
// (one zone for both namespaces, so their DNS names collide too), all four on the same network of the same network
// view. The claims of both namespaces are created together while the appliance holds every host record POST for
// longer than the client's timeout (it commits them late), and the leader of two manager replicas is SIGKILLed while
// those writes are held; then some claims are deleted and recreated under the same names (new uids). The full run
// does this twice (the second time with the recreated claims), and defines the uid extensible attribute on the
// appliance in between, so records tagged both ways meet. Once settled: no address twice (IPAddresses, host records
// of the network view), no leak (every host record carries the uid of a live claim whose IPAddress holds exactly its
// address; every IPAddress has its live claim and its record), nothing stuck (no claim left deleting, every live claim
// bound within the settle period).
//
// Standalone: `tsx test/chaos/ownership.ts [--quick]`.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IPAddressClaims, type IPAddressClaim } from '../../src/api/index.ts';
import type { WapiSimulator } from '../../src/infoblox/simulator/index.ts';
import { Namespaces } from '../../src/kube/index.ts';
import { claimUidAttribute } from '../../src/providers/infoblox/records.ts';
import { Informer } from '../../src/runtime/index.ts';
import {
  claimObject,
  createInstance,
  createPool,
  createSecret,
  gone,
  managerNamespace,
  poolReady,
  simulatorInstanceSpec,
  writeSimulatorCA,
} from '../integration/infoblox-support.ts';
import { waitFor } from '../support/wait.ts';
import { awaitLeader, Bench, percentile, wapiPassword, wapiUser } from './failover.ts';
import {
  checkInvariants,
  checkOwnership,
  clean,
  readTruth,
  type InvariantReport,
  type TaggedRecordLike,
} from './invariants.ts';
import { emptyResult, type PartResult } from './summary.ts';

const tenants = ['tenant-a', 'tenant-b'] as const;
const cluster = 'dev';
const network = { cidr: '10.90.0.0/23', gateway: '10.90.0.1' };
const zone = 'lab.test';
/** The replicas' WAPI request timeout is the manager's default, 15 s: the held POSTs commit well after it. */
const holdMs = 25_000;

/** The records on the appliance with their tags (comment, uid attribute). */
function taggedRecords(sim: WapiSimulator): TaggedRecordLike[] {
  const found = sim.state.search('record:host', [], {
    fields: ['name', 'comment', 'extattrs', 'ipv4addrs', 'ipv6addrs'],
  }) as {
    name: string;
    comment?: string;
    extattrs?: Record<string, { value?: unknown }>;
    ipv4addrs: { ipv4addr: string }[];
    ipv6addrs: { ipv6addr: string }[];
  }[];
  return found.map((r) => {
    const attr = r.extattrs?.[claimUidAttribute]?.value;
    return {
      name: r.name,
      ...(r.comment === undefined ? {} : { comment: r.comment }),
      ...(attr === undefined ? {} : { uidAttribute: String(attr) }),
      addresses: [...r.ipv4addrs.map((a) => a.ipv4addr), ...r.ipv6addrs.map((a) => a.ipv6addr)],
    };
  });
}

export async function run(opts: { quick?: boolean } = {}): Promise<PartResult> {
  const result = emptyResult('ownership');
  const perPool = opts.quick ? 6 : 16;
  const rounds = opts.quick ? 1 : 2;
  const settleMs = opts.quick ? 150_000 : 240_000;
  const started = Date.now();
  const say = (line: string) =>
    process.stderr.write(`# ownership ${((Date.now() - started) / 1000).toFixed(1)}s: ${line}\n`);
  const fail = (line: string) => {
    result.passed = false;
    result.notes.push(`FAILED: ${line}`);
    say(`FAILED: ${line}`);
  };
  const fault = (kind: string, n = 1) => (result.faults[kind] = (result.faults[kind] ?? 0) + n);

  const bench = new Bench(await mkdtemp(join(tmpdir(), 'chaos-ownership-')));
  const { replicas } = bench;
  const stopWatch = new AbortController();
  try {
    say(`starting a control plane, the WAPI simulator and two replicas (logs in ${bench.dir})`);
    const { api, sim, simAccess } = await bench.start({
      network: [{ network: network.cidr }],
      zone_auth: [{ fqdn: zone, view: 'default' }],
    });
    const s = sim;
    for (const name of [managerNamespace, ...tenants]) await api.resource(Namespaces).create({ metadata: { name } });
    await createSecret(api, 'infoblox-credentials', { username: wapiUser, password: wapiPassword });
    await createInstance(api, 'ib', simulatorInstanceSpec(sim, { caFile: writeSimulatorCA(sim, bench.dir) }));
    const subnets = [network];
    for (const ns of tenants) {
      await createPool(api, ns, 'plain', { instance: { name: 'ib' }, subnets });
      await createPool(api, ns, 'dns', { instance: { name: 'ib' }, subnets, dnsZone: zone });
    }
    await bench.startReplicas();
    const first = await awaitLeader(api, replicas, 'a first leader');
    for (const ns of tenants) for (const p of ['plain', 'dns']) await poolReady(api, ns, p);
    await waitFor(async () => (await Promise.all(replicas.map((r) => r.ready()))).every(Boolean), {
      what: 'both replicas ready',
      timeoutMs: 60_000,
    });

    // The same machine names in both namespaces: the cluster's control plane on the DNS pool, its workers without.
    const machines = [
      ...Array.from({ length: perPool }, (_, i) => ({ name: `${cluster}-cp-${i}`, pool: 'dns' })),
      ...Array.from({ length: perPool }, (_, i) => ({ name: `${cluster}-md-${i}`, pool: 'plain' })),
    ];
    const claims = api.resource(IPAddressClaims);
    const boundAt = new Map<string, number>();
    const createdAt = new Map<string, number>();
    const uidOf = new Map<string, string>();
    let deletedUnbound = 0;
    const informer = new Informer(claims, {});
    const seen = (c: IPAddressClaim) => {
      if (c.status?.addressRef?.name && !boundAt.has(c.metadata.uid!)) boundAt.set(c.metadata.uid!, Date.now());
    };
    informer.addEventHandler({ onAdd: seen, onUpdate: (_, c) => seen(c) });
    informer.run(stopWatch.signal).catch(() => {});
    await informer.waitForSync();
    const create = async (ns: string, m: (typeof machines)[number]) => {
      const made = await claims.create(
        claimObject(ns, m.name, m.pool, { labels: { 'cluster.x-k8s.io/cluster-name': cluster } }),
      );
      createdAt.set(made.metadata.uid!, Date.now());
      uidOf.set(`${ns}/${m.name}`, made.metadata.uid!);
      result.claims++;
    };
    say(
      `${first.name} leads; ${tenants.length} namespaces x ${machines.length} claims (${perPool} with DNS zone ${zone}, ` +
        `${perPool} without), all on ${network.cidr}; ${rounds} hand-over(s) while the appliance holds POSTs ${holdMs / 1000} s`,
    );

    let batch = machines;
    let lastHoldEnd = 0;
    for (let round = 0; round < rounds; round++) {
      // Every host record POST is held, then applied, until the leader is killed: its client has given up by then.
      const slow = s.faults.add({
        kind: 'latency',
        when: 'before',
        latencyMs: holdMs,
        method: 'POST',
        object: 'record:host',
      });
      const heldAt = Date.now();
      await Promise.all(tenants.flatMap((ns) => batch.map((m) => create(ns, m))));
      say(`round ${round + 1}: ${tenants.length * batch.length} claims ${round ? 're' : ''}created together`);
      const holding = () => s.faults.list().find((x) => x.id === slow.id)?.hits ?? 0;
      await waitFor(() => holding() >= 3, {
        what: 'host record POSTs held by the appliance',
        timeoutMs: 60_000,
        intervalMs: 100,
      });
      const victim = await awaitLeader(api, replicas, 'the leader to kill');
      await victim.kill();
      const held = holding();
      s.faults.remove(slow.id);
      lastHoldEnd = Date.now();
      say(`round ${round + 1}: SIGKILLed the leader ${victim.name} while the appliance held ${held} POSTs`);
      result.leaderKills++;
      fault('leader-sigkill');
      fault('wapi-latency-before', held);
      await victim.start();
      const next = await awaitLeader(api, replicas, 'a new leader after the kill');
      say(
        `round ${round + 1}: ${next.name} leads, ${((Date.now() - heldAt) / 1000).toFixed(1)} s after the hold began`,
      );
      if (round === 0 && rounds > 1) {
        // An administrator defines the uid attribute: records made before carry the uid in their comment only.
        s.state.create('extensibleattributedef', { name: claimUidAttribute, type: 'STRING' });
        say(`the appliance now defines the extensible attribute ${claimUidAttribute}`);
      }

      // A quarter of the machines of both namespaces go (some while their POST is still held) and come back under
      // the same names; in the next round those come back during the hand-over.
      const churn = machines.filter((_, i) => i % 4 === round % 4);
      deletedUnbound += tenants.flatMap((ns) =>
        churn.filter((m) => !boundAt.has(uidOf.get(`${ns}/${m.name}`)!)),
      ).length;
      await Promise.all(tenants.flatMap((ns) => churn.map((m) => claims.delete({ namespace: ns, name: m.name }))));
      await Promise.all(
        tenants.flatMap((ns) =>
          churn.map((m) =>
            waitFor(() => gone(() => claims.get({ namespace: ns, name: m.name })), {
              what: `${ns}/${m.name} released and gone`,
              timeoutMs: 180_000,
              intervalMs: 500,
            }),
          ),
        ),
      );
      say(`round ${round + 1}: ${tenants.length * churn.length} claims deleted and gone`);
      batch = churn;
    }
    await Promise.all(tenants.flatMap((ns) => batch.map((m) => create(ns, m))));
    say(`${tenants.length * batch.length} claims recreated; settling`);

    // Settled: every claim bound, no leftover record or IPAddress, and every held POST applied (the last was held
    // before the hold ended, and is applied holdMs after it was received).
    const settleStart = Date.now();
    const heldApplied = () => Date.now() > lastHoldEnd + holdMs + 1000;
    let report: InvariantReport | undefined;
    let owned: ReturnType<typeof checkOwnership> | undefined;
    const look = async () => {
      const truth = await readTruth(api, simAccess);
      report = checkInvariants(truth);
      owned = checkOwnership(taggedRecords(s), truth.claims, truth.addresses);
      return truth;
    };
    const settled = await waitFor(
      async () => {
        await look();
        return heldApplied() && clean(report!) && owned!.leaks === 0;
      },
      { what: 'the invariants to hold after settling', timeoutMs: settleMs, intervalMs: 2_000 },
    ).then(
      () => true,
      () => false,
    );
    const truth = await look();
    const r = report!;
    const o = owned!;
    result.duplicates = r.duplicates;
    result.leaks = r.leaks + o.leaks;
    // Stuck: deleted but still there, or live and never bound within the settle period.
    result.stuck = r.stuck + r.unbound;
    const latencies = [...createdAt].flatMap(([uid, t]) => (boundAt.has(uid) ? [boundAt.get(uid)! - t] : []));
    const p99 = percentile(latencies, 99);
    if (p99 !== undefined) result.p99Ms = Math.round(p99);
    const records = taggedRecords(s);
    result.notes.push(
      `ownership: ${tenants.length} namespaces, cluster "${cluster}", the same ${machines.length} claim names in each ` +
        `(${perPool} on a pool with DNS zone ${zone}, ${perPool} without), 4 pools on one network ${network.cidr}; ` +
        `${result.claims} claims created (deleted and recreated under the same names: ${result.claims - tenants.length * machines.length}, ` +
        `${deletedUnbound} of them deleted before they were bound)`,
      `ownership: ${result.leaderKills} leader kill(s) while the appliance held ${result.faults['wapi-latency-before'] ?? 0} ` +
        `host record POSTs for ${holdMs / 1000} s each (the client's timeout: 15 s), applied then`,
      `ownership: claim→address p50 ${Math.round(percentile(latencies, 50) ?? 0)} ms, p99 ${result.p99Ms ?? '-'} ms ` +
        `(${latencies.length} claims)`,
      `ownership: ${settled ? 'settled' : 'NOT settled'} in ${Math.round((Date.now() - settleStart) / 1000)} s: ` +
        `${truth.claims.length} claims, ${truth.addresses.length} IPAddresses, ${records.length} host records ` +
        `(${records.filter((x) => x.uidAttribute).length} with the uid attribute, ` +
        `${new Set(records.map((x) => x.name)).size} distinct names); duplicates ${result.duplicates}, ` +
        `leaks ${result.leaks}, stuck ${r.stuck}, unbound ${r.unbound}`,
    );
    if (!settled) fail(`after settling:\n  ${[...r.problems, ...o.problems].join('\n  ')}`);
    for (const x of replicas) {
      for (const e of x.unexpectedExits) fail(`${x.name} exited by itself:\n${e.tail.join('\n')}`);
    }
    return result;
  } catch (err) {
    fail(`${(err as Error).stack ?? String(err)}`);
    return result;
  } finally {
    stopWatch.abort();
    await bench.stop(result);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run({ quick: process.argv.includes('--quick') });
  for (const n of r.notes) console.log(n);
  console.log(JSON.stringify({ ...r, notes: undefined }));
  process.exit(r.passed ? 0 : 1);
}
