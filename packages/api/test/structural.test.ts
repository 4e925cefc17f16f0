import { describe, expect, it } from 'vitest';
import { applyDefaults, type JSONSchemaProps, pruneUnknownFields, toCel, validateCelRules, validateValue } from '../src/index.js';

const schema: JSONSchemaProps = {
  type: 'object',
  properties: {
    a: { type: 'integer', default: 1 },
    nested: { type: 'object', default: {}, properties: { b: { type: 'string', default: 'x' } } },
    free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    list: { type: 'array', maxItems: 3, items: { type: 'object', properties: { n: { type: 'integer' } }, 'x-kubernetes-validations': [{ rule: 'self.n > 0', message: 'n must be positive' }] } },
    old: { type: 'integer', 'x-kubernetes-validations': [{ rule: 'self >= oldSelf', message: 'may not decrease' }] },
  },
};

describe('structural schema semantics', () => {
  it('defaults absent fields, recursing into defaulted objects', () => {
    expect(applyDefaults(schema, {})).toEqual({ a: 1, nested: { b: 'x' } });
    expect(applyDefaults(schema, { a: 5, nested: { b: 'y' } })).toEqual({ a: 5, nested: { b: 'y' } });
  });

  it('prunes undeclared fields but keeps preserve-unknown-fields subtrees and reports the pruned paths', () => {
    const out = pruneUnknownFields(schema, { a: 1, zz: 2, free: { anything: [1] }, list: [{ n: 1, m: 2 }] });
    expect(out.value).toEqual({ a: 1, free: { anything: [1] }, list: [{ n: 1 }] });
    expect(out.pruned).toEqual(['zz', 'list[0].m']);
  });

  it('drops nulls of non-nullable fields', () => {
    expect(pruneUnknownFields(schema, { a: null }).value).toEqual({});
  });

  it('validates per item with indexed paths', () => {
    expect(validateValue(schema, { list: [{ n: 'x' }] })).toEqual([{ path: 'list[0].n', type: 'TypeInvalid', message: 'must be of type integer, got string' }]);
  });

  it('evaluates CEL per list item, with integers bound as int', () => {
    expect(validateCelRules(schema, { list: [{ n: 1 }, { n: 0 }] })).toEqual([{ path: 'list[1]', type: 'Invalid', message: 'n must be positive' }]);
    expect(toCel({ type: 'integer' }, 3)).toBe(3n);
    expect(toCel({ type: 'number' }, 3)).toBe(3);
  });

  it('evaluates transition rules only when there is an old object', () => {
    expect(validateCelRules(schema, { old: 1 })).toEqual([]);
    expect(validateCelRules(schema, { old: 1 }, { oldValue: { old: 2 } })).toEqual([{ path: 'old', type: 'Invalid', message: 'may not decrease' }]);
  });

  it('skips rules on nodes with structural errors', () => {
    expect(validateCelRules(schema, { list: [{ n: 'x' }] }, { skip: ['list[0].n'] })).toEqual([]);
  });
});
