// Which InfobloxInstance a claim's InfobloxIPPools use (spec 01 §1.2: the reference never set it, so its pools could
// not work). Deterministic, and sticky: a pool already on an instance stays there unless the claim names another,
// since moving a pool with allocations to another appliance would orphan its host records.
import { infobloxInstanceAnnotation, Reasons } from './kinds.ts';

export interface InstanceChoice {
  /** The chosen instance, or undefined with `reason` and `message` saying why none fits. */
  readonly name: string | undefined;
  readonly reason: string;
  readonly message: string;
}

export interface InstanceInputs {
  /** The claim's `k0rdent.mirantis.com/infoblox-instance` annotation. */
  readonly annotation: string | undefined;
  /** The instance the claim's existing pool uses. */
  readonly current: string | undefined;
  /** The manager's default instance. */
  readonly defaultInstance: string | undefined;
  /** Names of the InfobloxInstances that exist. */
  readonly instances: readonly string[];
}

const how =
  `name one with the annotation ${infobloxInstanceAnnotation} on the claim, or configure a default instance ` +
  `on the manager`;

export function chooseInstance(inputs: InstanceInputs): InstanceChoice {
  const exists = (name: string) => inputs.instances.includes(name);
  const found = (name: string, why: string): InstanceChoice => ({ name, reason: 'Chosen', message: why });
  const missing = (name: string, from: string): InstanceChoice => ({
    name: undefined,
    reason: Reasons.InfobloxInstanceNotFound,
    message: `InfobloxInstance ${name} (${from}) does not exist`,
  });

  if (inputs.annotation) {
    return exists(inputs.annotation)
      ? found(inputs.annotation, `annotation ${infobloxInstanceAnnotation}`)
      : missing(inputs.annotation, `named by the annotation ${infobloxInstanceAnnotation}`);
  }
  if (inputs.current && exists(inputs.current)) return found(inputs.current, 'the instance the pool already uses');
  if (inputs.defaultInstance) {
    return exists(inputs.defaultInstance)
      ? found(inputs.defaultInstance, "the manager's default instance")
      : missing(inputs.defaultInstance, "the manager's default instance");
  }
  const sorted = [...inputs.instances].sort();
  if (sorted.length === 1) return found(sorted[0]!, 'the only InfobloxInstance');
  if (sorted.length === 0) {
    return {
      name: undefined,
      reason: Reasons.NoInfobloxInstance,
      message: `no InfobloxInstance exists: create one, or ${how}`,
    };
  }
  const listed = sorted.slice(0, 5).join(', ') + (sorted.length > 5 ? ', ...' : '');
  return {
    name: undefined,
    reason: Reasons.InfobloxInstanceAmbiguous,
    message: `${sorted.length} InfobloxInstances exist (${listed}): ${how}`,
  };
}
