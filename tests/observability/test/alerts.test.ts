/**
 * `promtool test rules` on the shipped alert expressions: each alert fires on series that show its condition,
 * with the labels a receiver routes on, and stays quiet on a look-alike that does not. The annotations are
 * dropped from the copy under test because promtool compares rendered annotations verbatim.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { nodeMetrics, operatorMetrics, servingMetrics } from '@slmops/metrics';
import { alertRules } from '../src/index.js';
import { promtool } from '../src/processes.js';

const S = servingMetrics;
const O = operatorMetrics;
const dir = mkdtempSync(join(tmpdir(), 'slmops-obs-alerts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Series = { series: string; values: string };
interface Case {
  alert: string;
  series: Series[];
  evalMinutes: number;
  expect: Array<Record<string, string>>;
}
const s = (name: string, labels: Record<string, string>, values: string): Series => ({
  series: `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`,
  values,
});
/** A TTFT histogram whose requests (1/s) all land in one bucket: le 0.1 (fast) or le 1 (slow). */
const ttft = (version: string, fast: boolean): Series[] => {
  const l = { namespace: 'ns', model_name: 'm', model_version: version };
  return [
    s(`${S.timeToFirstToken.name}_bucket`, { ...l, le: '0.1' }, fast ? '0+60x40' : '0x40'),
    s(`${S.timeToFirstToken.name}_bucket`, { ...l, le: '1' }, '0+60x40'),
    s(`${S.timeToFirstToken.name}_bucket`, { ...l, le: '+Inf' }, '0+60x40'),
    s(`${S.timeToFirstToken.name}_count`, l, '0+60x40'),
  ];
};

const cases: Case[] = [
  {
    alert: 'SLMOpsHighErrorRate',
    series: [
      s(S.requestFailure.name, { namespace: 'ns', model_name: 'bad', model_version: '1', code: 'INTERNAL' }, '0+10x20'),
      s(S.requestSuccess.name, { namespace: 'ns', model_name: 'bad', model_version: '1', finished_reason: 'stop' }, '0+10x20'),
      s(S.requestFailure.name, { namespace: 'ns', model_name: 'good', model_version: '1', code: 'INTERNAL' }, '0+1x20'),
      s(S.requestSuccess.name, { namespace: 'ns', model_name: 'good', model_version: '1', finished_reason: 'stop' }, '0+100x20'),
    ],
    evalMinutes: 15,
    expect: [{ severity: 'critical', namespace: 'ns', model_name: 'bad' }],
  },
  { alert: 'SLMOpsTTFTRegression', series: [...ttft('1', true), ...ttft('2', false)], evalMinutes: 30, expect: [{ severity: 'warning', namespace: 'ns', model_name: 'm', model_version: '2' }] },
  {
    alert: 'SLMOpsExecutionProviderFallback',
    series: [
      s(S.epFallback.name, { namespace: 'ns', pod: 'gpu-pod', from: 'cuda', to: 'cpu' }, '1x20'),
      s(S.epFallback.name, { namespace: 'ns', pod: 'arm-pod', from: 'xnnpack', to: 'cpu' }, '1x20'),
    ],
    evalMinutes: 10,
    expect: [{ severity: 'warning', namespace: 'ns', pod: 'gpu-pod', from: 'cuda', to: 'cpu' }],
  },
  {
    alert: 'SLMOpsRolloutStuck',
    series: [
      s(O.rolloutPhase.name, { namespace: 'ns', deployment: 'stuck', phase: 'Progressing' }, '1x60'),
      s(O.rolloutUpdatedPercent.name, { namespace: 'ns', deployment: 'stuck' }, '50x60'),
      s(O.rolloutWave.name, { namespace: 'ns', deployment: 'stuck' }, '2x60'),
      s(O.rolloutPhase.name, { namespace: 'ns', deployment: 'moving', phase: 'Progressing' }, '1x60'),
      s(O.rolloutUpdatedPercent.name, { namespace: 'ns', deployment: 'moving' }, '0+1x60'),
      s(O.rolloutWave.name, { namespace: 'ns', deployment: 'moving' }, '1x60'),
      s(O.rolloutPhase.name, { namespace: 'ns', deployment: 'done', phase: 'Complete' }, '1x60'),
      s(O.rolloutUpdatedPercent.name, { namespace: 'ns', deployment: 'done' }, '100x60'),
      s(O.rolloutWave.name, { namespace: 'ns', deployment: 'done' }, '3x60'),
    ],
    evalMinutes: 50,
    expect: [{ severity: 'warning', namespace: 'ns', deployment: 'stuck', phase: 'Progressing' }],
  },
  {
    alert: 'SLMOpsVersionSkew',
    series: [
      s(O.servedDigest.name, { namespace: 'ns', deployment: 'skewed', digest: 'sha256:a' }, '2x180'),
      s(O.servedDigest.name, { namespace: 'ns', deployment: 'skewed', digest: 'sha256:b' }, '1x180'),
      s(O.servedDigest.name, { namespace: 'ns', deployment: 'even', digest: 'sha256:a' }, '3x180'),
      s(O.servedDigest.name, { namespace: 'ns', deployment: 'even', digest: 'sha256:b' }, '0x180'),
    ],
    evalMinutes: 150,
    expect: [{ severity: 'warning', namespace: 'ns', deployment: 'skewed' }],
  },
  {
    alert: 'SLMOpsNodeExporterDown',
    series: [
      s(nodeMetrics.exporterInfo.name, { instance: 'a:9465', node: 'edge-1', plugin: 'jetson' }, '1x10 _x30'),
      s(nodeMetrics.exporterInfo.name, { instance: 'b:9465', node: 'edge-2', plugin: 'cpu' }, '1x40'),
    ],
    evalMinutes: 30,
    expect: [{ severity: 'warning', instance: 'a:9465', node: 'edge-1', plugin: 'jetson' }],
  },
  { alert: 'SLMOpsOperatorNotLeading', series: [s(O.leader.name, { instance: 'a' }, '0x20'), s(O.leader.name, { instance: 'b' }, '0x20')], evalMinutes: 10, expect: [{ severity: 'critical' }] },
];

