/**
 * Kubernetes structural-schema semantics over plain JSON values, as the API server applies them to custom
 * resources: prune unknown fields, apply defaults, validate. Pure; used by offline validation and by the kube
 * emulator, so both agree with the CRD we ship.
 */
import type { FieldError, JSONSchemaProps } from './types.js';

type Json = unknown;
type JsonObject = Record<string, Json>;

export const isObject = (v: Json): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export const childPath = (path: string, key: string): string => (path ? `${path}.${key}` : key);
export const indexPath = (path: string, index: number | string): string =>
  typeof index === 'number' ? `${path}[${index}]` : `${path}[${JSON.stringify(index)}]`;

const preservesUnknown = (s: JSONSchemaProps) => s['x-kubernetes-preserve-unknown-fields'] === true;

/** The schema of a map value or object property, or undefined when the key is not declared. */
export function propertySchema(schema: JSONSchemaProps, key: string): JSONSchemaProps | undefined {
  const declared = schema.properties?.[key];
  if (declared) return declared;
  if (typeof schema.additionalProperties === 'object') return schema.additionalProperties;
  return undefined;
}

/**
 * Removes fields the schema does not declare (unless it preserves unknown fields) and nulls of non-nullable
 * fields. Returns the pruned copy and the paths that were dropped, which Strict field validation reports.
 */
export function pruneUnknownFields(schema: JSONSchemaProps, value: Json, path = ''): { value: Json; pruned: string[] } {
  const pruned: string[] = [];
  const walk = (s: JSONSchemaProps | undefined, v: Json, p: string): Json => {
    if (!s) return v;
    if (Array.isArray(v)) return s.items ? v.map((item, i) => walk(s.items, item, indexPath(p, i))) : v;
    if (!isObject(v)) return v;
    if (s['x-kubernetes-embedded-resource'] && !s.properties) return v;
    const out: JsonObject = {};
    for (const [key, child] of Object.entries(v)) {
      const childSchema = propertySchema(s, key);
      const cp = s.properties?.[key] ? childPath(p, key) : s.additionalProperties ? indexPath(p, key) : childPath(p, key);
      if (p === '' && key === 'metadata') {
        out[key] = child; // ObjectMeta is validated by the API machinery, never pruned by the CRD schema
        continue;
      }
      if (!childSchema) {
        if (preservesUnknown(s) || s.additionalProperties === true) out[key] = child;
        else pruned.push(cp);
        continue;
      }
      if (child === null && !childSchema.nullable) continue;
      out[key] = walk(childSchema, child, cp);
    }
    return out;
  };
  const result = walk(schema, value, path);
  return { value: result, pruned };
}

/** Returns a copy with schema defaults applied wherever a field is absent, the way the API server defaults. */
export function applyDefaults(schema: JSONSchemaProps, value: Json): Json {
  if (Array.isArray(value)) return schema.items ? value.map((item) => applyDefaults(schema.items!, item)) : value;
  if (!isObject(value)) return value;
  const out: JsonObject = { ...value };
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    if (out[key] === undefined && child.default !== undefined) out[key] = structuredClone(child.default);
  }
  for (const [key, child] of Object.entries(out)) {
    const childSchema = propertySchema(schema, key);
    if (childSchema) out[key] = applyDefaults(childSchema, child);
  }
  return out;
}

const typeOf = (v: Json): string => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
};

/** Shows a value in an error message without echoing a huge input back. */
export function showValue(v: Json): string {
  const text = typeof v === 'string' ? JSON.stringify(v) : isObject(v) || Array.isArray(v) ? typeOf(v) : String(v);
  return text.length > 80 ? `${text.slice(0, 77)}..."` : text;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function matchesType(schema: JSONSchemaProps, v: Json): boolean {
  if (schema['x-kubernetes-int-or-string']) return typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v));
  switch (schema.type) {
    case undefined:
      return true;
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'object':
      return isObject(v);
    case 'array':
      return Array.isArray(v);
    default:
      return typeof v === schema.type;
  }
}

