/**
 * Evaluates `x-kubernetes-validations` CEL rules with a real CEL implementation (@bufbuild/cel), binding
 * `self` (and `oldSelf` for transition rules) with the types the API server gives them: integers as int,
 * objects and maps as CEL maps.
 */
import { type CelInput, type CelValue, celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import { childPath, indexPath, isObject, propertySchema } from './structural.js';
import type { FieldError, JSONSchemaProps, ValidationRule } from './types.js';

type Planned = (ctx?: Record<string, CelInput>) => CelValue | Error;

const env = celEnv();
const planned = new Map<string, Planned>();

/** Parses and plans an expression once; throws with the expression named when it does not parse. */
export function compileCel(expression: string): Planned {
  let fn = planned.get(expression);
  if (!fn) {
    try {
      fn = plan(env, parse(expression)) as Planned;
    } catch (e) {
      throw new Error(`CEL expression does not compile: ${expression}: ${(e as Error).message}`);
    }
    planned.set(expression, fn);
  }
  return fn;
}

/** Converts a JSON value to CEL input following its schema (integers become int, objects become maps). */
export function toCel(schema: JSONSchemaProps | undefined, value: unknown): CelInput {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map((item) => toCel(schema?.items, item));
  if (isObject(value)) {
    return new Map(Object.entries(value).map(([k, v]) => [k, toCel(schema ? propertySchema(schema, k) : undefined, v)]));
  }
  if (typeof value === 'number') {
    const intTyped = schema?.type === 'integer' || schema?.['x-kubernetes-int-or-string'] || (!schema?.type && Number.isInteger(value));
    return intTyped && Number.isInteger(value) ? BigInt(value) : value;
  }
  return value as CelInput;
}

/** Appends a rule's relative fieldPath (`.digest`, `[0]`) to the path of the node that carries the rule. */
const joinFieldPath = (p: string, fieldPath: string) => (p ? `${p}${fieldPath}` : fieldPath.replace(/^\./, ''));

const usesOldSelf = (rule: string) => /\boldSelf\b/.test(rule);

function ruleMessage(rule: ValidationRule, bindings: Record<string, CelInput>): string {
  if (rule.messageExpression) {
    const out = compileCel(rule.messageExpression)(bindings);
    if (typeof out === 'string' && out.length > 0) return out;
  }
  return rule.message ?? `failed rule: ${rule.rule}`;
}

/**
 * Evaluates every rule in the schema against `value` (and `oldValue` on updates). Nodes listed in `skip`
 * (paths with structural errors) and everything below them are not evaluated, as their types are not known.
 */
export function validateCelRules(
  schema: JSONSchemaProps,
  value: unknown,
  options: { path?: string; oldValue?: unknown; skip?: string[] } = {},
): FieldError[] {
  const errors: FieldError[] = [];
  const skip = options.skip ?? [];
  const skipped = (p: string) => skip.some((s) => p === '' || s === p || s.startsWith(`${p}.`) || s.startsWith(`${p}[`));
  const walk = (s: JSONSchemaProps, v: unknown, old: unknown, p: string): void => {
    if (v === undefined || v === null) return;
    const rules = s['x-kubernetes-validations'] ?? [];
    if (rules.length > 0 && !skipped(p)) {
      const bindings: Record<string, CelInput> = { self: toCel(s, v) };
      if (old !== undefined) bindings['oldSelf'] = toCel(s, old);
      for (const rule of rules) {
        if (usesOldSelf(rule.rule) && old === undefined && !rule.optionalOldSelf) continue;
        const result = compileCel(rule.rule)(bindings);
        const at = rule.fieldPath ? joinFieldPath(p, rule.fieldPath) : p;
        if (isCelError(result)) {
          errors.push({ path: at, type: 'Invalid', message: `rule evaluation error: ${rule.rule}: ${result.message}` });
        } else if (result !== true) {
          const type = rule.reason === 'FieldValueForbidden' ? 'Forbidden' : rule.reason === 'FieldValueRequired' ? 'Required' : 'Invalid';
          errors.push({ path: at, type, message: ruleMessage(rule, bindings) });
        }
      }
    }
    if (Array.isArray(v) && s.items) {
      v.forEach((item, i) => walk(s.items!, item, undefined, indexPath(p, i)));
    } else if (isObject(v)) {
      const oldObj = isObject(old) ? old : undefined;
      for (const [key, child] of Object.entries(v)) {
        const childSchema = propertySchema(s, key);
        if (childSchema) walk(childSchema, child, oldObj?.[key], s.properties?.[key] ? childPath(p, key) : indexPath(p, key));
      }
    }
  };
  walk(schema, value, options.oldValue, options.path ?? '');
  return errors;
}