function runCases(list: Case[], quiet: Array<{ alert: string; series: Series[]; evalMinutes: number }> = []) {
  const rules = { groups: alertRules.groups.map((g) => ({ name: g.name, rules: g.rules.map(({ annotations: _a, ...r }) => r) })) };
  writeFileSync(join(dir, 'rules.yaml'), stringify(rules, { lineWidth: 0 }));
  const tests = [
    ...list.map((c) => ({ interval: '1m', input_series: c.series, alert_rule_test: [{ eval_time: `${c.evalMinutes}m`, alertname: c.alert, exp_alerts: c.expect.map((l) => ({ exp_labels: l })) }] })),
    ...quiet.map((c) => ({ interval: '1m', input_series: c.series, alert_rule_test: [{ eval_time: `${c.evalMinutes}m`, alertname: c.alert, exp_alerts: [] }] })),
  ];
  writeFileSync(join(dir, 'tests.yaml'), stringify({ rule_files: [join(dir, 'rules.yaml')], evaluation_interval: '1m', tests }, { lineWidth: 0 }));
  return promtool(['test', 'rules', join(dir, 'tests.yaml')]);
}

describe('alert rules under promtool test rules', () => {
  it('cover every shipped alert', () => {
    expect(cases.map((c) => c.alert).sort()).toEqual(alertRules.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort());
  });

  it('fire on their condition with the routing labels, and not on look-alikes', () => {
    const r = runCases(cases, [
      { alert: 'SLMOpsOperatorNotLeading', series: [s(O.leader.name, { instance: 'a' }, '0x20'), s(O.leader.name, { instance: 'b' }, '1x20')], evalMinutes: 10 },
      { alert: 'SLMOpsTTFTRegression', series: [...ttft('1', true), ...ttft('2', true)], evalMinutes: 30 },
    ]);
    expect(r.out).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('the check fails when an alert that should fire does not (the harness can fail)', () => {
    const skewNotYet = { ...cases.find((c) => c.alert === 'SLMOpsVersionSkew')!, evalMinutes: 60 };
    const r = runCases([skewNotYet]);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain('SLMOpsVersionSkew');
  });
});
