// The Ready condition of InfobloxInstance and InfobloxIPPool, as both reconcilers write it: for the current
// generation, only when it changes, with a Warning Event when it turns False with a new reason.
import { sameJSON, type Condition } from '../../api/index.ts';
import type { KubeObject, ResourceClient } from '../../kube/index.ts';
import { patchStatus, setCondition, type EventRecorder } from '../../runtime/index.ts';

/** A Ready condition as a check finds it. */
export interface Check {
  status: 'True' | 'False';
  reason: string;
  message: string;
}

type WithStatus = KubeObject & { status?: { conditions?: unknown[]; observedGeneration?: number } };

/** Writes `check` as the object's Ready condition if it changes it; returns the object as written (or as it was). */
export async function writeReady<T extends WithStatus>(
  client: ResourceClient<T>,
  recorder: EventRecorder,
  obj: T,
  check: Check,
  opts: { quiet?: (check: Check) => boolean } = {},
): Promise<T> {
  const generation = obj.metadata.generation;
  const before = (obj.status?.conditions ?? []) as Condition[];
  const conditions = setCondition(before, { type: 'Ready', ...check }, generation);
  const status = { ...obj.status, conditions, observedGeneration: generation };
  if (sameJSON(status, obj.status ?? {})) return obj;
  const written = await patchStatus(client, obj, status);
  const was = before.find((c) => c.type === 'Ready');
  if (check.status === 'False' && was?.reason !== check.reason && !opts.quiet?.(check)) {
    recorder.event(written, 'Warning', check.reason, check.message);
  }
  return written;
}
