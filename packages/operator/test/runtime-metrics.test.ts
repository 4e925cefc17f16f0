import type { SLMDeploymentStatus } from '@slmops/api';
import { createRegistry } from '@slmops/metrics';
import { describe, expect, it } from 'vitest';
import type { Plan } from '../src/contract.js';
import { OperatorMetrics, analysisResult } from '../src/runtime/metrics.js';

const deployment = { apiVersion: 'slmops.io/v1alpha1', kind: 'SLMDeployment', metadata: { name: 'chat', namespace: 'edge' }, spec: { model: { name: 'm', version: '1' } } };
const plan = (status: SLMDeploymentStatus): Plan => ({ apply: [], delete: [], status, events: [] });
const analysed = (time: string, passed: boolean, phase: NonNullable<SLMDeploymentStatus['rollout']>['phase']): SLMDeploymentStatus => ({
  rollout: { phase, wave: 1, lastAnalysis: { time, passed, reason: 'r', samples: 3 } },
});

describe('slmops_rollout_analysis_total', () => {
  it('names a verdict that did not pass while the wave is still analysed inconclusive, and one that ended the wave failed', () => {
    expect(analysisResult(true, 'Analyzing')).toBe('passed');
    expect(analysisResult(false, 'Analyzing')).toBe('inconclusive');
    expect(analysisResult(false, 'RollingBack')).toBe('failed');
  });

  it('counts each recorded analysis once, by result, and drops the series when the deployment goes', async () => {
    const registry = createRegistry({ defaultMetrics: false });
    const m = new OperatorMetrics(registry);
    const steps = [
      analysed('2026-11-29T10:00:00Z', false, 'Analyzing'),
      analysed('2026-11-29T10:00:00Z', false, 'Analyzing'), // the same analysis seen again: not counted twice
      analysed('2026-11-29T10:00:05Z', true, 'Progressing'),
      analysed('2026-11-29T10:01:00Z', false, 'RollingBack'),
    ];
    let before: SLMDeploymentStatus = {};
    for (const st of steps) {
      m.observed(deployment, before, plan(st));
      before = st;
    }
    const text = await registry.metrics();
    const count = (result: string) => Number(new RegExp(`slmops_rollout_analysis_total\\{namespace="edge",deployment="chat",result="${result}"\\} (\\d+)`).exec(text)?.[1]);
    expect([count('inconclusive'), count('passed'), count('failed')]).toEqual([1, 1, 1]);
    m.gone('edge', 'chat');
    expect(await registry.metrics()).not.toContain('slmops_rollout_analysis_total{');
  });
});
