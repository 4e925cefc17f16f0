/** Pure building blocks plugins use to write pod patches, and the host uses to apply overrides. */
import type { SLMDeploymentSpec } from '@slmops/api';
import { parseQuantity } from './quantity.js';
import type { EnvVar, PodPatch, ResourceRequirements, ResourceRequirementsInput, ScheduleRequest, Toleration } from './public-api.js';

/** One entry of `spec.hardware.overrides`. */
export type HardwareOverride = NonNullable<SLMDeploymentSpec['hardware']['overrides']>[number];

const MAX_THREADS = 1024;

/**
 * ORT intra-op threads for a CPU budget: whole cores of the CPU limit (at least 1); without a limit, the node's
 * cores; without either, 1. Fractional limits round down because a throttled extra thread only adds contention.
 */
export function threadsForCpu(cpuLimit: string | number | undefined, nodeCores?: number): number {
  const limit = parseQuantity(cpuLimit);
  const budget = limit !== undefined && limit > 0 ? limit : nodeCores !== undefined && nodeCores > 0 ? nodeCores : 1;
  return Math.min(MAX_THREADS, Math.max(1, Math.floor(budget)));
}

/** The CPU limit of a resources block, or its request when no limit is set. */
export const cpuBudget = (resources: ResourceRequirementsInput | undefined): string | number | undefined =>
  resources?.limits?.cpu ?? resources?.requests?.cpu;

/** Base resources plus `count` of an extended device resource, set equally in requests and limits. */
export function withDeviceResource(base: ResourceRequirementsInput | undefined, resourceName: string, count: number): ResourceRequirements {
  const n = String(Math.max(1, Math.floor(count)));
  return copyResources({
    requests: { ...base?.requests, [resourceName]: n },
    limits: { ...base?.limits, [resourceName]: n },
  });
}

/** Copies a resources block, dropping empty maps, so patches compare equal regardless of input shape. */
export function copyResources(resources: ResourceRequirementsInput | undefined): ResourceRequirements {
  const out: ResourceRequirements = {};
  if (resources?.requests && Object.keys(resources.requests).length) out.requests = sortRecord(stringify(resources.requests));
  if (resources?.limits && Object.keys(resources.limits).length) out.limits = sortRecord(stringify(resources.limits));
  return out;
}

export function sortRecord<V>(record: Readonly<Record<string, V>>): Record<string, V> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Env vars merged by name (later wins), sorted by name: deterministic pod templates. */
export function mergeEnv(...lists: ReadonlyArray<readonly EnvVar[] | undefined>): EnvVar[] {
  const byName = new Map<string, string>();
  for (const list of lists) for (const e of list ?? []) byName.set(e.name, e.value);
  return [...byName.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, value]) => ({ name, value }));
}

/**
 * Pure. A node class's override applied to the plugin's patch: resource entries replace the plugin's per key,
 * env merges by name, threads replaces; when the override sets a CPU limit but no threads, threads follow it.
 */
export function applyOverride(patch: PodPatch, override: HardwareOverride | undefined): PodPatch {
  if (!override) return patch;
  const resources = copyResources({
    requests: { ...patch.resources.requests, ...stringify(override.resources?.requests) },
    limits: { ...patch.resources.limits, ...stringify(override.resources?.limits) },
  });
  const overrideCpu = override.resources?.limits?.cpu ?? override.resources?.requests?.cpu;
  const threads = override.threads ?? (overrideCpu !== undefined ? threadsForCpu(overrideCpu) : patch.threads);
  return { ...patch, resources, env: mergeEnv(patch.env, override.env), threads };
}

function stringify(record: Readonly<Record<string, string | number>> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(record ?? {}).map(([k, v]) => [k, String(v)]));
}

export interface AcceleratorPatchOptions {
  /** Extended resource requested `devicesPerPod` times (default 1); none when absent. */
  resourceName?: string;
  tolerations?: readonly Toleration[];
  runtimeClassName?: string | null;
  env?: readonly EnvVar[];
  /** Extra node selector entries beside kubernetes.io/os=linux and the device's arch. */
  nodeSelector?: Readonly<Record<string, string>>;
}

/**
 * Pure. The usual patch of a Linux accelerator pod: base resources plus the device resource, os and arch
 * selector, tolerations, runtime class, sorted env, and threads from the CPU budget or the node's cores.
 */
export function acceleratorPatch(request: ScheduleRequest, options: AcceleratorPatchOptions = {}): PodPatch {
  const resources = options.resourceName
    ? withDeviceResource(request.resources, options.resourceName, request.devicesPerPod ?? 1)
    : copyResources(request.resources);
  return {
    resources,
    nodeSelector: sortRecord({
      'kubernetes.io/os': 'linux',
      ...(request.device.arch ? { 'kubernetes.io/arch': request.device.arch } : {}),
      ...options.nodeSelector,
    }),
    tolerations: (options.tolerations ?? []).map((t) => ({ ...t })),
    ...(options.runtimeClassName ? { runtimeClassName: options.runtimeClassName } : {}),
    env: mergeEnv(options.env),
    threads: threadsForCpu(cpuBudget(resources), request.device.cpus),
  };
}
