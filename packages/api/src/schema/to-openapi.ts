/**
 * Turns zod's JSON Schema (OpenAPI 3.0 flavour) into a Kubernetes structural schema: no
 * `additionalProperties: false`, int-or-string collapsed to its Kubernetes form, embedded ObjectMeta reduced to
 * `type: object`, and no unbounded safe-integer limits.
 */
import { z } from 'zod';
import type { JSONSchemaProps } from '../openapi/types.js';
import { K8S_INT_OR_STRING } from './primitives.js';

const DROPPED_KEYS = new Set(['$schema', 'propertyNames', 'id', '$id']);

export function toStructuralSchema(schema: z.ZodType): JSONSchemaProps {
  const raw = z.toJSONSchema(schema, { io: 'input', target: 'openapi-3.0', unrepresentable: 'throw' });
  return structural(raw as Record<string, unknown>);
}

function structural(node: Record<string, unknown>): JSONSchemaProps {
  if (node['x-kubernetes-object-meta']) return { type: 'object' };
  if (node[K8S_INT_OR_STRING]) {
    const anyOf = (node['anyOf'] as Array<Record<string, unknown>> | undefined) ?? [];
    const pattern = anyOf.find((s) => s['type'] === 'string')?.['pattern'];
    const out: JSONSchemaProps = { [K8S_INT_OR_STRING]: true, anyOf: [{ type: 'integer' }, { type: 'string' }] };
    if (typeof pattern === 'string') out.pattern = pattern;
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED_KEYS.has(key)) continue;
    if (key === 'additionalProperties') {
      if (value !== false) out[key] = structural(value as Record<string, unknown>);
      continue;
    }
    if ((key === 'minimum' || key === 'maximum') && Math.abs(value as number) >= Number.MAX_SAFE_INTEGER) continue;
    if (key === 'properties') {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, Record<string, unknown>>).map(([k, v]) => [k, structural(v)]),
      );
      continue;
    }
    if (key === 'items') {
      out[key] = structural(value as Record<string, unknown>);
      continue;
    }
    out[key] = value;
  }
  if (out['type'] === 'object' && out['properties'] === undefined && out['additionalProperties'] === undefined) {
    throw new Error(`object schema without properties is not structural: ${JSON.stringify(node)}`);
  }
  return out as JSONSchemaProps;
}
