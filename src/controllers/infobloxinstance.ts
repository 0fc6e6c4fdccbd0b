// InfobloxInstance: whether the appliance can be used, as its Ready condition (spec 04 §4.2). The credentials Secret is
// read from the manager's namespace and watched, so a fixed Secret heals the instance without a restart; the
// appliance is actually contacted (the default views if set, else an authenticated read) and re-checked periodically.
// Distinct reasons: AuthenticationFailed (Secret missing or incomplete, 401/403), ConnectionFailed (refused, TLS,
// timeout), ApplianceError (any other error answer), NetworkViewNotFound / DNSViewNotFound for the defaults, else
// ConfigurationValid. Messages never carry a credential (the client's errors do not hold any).
import { InfobloxInstances, InfobloxIPPools, type InfobloxIPPool } from '../api/index.ts';
import type { KubeObject, Secret } from '../kube/index.ts';
import { protectInstanceFinalizer } from '../providers/infoblox/names.ts';
import { writeReady } from '../providers/infoblox/conditions.ts';
import { infobloxProvider } from '../providers/infoblox/provider.ts';
import {
  addFinalizer,
  hasFinalizer,
  notStatusOnly,
  removeFinalizer,
  tolerateRaces,
  type ControllerSetup,
  type ReconcileContext,
  type Request,
  type Result,
  type WatchSpec,
} from '../runtime/index.ts';

export function infobloxInstanceController(): ControllerSetup {
  return {
    name: 'infobloxinstance',
    setup(mgr) {
      const provider = infobloxProvider(mgr);
      const instances = mgr.informer(InfobloxInstances);
      const client = mgr.client.resource(InfobloxInstances);
      const recorder = mgr.eventRecorder('cluster-ipam');

      const controller = mgr.addController({
        name: 'infobloxinstance',
        for: InfobloxInstances,
        predicate: notStatusOnly,
        // Pools come and go: the finalizer follows them.
        watches: [
          {
            type: InfobloxIPPools,
            predicate: (e: { type: string }) => e.type !== 'update',
            map: (p: KubeObject) => {
              const name = (p as InfobloxIPPool).spec?.instance?.name;
              return name ? [{ namespace: '', name }] : [];
            },
          },
        ] as WatchSpec[],
        reconcile: tolerateRaces(reconcile),
      });
      // Secrets of the manager's namespace, once watched (the provider starts that when an instance needs one).
      provider.clients.onSecret((secret: Secret) => {
        if (secret.metadata.namespace !== provider.clients.namespace) return;
        for (const i of instances.list()) {
          if (i.spec?.credentialsSecretRef?.name === secret.metadata.name)
            controller.enqueue({ name: i.metadata.name! });
        }
      });

      async function reconcile(req: Request, ctx: ReconcileContext): Promise<Result | void> {
        let instance = instances.get(req.name);
        if (!instance) return provider.clients.forget(req.name);
        // Releases reach the appliance through the instance: it stays while pools (which stay while anything of
        // theirs is left to release) name it.
        const inUse = provider.poolsOf(req.name).length > 0;
        if (instance.metadata.deletionTimestamp) {
          if (!inUse && hasFinalizer(instance, protectInstanceFinalizer)) {
            await removeFinalizer(client, instance, protectInstanceFinalizer);
          }
          return;
        }
        if (inUse && !hasFinalizer(instance, protectInstanceFinalizer)) {
          instance = await addFinalizer(client, instance, protectInstanceFinalizer);
        }
        const check = await provider.checkInstance(instance, ctx.signal);
        await writeReady(client, recorder, instance, check);
        return { requeueAfter: check.status === 'True' ? provider.recheckMs : provider.retryMs };
      }
    },
  };
}
