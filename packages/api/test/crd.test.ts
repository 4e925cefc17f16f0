import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderOpenAPISchemaModule } from '../src/crd.js';
import { compileCel, type JSONSchemaProps, PLUGIN_NAMES, renderCRDYaml, slmDeploymentCRD, validateSLMDeployment } from '../src/index.js';
import { aSLMDeployment } from './fixtures.js';

const checkedIn = join(import.meta.dirname, '../../../charts/slmops/crds/slmdeployments.slmops.io.yaml');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

function walkSchema(schema: JSONSchemaProps, path: string, visit: (s: JSONSchemaProps, path: string) => void): void {
  visit(schema, path);
  for (const [k, v] of Object.entries(schema.properties ?? {})) walkSchema(v, `${path}.${k}`, visit);
  if (typeof schema.additionalProperties === 'object') walkSchema(schema.additionalProperties, `${path}[*]`, visit);
  if (schema.items) walkSchema(schema.items, `${path}[]`, visit);
}

describe('generated CRD', () => {
  const crd: Any = parse(readFileSync(checkedIn, 'utf8'));
  const version = crd.spec.versions[0];
  const schema: JSONSchemaProps = version.schema.openAPIV3Schema;

  it('is current: the checked-in YAML equals the generator output (run `npx nx run @slmops/api:generate`)', () => {
    expect(readFileSync(checkedIn, 'utf8')).toBe(renderCRDYaml());
  });

  it('describes every field of the spec and status, so kubectl explain documents the API', () => {
    const undocumented: string[] = [];
    for (const part of ['spec', 'status']) {
      walkSchema(schema.properties![part]!, `.${part}`, (s, path) => {
        // Items and map values are not fields: kubectl explain shows the list's or map's own description.
        if (!s.description && !/(\[\]|\[\*\])$/.test(path)) undocumented.push(path);
      });
    }
    expect(undocumented).toEqual([]);
  });

  it('lists the known hardware plugins as an enum, and validation refuses any other', () => {
    expect(schema.properties!['spec']!.properties!['hardware']!.properties!['plugins']!.items!.enum).toEqual([...PLUGIN_NAMES]);
    const d = aSLMDeployment();
    const bad = { ...d, spec: { ...d.spec, hardware: { plugins: ['nvidia', 'tpu'] } } };
    expect(validateSLMDeployment(bad)).toEqual([
      expect.objectContaining({ path: 'spec.hardware.plugins[1]', type: 'NotSupported', message: expect.stringContaining('"tpu"') }),
    ]);
  });

  it('validation reads a current copy of the schema (src/openapi/slmdeployment-schema.generated.ts; same generate command)', () => {
    const generated = join(import.meta.dirname, '../src/openapi/slmdeployment-schema.generated.ts');
    expect(readFileSync(generated, 'utf8')).toBe(renderOpenAPISchemaModule());
  });

  it('carries a do-not-edit banner', () => {
    expect(readFileSync(checkedIn, 'utf8').split('\n')[0]).toMatch(/DO NOT EDIT/);
  });

  it('is an apiextensions.k8s.io/v1 CRD with the right names', () => {
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(crd.kind).toBe('CustomResourceDefinition');
    expect(crd.metadata.name).toBe('slmdeployments.slmops.io');
    expect(crd.spec.group).toBe('slmops.io');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names).toEqual({
      kind: 'SLMDeployment',
      listKind: 'SLMDeploymentList',
      plural: 'slmdeployments',
      singular: 'slmdeployment',
      shortNames: ['slmd'],
      categories: ['slmops'],
    });
    expect(crd.spec.versions).toHaveLength(1);
    expect(version).toMatchObject({ name: 'v1alpha1', served: true, storage: true });
  });

  it('has status and scale subresources pointing at real schema fields', () => {
    expect(version.subresources.status).toEqual({});
    expect(version.subresources.scale).toEqual({
      specReplicasPath: '.spec.placement.replicas',
      statusReplicasPath: '.status.replicas',
      labelSelectorPath: '.status.selector',
    });
    const at = (p: string) => p.slice(1).split('.').reduce<Any>((s, k) => s?.properties?.[k], schema);
    expect(at('.spec.placement.replicas').type).toBe('integer');
    expect(at('.status.replicas').type).toBe('integer');
    expect(at('.status.selector').type).toBe('string');
  });

  it('has the printer columns, never conditions[0]', () => {
    const columns = version.additionalPrinterColumns as Array<{ name: string; jsonPath: string; priority?: number }>;
    expect(columns.filter((c) => !c.priority).map((c) => c.name)).toEqual(['Model', 'Version', 'Ready', 'Updated', 'Phase', 'Age']);
    expect(columns.find((c) => c.name === 'Ready')!.jsonPath).toBe('.status.conditions[?(@.type=="Ready")].status');
    for (const c of columns) expect(c.jsonPath).not.toMatch(/conditions\[0\]/);
  });

  it('is structural: every node typed, free-form only where marked', () => {
    const untyped: string[] = [];
    walkSchema(schema, '', (s, path) => {
      const typed = s.type !== undefined || s['x-kubernetes-int-or-string'] || s['x-kubernetes-preserve-unknown-fields'];
      if (!typed) untyped.push(path);
      if (s.additionalProperties === false) untyped.push(`${path} (additionalProperties: false)`);
      if (s.type === 'object' && !s.properties && !s.additionalProperties && path !== '.metadata' && !s['x-kubernetes-preserve-unknown-fields']) {
        untyped.push(`${path} (object without properties)`);
      }
      if (s.anyOf && !s['x-kubernetes-int-or-string']) untyped.push(`${path} (anyOf)`);
    });
    expect(untyped).toEqual([]);
  });

  it('declares defaults in the schema', () => {
    const spec = schema.properties!.spec!;
    expect(spec.properties!.placement!.properties!.mode!.default).toBe('Fleet');
    expect(spec.properties!.rollout!.properties!.waves!.default).toEqual([{ percent: 10, pause: '5m' }, { percent: 50, pause: '5m' }, { percent: 100 }]);
    expect(spec.properties!.rollout!.default).toEqual({});
    expect(spec.properties!.rollout!.properties!.offline!.properties!.maxOfflinePercent!.default).toBe(20);
    expect(spec.properties!.hardware!.properties!.plugins!.default).toEqual(['cpu']);
  });

  it('declares the cross-field rules as CEL with messages, each compiling', () => {
    const rules: Array<{ path: string; rule: string; message?: string }> = [];
    walkSchema(schema, '', (s, path) => {
      for (const r of s['x-kubernetes-validations'] ?? []) rules.push({ path, ...r });
    });
    const messages = rules.map((r) => r.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        'replicas is only allowed when mode is Replicated',
        'digest is required unless uri is a file:// path',
        'the last wave must be 100 percent',
        'wave percents must increase strictly',
        'autoscaling is only allowed when placement.mode is Replicated',
        'minReplicas must not exceed maxReplicas',
      ]),
    );
    for (const r of rules) {
      expect(r.message, r.rule).toBeTruthy();
      expect(() => compileCel(r.rule)).not.toThrow();
    }
    const offline = schema.properties!.spec!.properties!.rollout!.properties!.offline!.properties!.maxOfflinePercent!;
    expect([offline.minimum, offline.maximum]).toEqual([0, 100]);
  });

  it('bounds every string, list and map that a CEL rule can reach', () => {
    const unbounded: string[] = [];
    walkSchema(schema.properties!.spec!, '.spec', (s, path) => {
      if (s.type === 'string' && s.maxLength === undefined && s.enum === undefined && s.pattern === undefined) unbounded.push(path);
      if (s.type === 'array' && s.maxItems === undefined) unbounded.push(path);
      if (s.type === 'object' && s.additionalProperties && s.maxProperties === undefined) unbounded.push(path);
    });
    expect(unbounded).toEqual([]);
  });

  it('builds the same object every time (deterministic generator)', () => {
    expect(JSON.stringify(slmDeploymentCRD())).toBe(JSON.stringify(slmDeploymentCRD()));
  });
});
