/**
 * Custom resource admission with the CRD's structural schema, reusing @slmops/api's generic implementation:
 * pruning with fieldValidation (Strict/Warn/Ignore), defaulting, OpenAPI validation and CEL rules.
 */
import { applyDefaults, pruneUnknownFields, validateCelRules, validateValue, type FieldError, type JSONSchemaProps } from '@slmops/api';
import { badRequest } from './errors.js';
import type { KubeObject } from './types.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** The value at a dotted error path such as `spec.rollout.waves[1].percent`. */
export function valueAtPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+|"[^"]*")\]/g)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const key = m[1] ?? (m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : Number(m[2]));
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

/**
 * Prunes, defaults and validates a custom resource. Unknown fields fail the request under Strict (400) and
 * add warnings under Warn; schema and CEL errors are returned for the caller's 422.
 */
export function admitCustomResource(
  schema: JSONSchemaProps,
  obj: KubeObject,
  old: KubeObject | undefined,
  fieldValidation: FieldValidation,
  warnings: string[],
): { object: KubeObject; errors: FieldError[] } {
  // apiVersion, kind and metadata are the API machinery's, never pruned by the CRD schema.
  const { apiVersion: _a, kind: _k, ...rest } = obj;
  const { value, pruned } = pruneUnknownFields(schema, rest);
  if (pruned.length > 0) {
    if (fieldValidation === 'Strict') {
      const version = obj.apiVersion.split('/').pop();
      throw badRequest(`${obj.kind} in version "${version}" cannot be handled as a ${obj.kind}: strict decoding error: ${pruned.map((p) => `unknown field "${p}"`).join(', ')}`);
    }
    if (fieldValidation === 'Warn') for (const p of pruned) warnings.push(`unknown field "${p}"`);
  }
  const defaulted = applyDefaults(schema, value) as KubeObject;
  defaulted.apiVersion = obj.apiVersion;
  defaulted.kind = obj.kind;
  defaulted.metadata = obj.metadata;
  const structural = validateValue(schema, defaulted).filter((e) => e.path !== 'metadata' && !e.path.startsWith('metadata.'));
  const cel = validateCelRules(schema, defaulted, { ...(old ? { oldValue: old } : {}), skip: structural.map((e) => e.path) });
  return { object: defaulted, errors: [...structural, ...cel] };
}
