/**
 * values.schema.json (and the templates' own checks) refuse bad values with a message naming the value:
 * each case writes a values file and runs the real `helm lint --strict` and `helm template` on it.
 */
import { ensureKubeTools, runTool } from '@slmops/kube-emulator/testing';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { CHART_DIR, helmLint, helmTemplate } from '../src/helm.js';

interface BadValues {
  kind: string;
  values: Record<string, unknown>;
  /** What the error must say: the value's path and why. */
  message: RegExp;
  /** Caught by a template `fail` rather than the schema: `helm lint` reports it as a render error. */
  byTemplate?: true;
}

const cases: BadValues[] = [
  { kind: 'replicas outside 1|2', values: { operator: { replicas: 3 } }, message: /at '\/operator\/replicas': value must be one of 1, 2/ },
  {
    kind: 'two replicas without leader election',
    values: { operator: { replicas: 2, leaderElection: { enabled: false } } },
    message: /at '\/operator\/leaderElection\/enabled': value must be true/,
  },
  { kind: 'misspelt top-level key', values: { operater: { replicas: 1 } }, message: /additional properties 'operater' not allowed/ },
  { kind: 'misspelt nested key', values: { exporter: { nodeCostPerHr: 1 } }, message: /at '\/exporter': additional properties 'nodeCostPerHr' not allowed/ },
  { kind: 'unknown pull policy', values: { operator: { image: { pullPolicy: 'Sometimes' } } }, message: /at '\/operator\/image\/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'/ },
  { kind: 'digest that is not sha256', values: { sidecar: { image: { digest: 'md5:abc' } } }, message: /at '\/sidecar\/image\/digest': 'md5:abc' does not match pattern/ },
  { kind: 'image repository with a tag in it', values: { exporter: { image: { repository: 'ghcr.io/slmops/Exporter:1.0' } } }, message: /at '\/exporter\/image\/repository': 'ghcr.io\/slmops\/Exporter:1.0' does not match pattern/ },
  { kind: 'unknown hardware plugin', values: { plugins: { enabled: ['cpu', 'tpu'] } }, message: /at '\/plugins\/enabled\/1': value must be one of 'cpu', 'nvidia'/ },
  { kind: 'no hardware plugin', values: { plugins: { enabled: [] } }, message: /at '\/plugins\/enabled': minItems: got 0, want 1/ },
  { kind: 'duplicate hardware plugin', values: { plugins: { enabled: ['cpu', 'cpu'] } }, message: /at '\/plugins\/enabled': items at 0 and 1 are equal/ },
  { kind: 'plugin options (no component reads them)', values: { plugins: { options: { cpu: {} } } }, message: /at '\/plugins': additional properties 'options' not allowed/ },
  { kind: 'operator heap below 64 MiB', values: { operator: { maxHeapMiB: 32 } }, message: /at '\/operator\/maxHeapMiB': minimum: got 32, want 64/ },
  {
    kind: 'operator memory limit below twice its heap cap',
    values: { operator: { maxHeapMiB: 256, resources: { limits: { memory: '384Mi' } } } },
    message: /operator\.resources\.limits\.memory 384Mi is below twice operator\.maxHeapMiB \(256 MiB\)/,
    byTemplate: true,
  },
  { kind: 'monitoring switch that is neither boolean nor auto', values: { monitoring: { podMonitor: { enabled: 'always' } } }, message: /at '\/monitoring\/podMonitor\/enabled': 'oneOf' failed/ },
  { kind: 'port out of range', values: { exporter: { port: 70000 } }, message: /at '\/exporter\/port': maximum: got 70,000, want 65,535/ },
  { kind: 'negative node cost', values: { exporter: { nodeCostPerHour: -1 } }, message: /at '\/exporter\/nodeCostPerHour': minimum: got -1, want 0/ },
  { kind: 'relative model cache dir', values: { exporter: { modelCacheDir: 'models' } }, message: /at '\/exporter\/modelCacheDir': 'models' does not match pattern '\^\(\// },
  { kind: 'duration without a unit', values: { operator: { resyncPeriod: '10' } }, message: /at '\/operator\/resyncPeriod': '10' does not match pattern/ },
  { kind: 'unknown log format', values: { operator: { logFormat: 'xml' } }, message: /at '\/operator\/logFormat': value must be one of 'json', 'text'/ },
  { kind: 'watch namespace that is not a DNS label', values: { operator: { watchNamespace: 'Edge_Sites' } }, message: /at '\/operator\/watchNamespace': 'Edge_Sites' does not match pattern/ },
  { kind: 'dashboard label value that is a number', values: { monitoring: { grafanaDashboards: { labelValue: 1 } } }, message: /at '\/monitoring\/grafanaDashboards\/labelValue': got number, want string/ },
  { kind: 'API server CIDR without a prefix length', values: { networkPolicies: { apiServerCidrs: ['10.96.0.1'] } }, message: /at '\/networkPolicies\/apiServerCidrs\/0': '10.96.0.1' does not match pattern/ },
  { kind: 'zero reconcile workers', values: { operator: { maxConcurrentReconciles: 0 } }, message: /at '\/operator\/maxConcurrentReconciles': minimum: got 0, want 1/ },
  { kind: 'extra argument that is not a flag', values: { operator: { extraArgs: ['verbose'] } }, message: /at '\/operator\/extraArgs\/0': 'verbose' does not match pattern '\^--/ },
  { kind: 'no operator replica', values: { operator: { replicas: 0 } }, message: /at '\/operator\/replicas': value must be one of 1, 2/ },
];

let helm: string;
let dir: string;

beforeAll(async () => {
  helm = (await ensureKubeTools()).helm;
  dir = mkdtempSync(join(tmpdir(), 'slmops-bad-values-'));
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('values.schema.json', () => {
  it('is draft-07 and closes every object it describes with additionalProperties: false', () => {
    const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as Record<string, unknown>;
    expect(schema['$schema']).toBe('http://json-schema.org/draft-07/schema#');
    const open: string[] = [];
    const walk = (node: Record<string, unknown>, path: string) => {
      const props = node['properties'] as Record<string, Record<string, unknown>> | undefined;
      if (props && node['additionalProperties'] !== false) open.push(path || '/');
      for (const [k, v] of Object.entries(props ?? {})) walk(v, `${path}/${k}`);
    };
    walk(schema, '');
    expect(open).toEqual([]);
  });

  it(`refuses ${cases.length} kinds of bad values`, () => {
    expect(new Set(cases.map((c) => c.kind)).size).toBeGreaterThanOrEqual(10);
  });

  it.each(cases)('refuses $kind with a message naming the value (helm template and helm lint)', async ({ kind, values, message, byTemplate }) => {
    const file = join(dir, `${kind.replace(/\W+/g, '-')}.yaml`);
    writeFileSync(file, stringify(values));
    const template = await helmTemplate(helm, { valuesFiles: [file] });
    expect(template.code, template.stdout).not.toBe(0);
    expect(template.stderr).toMatch(message);
    if (!byTemplate) expect(template.stderr).toContain("values don't meet the specifications of the schema");
    const lint = await helmLint(helm, [file]);
    // helm lint runs templates in lint mode, where `fail` is logged (with its message) instead of failing.
    if (!byTemplate) expect(lint.code).not.toBe(0);
    expect(lint.stdout + lint.stderr).toMatch(message);
  });

  it('accepts the values the chart documents, with monitoring given as true, false or auto', async () => {
    const file = join(dir, 'good.yaml');
    writeFileSync(file, stringify({ monitoring: { serviceMonitor: { enabled: true }, podMonitor: { enabled: false }, prometheusRule: { enabled: 'auto' } } }));
    const r = await runTool(helm, ['lint', '--strict', CHART_DIR, '--values', file], { timeoutMs: 60_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});