/** Validates a (pruned, defaulted) value against a structural schema; every problem is returned, none thrown. */
export function validateValue(schema: JSONSchemaProps, value: Json, path = ''): FieldError[] {
  const errors: FieldError[] = [];
  const err = (p: string, type: FieldError['type'], message: string) => errors.push({ path: p, type, message });
  const walk = (s: JSONSchemaProps, v: Json, p: string): void => {
    if (v === null) {
      if (!s.nullable) err(p, 'TypeInvalid', `must be of type ${s.type ?? 'object'}, got null`);
      return;
    }
    if (!matchesType(s, v)) {
      const expected = s['x-kubernetes-int-or-string'] ? 'integer or string' : s.type;
      err(p, 'TypeInvalid', `must be of type ${expected}, got ${typeOf(v)}`);
      return;
    }
    if (s.enum && !s.enum.some((e) => e === v)) {
      err(p, 'NotSupported', `Unsupported value: ${showValue(v)}: supported values: ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`);
    }
    if (typeof v === 'string') {
      if (s.maxLength !== undefined && [...v].length > s.maxLength) err(p, 'TooLong', `Too long: may not be longer than ${s.maxLength} characters`);
      else if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(v)) err(p, 'Invalid', `Invalid value: ${showValue(v)}: should match '${s.pattern}'`);
      if (s.minLength !== undefined && [...v].length < s.minLength) err(p, 'Invalid', `Invalid value: ${showValue(v)}: should be at least ${s.minLength} characters long`);
      if (s.format === 'date-time' && !RFC3339.test(v)) err(p, 'Invalid', `Invalid value: ${showValue(v)}: should be an RFC 3339 date-time`);
    }
    if (typeof v === 'number') {
      if (s.minimum !== undefined && (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum)) {
        err(p, 'Invalid', `Invalid value: ${v}: should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${s.minimum}`);
      }
      if (s.maximum !== undefined && (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum)) {
        err(p, 'Invalid', `Invalid value: ${v}: should be less than ${s.exclusiveMaximum ? '' : 'or equal to '}${s.maximum}`);
      }
    }
    if (Array.isArray(v)) {
      if (s.maxItems !== undefined && v.length > s.maxItems) {
        err(p, 'TooMany', `Too many: ${v.length}: must have at most ${s.maxItems} items`);
        return;
      }
      if (s.minItems !== undefined && v.length < s.minItems) err(p, 'Invalid', `Invalid value: ${v.length} items: should have at least ${s.minItems} items`);
      const listType = s['x-kubernetes-list-type'];
      if (listType === 'set' || s.uniqueItems) {
        const seen = new Set<string>();
        v.forEach((item, i) => {
          const key = JSON.stringify(item);
          if (seen.has(key)) err(indexPath(p, i), 'Duplicate', `Duplicate value: ${showValue(item)}`);
          seen.add(key);
        });
      }
      if (listType === 'map') {
        const keys = s['x-kubernetes-list-map-keys'] ?? [];
        const seen = new Set<string>();
        v.forEach((item, i) => {
          if (!isObject(item)) return;
          const key = JSON.stringify(keys.map((k) => item[k]));
          if (seen.has(key)) err(indexPath(p, i), 'Duplicate', `Duplicate value: ${JSON.stringify(Object.fromEntries(keys.map((k) => [k, item[k]])))}`);
          seen.add(key);
        });
      }
      if (s.items) v.forEach((item, i) => walk(s.items!, item, indexPath(p, i)));
      return;
    }
    if (isObject(v)) {
      const count = Object.keys(v).length;
      if (s.maxProperties !== undefined && count > s.maxProperties) {
        err(p, 'TooMany', `Too many: ${count}: must have at most ${s.maxProperties} items`);
        return;
      }
      if (s.minProperties !== undefined && count < s.minProperties) err(p, 'Invalid', `Invalid value: ${count} properties: should have at least ${s.minProperties} properties`);
      for (const name of s.required ?? []) {
        if (v[name] === undefined) err(childPath(p, name), 'Required', 'Required value');
      }
      for (const [key, child] of Object.entries(v)) {
        const declared = s.properties?.[key];
        if (declared) walk(declared, child, childPath(p, key));
        else if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, child, indexPath(p, key));
      }
    }
  };
  walk(schema, value, path);
  return errors;
}
