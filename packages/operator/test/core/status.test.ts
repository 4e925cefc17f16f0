import { describe, expect, it } from 'vitest';
import { analyze, applyConditions, planReconcile } from '../../src/core.js';
import { DIGEST_B, MiniCluster, T0, at, ctx, metricsText, slmd, threeClassFleet } from './fixtures.js';
import type { Any } from './fixtures.js';

const conds = (status: Any) => Object.fromEntries((status.conditions as Any[]).map((c) => [c.type, c]));

describe('status conditions', () => {
  it('sets all five conditions with observedGeneration, keeping lastTransitionTime while unchanged', () => {
    const c = new MiniCluster(slmd({}, { generation: 7 }), threeClassFleet(2));
    c.step(T0);
    expect(Object.keys(conds(c.status()))).toEqual(['Ready', 'ModelVerified', 'Progressing', 'Degraded', 'RolledBack']);
    for (const x of c.status().conditions) expect(x.observedGeneration).toBe(7);
    expect(conds(c.status())['Ready']).toMatchObject({ status: 'False', reason: 'ReplicasNotReady', message: '0 of 6 nodes Ready' });
    c.step(at(10));
    expect(conds(c.status())['Ready']).toMatchObject({ status: 'True', reason: 'AllReplicasReady', lastTransitionTime: '2026-11-29T12:00:10Z' });
    expect(conds(c.status())['Degraded']).toMatchObject({ status: 'False', lastTransitionTime: '2026-11-29T12:00:00Z' });
    c.deployment = { ...c.deployment, metadata: { ...c.deployment.metadata, generation: 8 } };
    c.step(at(99));
    expect(conds(c.status())['Ready']).toMatchObject({ observedGeneration: 8, lastTransitionTime: '2026-11-29T12:00:10Z' });
    expect(c.status().observedGeneration).toBe(8);
    expect(c.status().nodes).toEqual({ desired: 6, updated: 6, ready: 6, offline: 0 });
    expect(c.status().replicas).toBe(6);
    expect(c.status().selector).toBe('slmops.io/deployment=chat');
  });

  it('orders conditions and leaves unknown ones in place', () => {
    const list = applyConditions([{ type: 'Custom', status: 'True', reason: 'X', message: '', lastTransitionTime: '2020-01-01T00:00:00Z' }], { Ready: { status: 'True', reason: 'AllReplicasReady', message: '' } }, 3, T0);
    expect(list.map((x) => x.type)).toEqual(['Ready', 'Custom']);
  });

  it('shows version skew during a rollout: Progressing with the wave, two served digests', () => {
    const c = new MiniCluster(slmd({ rollout: { waves: [{ percent: 50 }, { percent: 100 }], analysis: { minSamples: 1000, interval: '1h' } } }), threeClassFleet(4), { metrics: () => metricsText(1, 0) });
    c.step(T0);
    c.step(at(1));
    c.setSpec((s) => (s.model.source.digest = DIGEST_B));
    c.step(at(2));
    c.step(at(3));
    const st = c.status();
    expect(st.servedDigests).toEqual([
      { digest: `sha256:${'a'.repeat(64)}`, count: 6 },
      { digest: DIGEST_B, count: 6 },
    ]);
    expect(st.currentRevision).not.toBe(st.updateRevision);
    expect(st.rollout).toMatchObject({ wave: 1, phase: 'Analyzing', updatedPercent: 50 });
    expect(conds(st)['Progressing']).toMatchObject({ status: 'True', reason: 'WaveAnalysis' });
    expect(conds(st)['ModelVerified']).toMatchObject({ status: 'True', reason: 'DigestVerified' });
    expect(st.nodes).toEqual({ desired: 12, updated: 6, ready: 12, offline: 0 });
  });
});

