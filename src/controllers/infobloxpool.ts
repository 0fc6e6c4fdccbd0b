// InfobloxIPPool: the ProtectPool finalizer while claims use the pool, and the Ready condition (spec 04 §4.2): the
// instance must be Ready (else the pool says the instance's own reason and message), and the network view (the
// pool's, else the instance's default), the DNS view (pool, instance default, `default` or `default.<view>`) and every
// subnet must exist on the appliance: NetworkViewNotFound / DNSViewNotFound / NetworkNotFound, else Ready. Re-checked
// when the pool's spec or the instance changes, and periodically; the claims and IPAddresses coming and going (the
// finalizer's events) do not ask the appliance again while a check of the same pool and instance says Ready.
import {
  IPAddressClaims,
  IPAddresses,
  InfobloxInstances,
  InfobloxIPPools,
  type IPAddress,
  type Condition,
  type IPAddressClaim,
} from '../api/index.ts';
import type { KubeObject } from '../kube/index.ts';
import { InfobloxReasons, poolKeyOf } from '../providers/infoblox/names.ts';
import { writeReady, type Check } from '../providers/infoblox/conditions.ts';
import { infobloxProvider } from '../providers/infoblox/provider.ts';
import {
  findCondition,
  notStatusOnly,
  tolerateRaces,
  type ControllerSetup,
  type ReconcileContext,
  type Request,
  type Result,
  type WatchSpec,
} from '../runtime/index.ts';

export function infobloxPoolController(): ControllerSetup {
  return {
    name: 'infobloxippool',
    setup(mgr) {
      const provider = infobloxProvider(mgr);
      const client = mgr.client.resource(InfobloxIPPools);
      const recorder = mgr.eventRecorder('cluster-ipam');
      const request = (p: KubeObject) => ({ namespace: p.metadata.namespace ?? '', name: p.metadata.name ?? '' });

      mgr.addController({
        name: 'infobloxippool',
        for: InfobloxIPPools,
        predicate: notStatusOnly,
        watches: [
          // The instance's spec or Ready condition: every pool on it is checked again.
          { type: InfobloxInstances, map: (i: KubeObject) => provider.poolsOf(i.metadata.name ?? '').map(request) },
          // Claims and their IPAddresses come and go: the finalizer follows them.
          {
            type: IPAddressClaims,
            predicate: (e: { type: string }) => e.type !== 'update',
            map: (c: KubeObject) => poolOf((c as IPAddressClaim).spec?.poolRef, c),
          },
          {
            type: IPAddresses,
            predicate: (e: { type: string }) => e.type !== 'update',
            map: (a: KubeObject) => poolOf((a as IPAddress).spec?.poolRef, a),
          },
        ] as WatchSpec[],
        reconcile: tolerateRaces(reconcile),
      });

      // Pool key → the last check that said Ready: on what it depended, and when.
      const passed = new Map<string, { basis: string; at: number }>();

      function poolOf(ref: IPAddressClaim['spec']['poolRef'] | undefined, obj: KubeObject): Request[] {
        const key = poolKeyOf(ref, obj.metadata.namespace);
        if (!key) return [];
        const [namespace = '', name = ''] = key.split('/');
        return [{ namespace, name }];
      }

      async function reconcile(req: Request, ctx: ReconcileContext): Promise<Result | void> {
        const key = `${req.namespace}/${req.name}`;
        let pool = provider.pools.get(key);
        if (!pool) return void passed.delete(key);
        const inUse = provider.poolInUse(key);
        pool = await provider.protection.follow(pool, inUse, ctx.signal);
        if (pool.metadata.deletionTimestamp) {
          // Deleted once nothing is left to release against it; until then its claims keep being served and
          // released. A release of a claim that went without it ends with no event here: look again.
          return inUse ? { requeueAfter: provider.retryMs } : undefined;
        }
        // What the check depends on: the pool's spec, the instance's spec and what its own check said (not its
        // finalizers, which follow the pools).
        const instance = provider.instances.get(pool.spec.instance.name);
        const ready = findCondition(instance?.status?.conditions as Condition[] | undefined, 'Ready');
        const basis = JSON.stringify([
          pool.metadata.generation,
          instance?.metadata.uid,
          instance?.metadata.generation,
          ready?.status,
          ready?.reason,
          ready?.message,
        ]);
        const last = passed.get(key);
        const age = last ? Date.now() - last.at : Infinity;
        if (last?.basis === basis && age < provider.recheckMs) return { requeueAfter: provider.recheckMs - age };
        passed.delete(key);
        const at = Date.now();
        const check = await provider.checkPool(pool, ctx.signal);
        // Waiting for the instance's first check is no news.
        const quiet = (c: Check) => c.reason === InfobloxReasons.InstanceNotReady;
        provider.pools.record(await writeReady(client, recorder, pool, check, { quiet }));
        if (check.status === 'True') passed.set(key, { basis, at });
        return { requeueAfter: check.status === 'True' ? provider.recheckMs : provider.retryMs };
      }
    },
  };
}
