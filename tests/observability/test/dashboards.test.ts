import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { catalogue, pluginCollectorMetrics } from '@slmops/metrics';
import { GENERATED_BANNER, RULES_FILE, SCHEMA_VERSION, dashboards, panelExpressions, recordingRules, renderFiles } from '../src/index.js';

const CHART = join(import.meta.dirname, '../../../charts/slmops');
const tmp = mkdtempSync(join(tmpdir(), 'slmops-obs-rules-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  fieldConfig: { defaults: { unit?: string } };
  targets: Array<{ expr: string; refId: string; datasource: { type: string; uid: string } }>;
}
interface Dashboard {
  uid: string;
  title: string;
  description: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; datasource?: { uid: string }; definition?: string }> };
}
const files = Object.keys(dashboards).map((name) => ({ name, json: JSON.parse(readFileSync(join(CHART, 'dashboards', `${name}.json`), 'utf8')) as Dashboard }));

/** promtool from Debian's prometheus package (apt-get install -y prometheus). */
function promtool(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`promtool could not run (${r.error.message}); install it with: apt-get install -y prometheus`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('generated chart files', () => {
  it('are current: charts/slmops/{dashboards,alerts} equal what the TypeScript sources render', () => {
    for (const [rel, text] of Object.entries(renderFiles())) {
      expect(readFileSync(join(CHART, rel), 'utf8'), `charts/slmops/${rel} is stale: run npm run generate -w @slmops/observability-tests`).toBe(text);
    }
  });
});

describe.each(files)('dashboard $name.json', ({ json }) => {
  it('uses the current schema, a datasource variable and no hard-coded datasource UID', () => {
    expect(json.schemaVersion).toBeGreaterThanOrEqual(39);
    expect(json.schemaVersion).toBe(SCHEMA_VERSION);
    expect(json.description).toContain(GENERATED_BANNER);
    const ds = json.templating.list.find((v) => v.name === 'datasource')!;
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const uids = [...JSON.stringify(json).matchAll(/"uid":\s*"([^"]*)"/g)].map((m) => m[1]).filter((u) => u !== json.uid && u !== '-- Grafana --');
    expect(new Set(uids)).toEqual(new Set(['${datasource}']));
    for (const name of ['namespace', 'model', 'plugin']) expect(json.templating.list.map((v) => v.name)).toContain(name);
  });

  it('has unique panel ids, and every panel and query has the datasource variable and a unit', () => {
    const ids = json.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of json.panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.fieldConfig.defaults.unit, p.title).toMatch(/\S/);
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) expect(t.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(new Set(p.targets.map((t) => t.refId)).size).toBe(p.targets.length);
    }
  });

  it('uses every template variable, and refers only to defined variables and catalogue metrics', () => {
    const text = JSON.stringify(json.panels);
    const defined = json.templating.list.map((v) => v.name);
    for (const name of defined) expect(new RegExp(`\\$\\{?${name}\\b`).test(text), `variable ${name} is not used by any panel`).toBe(true);
    const used = [...text.matchAll(/\$\{?([A-Za-z]\w*)/g)].map((m) => m[1]!);
    expect(used.filter((u) => !defined.includes(u))).toEqual([]);
    const known = new Set<string>([...catalogue.map((d) => d.name), ...pluginCollectorMetrics]);
    const names = [...text.matchAll(/\b(slmops_[a-z0-9_]+?)(?:_bucket|_sum|_count)?\b(?=[{\[)\s])/g)].map((m) => m[1]!);
    expect(names.length).toBeGreaterThan(5);
    expect([...new Set(names)].filter((n) => !known.has(n))).toEqual([]);
  });
});

describe('PromQL of dashboards and alerts', () => {
  it('promtool check rules accepts the alert rules', () => {
    const r = promtool('check', 'rules', join(CHART, RULES_FILE));
    expect(r.out).toContain('SUCCESS: 7 rules found');
    expect(r.status).toBe(0);
  });

  it('promtool check rules accepts a rules file with every dashboard panel expression', () => {
    const all = files.map((f) => f.json as never);
    const rules = recordingRules(all, { rateInterval: '5m', range: '1h' });
    const count = files.reduce((n, f) => n + panelExpressions(f.json as never).length, 0);
    expect(rules.groups.flatMap((g) => g.rules)).toHaveLength(count);
    const path = join(tmp, 'dashboards.rules.yaml');
    writeFileSync(path, stringify(rules, { lineWidth: 0 }));
    const r = promtool('check', 'rules', path);
    expect(r.out).toContain(`SUCCESS: ${count} rules found`);
    expect(r.status).toBe(0);
  });

  it('promtool rejects a broken expression (the check above can fail)', () => {
    const path = join(tmp, 'broken.rules.yaml');
    writeFileSync(path, stringify({ groups: [{ name: 'x', rules: [{ record: 'x:y', expr: 'sum by (le (rate(x[5m]))' }] }] }));
    expect(promtool('check', 'rules', path).status).not.toBe(0);
  });

});
