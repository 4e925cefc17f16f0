/** Validation of plugin output against the Kubernetes rules the API server would apply to the pod. */
import { isQuantity, parseQuantity } from './quantity.js';
import type { PodPatch, Toleration } from './public-api.js';

export interface PatchError {
  /** JSON-ish path inside the patch, e.g. "resources.limits[nvidia.com/gpu]". */
  path: string;
  message: string;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const EFFECTS = new Set(['NoSchedule', 'PreferNoSchedule', 'NoExecute']);

/** True for a DNS-1123 label (lower-case alphanumerics and '-', at most 63 characters). */
export const isDnsLabel = (s: string): boolean => s.length <= 63 && DNS_LABEL.test(s);

/** True for a Kubernetes qualified name: `[prefix/]name`, prefix a DNS subdomain, name at most 63 characters. */
export function isQualifiedName(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2 && !(parts[0]!.length <= 253 && DNS_SUBDOMAIN.test(parts[0]!))) return false;
  return name.length <= 63 && QUALIFIED_NAME_PART.test(name);
}

export const isLabelValue = (value: string): boolean => value.length <= 63 && LABEL_VALUE.test(value);

const isExtendedResource = (name: string): boolean => name.includes('/') && !name.startsWith('kubernetes.io/') && !name.startsWith('requests.');

function tolerationErrors(t: Toleration, path: string): PatchError[] {
  const errors: PatchError[] = [];
  const operator = t.operator ?? 'Equal';
  if (t.key !== undefined && t.key !== '' && !isQualifiedName(t.key)) errors.push({ path: `${path}.key`, message: `"${t.key}" is not a qualified name` });
  if ((t.key === undefined || t.key === '') && operator !== 'Exists') errors.push({ path: `${path}.operator`, message: 'must be Exists when key is empty' });
  if (operator !== 'Exists' && operator !== 'Equal') errors.push({ path: `${path}.operator`, message: `"${String(operator)}" is not Exists or Equal` });
  if (operator === 'Exists' && t.value !== undefined && t.value !== '') errors.push({ path: `${path}.value`, message: 'must be empty when operator is Exists' });
  if (t.value !== undefined && !isLabelValue(t.value)) errors.push({ path: `${path}.value`, message: `"${t.value}" is not a valid label value` });
  if (t.effect !== undefined && !EFFECTS.has(t.effect)) errors.push({ path: `${path}.effect`, message: `"${String(t.effect)}" is not NoSchedule, PreferNoSchedule or NoExecute` });
  if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') errors.push({ path: `${path}.tolerationSeconds`, message: 'only allowed with effect NoExecute' });
  return errors;
}

/** Every way the patch would be rejected by the API server or make a pod unschedulable; [] when valid. */
export function validatePodPatch(patch: PodPatch): PatchError[] {
  const errors: PatchError[] = [];
  const requests = patch.resources.requests ?? {};
  const limits = patch.resources.limits ?? {};
  for (const [kind, map] of [['requests', requests], ['limits', limits]] as const) {
    for (const [name, value] of Object.entries(map)) {
      const path = `resources.${kind}[${name}]`;
      if (!isQualifiedName(name)) errors.push({ path, message: `"${name}" is not a valid resource name` });
      if (!isQuantity(value)) errors.push({ path, message: `"${String(value)}" is not a quantity` });
      else if ((parseQuantity(value) ?? -1) < 0) errors.push({ path, message: 'must not be negative' });
      if (isExtendedResource(name) && isQuantity(value) && !Number.isInteger(parseQuantity(value))) {
        errors.push({ path, message: 'extended resources must be whole numbers' });
      }
    }
  }
  for (const [name, value] of Object.entries(requests)) {
    const limit = limits[name];
    if (isExtendedResource(name) && limit !== undefined && parseQuantity(limit) !== parseQuantity(value)) {
      errors.push({ path: `resources.requests[${name}]`, message: 'extended resources cannot be overcommitted: request must equal limit' });
    } else if (limit !== undefined && (parseQuantity(value) ?? 0) > (parseQuantity(limit) ?? Infinity)) {
      errors.push({ path: `resources.requests[${name}]`, message: `request ${value} exceeds limit ${limit}` });
    }
  }
  for (const [key, value] of Object.entries(patch.nodeSelector)) {
    if (!isQualifiedName(key)) errors.push({ path: `nodeSelector[${key}]`, message: `"${key}" is not a valid label key` });
    if (typeof value !== 'string' || !isLabelValue(value)) errors.push({ path: `nodeSelector[${key}]`, message: `"${String(value)}" is not a valid label value` });
  }
  patch.tolerations.forEach((t, i) => errors.push(...tolerationErrors(t, `tolerations[${i}]`)));
  if (patch.runtimeClassName !== undefined && !(patch.runtimeClassName.length <= 253 && DNS_SUBDOMAIN.test(patch.runtimeClassName))) {
    errors.push({ path: 'runtimeClassName', message: `"${patch.runtimeClassName}" is not a DNS subdomain` });
  }
  const names = new Set<string>();
  patch.env.forEach((e, i) => {
    if (!ENV_NAME.test(e.name)) errors.push({ path: `env[${i}].name`, message: `"${e.name}" is not a valid environment variable name` });
    if (names.has(e.name)) errors.push({ path: `env[${i}].name`, message: `duplicate environment variable "${e.name}"` });
    if (typeof e.value !== 'string') errors.push({ path: `env[${i}].value`, message: 'must be a string' });
    names.add(e.name);
  });
  if (!Number.isInteger(patch.threads) || patch.threads < 1 || patch.threads > 1024) {
    errors.push({ path: 'threads', message: `${patch.threads} is not an integer between 1 and 1024` });
  }
  return errors;
}
