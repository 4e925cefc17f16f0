/**
 * Offline validation of SLMDeployment manifests with the same semantics the API server applies to the CRD. Also
 * the `@slmops/api/validate` entry point: it reads the precomputed CRD schema, so it loads neither zod nor the
 * schema builder (a test keeps that module equal to slmDeploymentOpenAPISchema()).
 */
import { API_VERSION, KIND } from './meta/keys.js';
import { validateCelRules } from './openapi/cel.js';
import { SLMDEPLOYMENT_OPENAPI_SCHEMA } from './openapi/slmdeployment-schema.generated.js';
import { applyDefaults, isObject, pruneUnknownFields, showValue, validateValue } from './openapi/structural.js';
import type { FieldError, JSONSchemaProps } from './openapi/types.js';
import type { SLMDeployment } from './schema/slmdeployment.js';

export { GROUP } from './meta/keys.js';
export type { FieldError } from './openapi/types.js';

const crdSchema = (): JSONSchemaProps => SLMDEPLOYMENT_OPENAPI_SCHEMA;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function validateMetadata(metadata: unknown): FieldError[] {
  if (metadata === undefined) return [{ path: 'metadata.name', type: 'Required', message: 'Required value: name is required' }];
  if (!isObject(metadata)) return [{ path: 'metadata', type: 'TypeInvalid', message: 'must be of type object' }];
  const errors: FieldError[] = [];
  const { name, namespace } = metadata;
  if (name === undefined) errors.push({ path: 'metadata.name', type: 'Required', message: 'Required value: name is required' });
  else if (typeof name !== 'string') errors.push({ path: 'metadata.name', type: 'TypeInvalid', message: 'must be of type string' });
  else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    errors.push({
      path: 'metadata.name',
      type: 'Invalid',
      message: `Invalid value: ${showValue(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and be at most 253 characters`,
    });
  }
  if (namespace !== undefined && (typeof namespace !== 'string' || namespace.length > 63 || !DNS_LABEL.test(namespace))) {
    errors.push({ path: 'metadata.namespace', type: 'Invalid', message: `Invalid value: ${showValue(namespace)}: must be an RFC 1123 label` });
  }
  for (const field of ['labels', 'annotations'] as const) {
    const map = metadata[field];
    if (map === undefined) continue;
    if (!isObject(map) || Object.values(map).some((v) => typeof v !== 'string')) {
      errors.push({ path: `metadata.${field}`, type: 'TypeInvalid', message: 'must be a map of string to string' });
    }
  }
  return errors;
}

/**
 * Every problem with a manifest, each naming its field path (`spec.rollout.waves[1].percent`): apiVersion and
 * kind, metadata, unknown fields (as Strict field validation reports them), schema violations after defaulting,
 * then the CRD's CEL rules. An empty list means the API server would accept the object.
 */
export function validateSLMDeployment(obj: unknown): FieldError[] {
  if (!isObject(obj)) return [{ path: '', type: 'TypeInvalid', message: 'an SLMDeployment must be a YAML/JSON object' }];
  const errors: FieldError[] = [];
  if (obj['apiVersion'] !== API_VERSION) {
    errors.push({ path: 'apiVersion', type: 'Invalid', message: `Invalid value: ${showValue(obj['apiVersion'])}: must be ${API_VERSION}` });
  }
  if (obj['kind'] !== KIND) errors.push({ path: 'kind', type: 'Invalid', message: `Invalid value: ${showValue(obj['kind'])}: must be ${KIND}` });
  errors.push(...validateMetadata(obj['metadata']));

  const { value: pruned, pruned: unknown } = pruneUnknownFields(crdSchema(), obj);
  errors.push(...unknown.map((path): FieldError => ({ path, type: 'Forbidden', message: `unknown field "${path}"` })));
  const defaulted = applyDefaults(crdSchema(), pruned);
  const structural = validateValue(crdSchema(), defaulted);
  errors.push(...structural);
  errors.push(...validateCelRules(crdSchema(), defaulted, { skip: structural.map((e) => e.path) }));
  return errors;
}

/** Thrown by parseSLMDeployment; `problems` lists every field error. */
export class InvalidSLMDeploymentError extends Error {
  constructor(readonly problems: FieldError[]) {
    super(`invalid SLMDeployment: ${problems.map((p) => `${p.path || '<root>'}: ${p.message}`).join('; ')}`);
    this.name = 'InvalidSLMDeploymentError';
  }
}

/** Validates and returns the object with every schema default applied, or throws InvalidSLMDeploymentError. */
export function parseSLMDeployment(obj: unknown): SLMDeployment {
  const problems = validateSLMDeployment(obj);
  if (problems.length > 0) throw new InvalidSLMDeploymentError(problems);
  return applyDefaults(crdSchema(), pruneUnknownFields(crdSchema(), obj).value) as SLMDeployment;
}

/** `path: message` lines, one per problem, for terminals and status messages. */
export const formatFieldErrors = (problems: readonly FieldError[]): string =>
  problems.map((p) => `${p.path || '<root>'}: ${p.message}`).join('\n');