describe('invalid specs', () => {
  it('reports Ready=False InvalidSpec naming the field, one Warning event, no child changes', () => {
    const bad = slmd({ rollout: { waves: [{ percent: 10 }, { percent: 50 }] } });
    const obs = { deployment: bad, nodes: threeClassFleet(1), pods: [], children: [], scrapes: [], now: T0 };
    const p = planReconcile(obs, ctx);
    expect(p.apply).toEqual([]);
    expect(p.delete).toEqual([]);
    expect(conds(p.status)['Ready']).toMatchObject({ status: 'False', reason: 'InvalidSpec', observedGeneration: 1 });
    expect(conds(p.status)['Ready'].message).toMatch(/spec\.rollout\.waves: .*last wave must be 100 percent/);
    expect(p.events).toEqual([{ type: 'Warning', reason: 'InvalidSpec', message: conds(p.status)['Ready'].message }]);
    // Re-observed with that status: no second event, identical status.
    const again = planReconcile({ ...obs, deployment: { ...bad, status: p.status }, now: at(60) }, ctx);
    expect(again.events).toEqual([]);
    expect(JSON.stringify(again.status)).toBe(JSON.stringify(p.status));
  });

  it('names spec.hardware.plugins for an unknown plugin', () => {
    const p = planReconcile({ deployment: slmd({ hardware: { plugins: ['tpu'] } }), nodes: threeClassFleet(1), pods: [], children: [], scrapes: [], now: T0 }, ctx);
    expect(conds(p.status)['Ready'].message).toMatch(/^invalid spec: spec\.hardware\.plugins(\[0\])?: .*"tpu"/);
    expect(p.apply).toEqual([]);
  });

  it('keeps the previous children and rollout when a valid deployment turns invalid', () => {
    const c = new MiniCluster(slmd(), threeClassFleet(1));
    c.step(T0);
    c.step(at(1));
    const before = c.status();
    c.setSpec((s) => (s.placement = { mode: "Fleet", replicas: 3 })); // replicas only with Replicated
    const p = c.step(at(2));
    expect(p.apply).toEqual([]);
    expect(p.delete).toEqual([]);
    expect(c.status()).toMatchObject({ currentRevision: before.currentRevision, observedGeneration: 2, servedDigests: before.servedDigests });
    expect(conds(c.status())['Ready'].message).toMatch(/spec\.placement.*replicas is only allowed when mode is Replicated/);
    for (const x of c.status().conditions) expect(x.observedGeneration).toBe(2);
  });
});

describe('analysis', () => {
  const settings = { interval: '1m', maxErrorRate: 0.05, minSamples: 20 };
  const scrape = (pod: string, text?: string) => (text === undefined ? { pod, error: 'ECONNREFUSED', time: T0 } : { pod, text, time: T0 });

  it('sums pods, ignores client-side error codes and computes p95 from merged histograms', () => {
    const a = analyze([scrape('a', metricsText(30, 1, 0.2)), scrape('b', metricsText(9, 0, 4))], settings);
    expect(a).toMatchObject({ decision: 'pass', samples: 40, pods: 2, errorRate: 0.025 });
    // 40 observations: 31 at <= 0.3 s, 9 at (2.5, 5]; rank 38 lands in (2.5, 5]: 2.5 + 2.5 * 7/9
    expect(a.p95LatencyMs).toBeCloseTo(4444.444, 2);
  });

  it('is inconclusive below minSamples or without readable metrics, and names failed scrapes', () => {
    expect(analyze([scrape('a', metricsText(5, 0))], settings)).toMatchObject({ decision: 'inconclusive', reason: '5 of 20 required samples from 1 updated pods' });
    const none = analyze([scrape('a'), scrape('b', 'garbage{')], settings);
    expect(none.decision).toBe('inconclusive');
    expect(none.scrapeErrors).toEqual(['a: ECONNREFUSED', expect.stringMatching(/^b: metrics exposition line 1/)]);
  });

  it('fails on the error rate', () => {
    expect(analyze([scrape('a', metricsText(90, 10))], settings)).toMatchObject({ decision: 'fail', errorRate: 0.1 });
  });
});

describe('analysis without evidence requirements', () => {
  it('passes with minSamples 0 even when no metrics could be read', () => {
    expect(analyze([{ pod: 'a', error: 'HTTP 404', time: T0 }], { interval: '1m', maxErrorRate: 0.05, minSamples: 0 })).toMatchObject({ decision: 'pass', pods: 0 });
  });
});
