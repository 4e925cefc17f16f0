import { Annotations, Labels } from '@slmops/api';
import { describe, expect, it } from 'vitest';
import type { Observation } from '../../src/contract.js';
import { chosenNodes, planWave, scrapeTargets, waveOrder, type FleetUnit, type WaveObservation } from '../../src/core.js';
import { DIGEST_B, MiniCluster, T0, at, ctx, metricsText, offline, slmd, threeClassFleet } from './fixtures.js';
import type { Any } from './fixtures.js';


const rollout = (extra: Any = {}) => ({
  waves: [{ percent: 10, pause: '1m' }, { percent: 50 }, { percent: 100 }],
  analysis: { interval: '30s', minSamples: 10, maxErrorRate: 0.05 },
  progressDeadline: '2m',
  ...extra,
});

/** A cluster at steady state on revision A, then told to roll out version 2.0.0 (digest B). */
function rolling(opts: { rollout?: Any; nodes?: number; metrics?: (pod: Any) => string | undefined; failing?: (pod: Any) => string | undefined; ready?: (pod: Any) => boolean } = {}) {
  const isB = (pod: Any) => pod.metadata.annotations[Annotations.modelDigest] === DIGEST_B;
  const c = new MiniCluster(slmd({ rollout: opts.rollout ?? rollout() }), threeClassFleet(opts.nodes ?? 20), {
    metrics: opts.metrics ?? (() => metricsText(100, 0)),
    ...(opts.failing ? { failing: (p) => (isB(p) ? opts.failing!(p) : undefined) } : {}),
    ...(opts.ready ? { ready: (p) => (isB(p) ? opts.ready!(p) : true) } : {}),
  });
  c.step(T0);
  c.step(at(1));
  const before = c.status().currentRevision as string;
  c.setSpec((s) => {
    s.model.version = '2.0.0';
    s.model.source.digest = DIGEST_B;
  });
  const scrape = (o: Omit<Observation, 'scrapes'>) => scrapeTargets(o, ctx);
  return { c, before, step: (t: number) => c.step(at(t), scrape) };
}

describe('wave choice', () => {
  const units = (n: Record<string, number>): FleetUnit[] =>
    Object.entries(n).flatMap(([cls, count]) => Array.from({ length: count }, (_, i) => ({ node: `${cls}-${i}`, classKey: cls, offline: false, pods: [] })));

  it('takes ceil(percent) of each class in node-name hash order, nested across waves', () => {
    const u = units({ a: 20, b: 7, c: 1 });
    const w10 = chosenNodes(u, 10);
    const w50 = chosenNodes(u, 50);
    expect([...w10].filter((n) => n.startsWith('a-'))).toHaveLength(2);
    expect([...w10].filter((n) => n.startsWith('b-'))).toHaveLength(1);
    expect([...w10].filter((n) => n.startsWith('c-'))).toHaveLength(1);
    expect([...w50].filter((n) => n.startsWith('b-'))).toHaveLength(4);
    for (const n of w10) expect(w50.has(n)).toBe(true);
    expect(chosenNodes(u, 100).size).toBe(28);
    expect(waveOrder(['x', 'y', 'z'])).toEqual(waveOrder(['z', 'x', 'y']));
  });
});

describe('planWave transitions (Fleet, 60 nodes of three classes)', () => {
  it('runs wave 1 (only chosen pods), analysis, pause, wave 2, wave 3, complete', () => {
    const { c, before, step } = rolling();
    let p = step(2);
    const s = () => c.status();
    expect(s().rollout).toMatchObject({ phase: 'Progressing', wave: 1 });
    expect(p.events.map((e) => e.reason)).toEqual(['RolloutStarted']);
    // 10% of 20 per class = 2 per class.
    expect(p.delete.map((d) => d.kind)).toEqual(Array(6).fill('Pod'));
    const wave1Nodes = new Set(c.deletedPods.map((d) => d.node));
    expect(wave1Nodes.size).toBe(6);
    // The DaemonSets now carry the new template; untouched nodes keep revision A.
    expect(Object.values(c.podsByRevision()).sort((a, b) => a - b)).toEqual([6, 54]);
    expect(s().currentRevision).toBe(before);
    expect(s().servedDigests).toEqual([{ digest: `sha256:${'a'.repeat(64)}`, count: 60 }]); // observed before the deletions

    p = step(3); // wave pods are Ready: analysis starts, nothing more is deleted
    expect(p.delete).toEqual([]);
    expect(s().rollout).toMatchObject({ phase: 'Analyzing', wave: 1, updatedPercent: 10, waveReadyTime: '2026-11-29T12:00:03Z' });
    expect(s().servedDigests).toEqual([
      { digest: `sha256:${'a'.repeat(64)}`, count: 54 },
      { digest: DIGEST_B, count: 6 },
    ]);
    expect(p.requeueAfterMs).toBeGreaterThan(0);

    p = step(20); // before the analysis interval (30 s): still analysing
    expect(s().rollout.phase).toBe('Analyzing');
    p = step(34); // analysis passed; the wave pauses 1m from when it was Ready (t=3)
    expect(p.events.map((e) => e.reason)).toEqual(['AnalysisPassed']);
    expect(s().rollout).toMatchObject({ phase: 'Paused', reason: 'WavePaused' });
    expect(s().rollout.lastAnalysis).toMatchObject({ passed: true, samples: 600, errorRate: 0 });
    expect(p.requeueAfterMs).toBe(29_000);
    p = step(62);
    expect(s().rollout.phase).toBe('Paused');
    expect(p.delete).toEqual([]);

    p = step(64); // pause over: wave 2 (50% = 10 per class) deletes 8 more per class
    expect(s().rollout).toMatchObject({ phase: 'Progressing', wave: 2 });
    expect(p.events.map((e) => e.reason)).toEqual(['WaveStarted']);
    expect(p.delete).toHaveLength(24);
    for (const d of p.delete) expect(wave1Nodes.has(c.deletedPods.find((x) => x.name === d.name)!.node)).toBe(false);

    step(65);
    p = step(100); // wave 2 analysed (no pause): wave 3
    expect(s().rollout).toMatchObject({ phase: 'Progressing', wave: 3 });
    expect(p.delete).toHaveLength(30);
    step(101);
    p = step(140);
    expect(p.events.map((e) => e.reason)).toEqual(['AnalysisPassed', 'RolloutComplete']);
    expect(s().rollout).toMatchObject({ phase: 'Complete', wave: 3, updatedPercent: 100 });
    expect(s().currentRevision).toBe(s().updateRevision);
    expect(s().servedDigests).toEqual([{ digest: DIGEST_B, count: 60 }]);
    expect(c.deletedPods).toHaveLength(60);
    // Steady state afterwards: no deletions, no events, same status.
    const st = JSON.stringify(s());
    p = step(500);
    expect(p.delete).toEqual([]);
    expect(p.events).toEqual([]);
    expect(JSON.stringify(s())).toBe(st);
  });

  it('stays inconclusive below minSamples and fails after the analysis timeout, rolling back', () => {
    const { c, before, step } = rolling({ rollout: rollout({ analysis: { interval: '10s', minSamples: 1000, timeout: '40s' } }), metrics: () => metricsText(5, 0) });
    step(2);
    step(3);
    step(30);
    expect(c.status().rollout).toMatchObject({ phase: 'Analyzing' });
    expect(c.status().rollout.lastAnalysis).toMatchObject({ passed: false, samples: 30 });
    expect(c.status().rollout.message).toMatch(/30 of 1000 required samples/);
    const p = step(44);
    expect(p.events[0]).toMatchObject({ type: 'Warning', reason: 'AnalysisInconclusive' });
    expect(c.status().rollout.phase).toBe('RollingBack');
    expect(p.delete).toHaveLength(6);
    step(45);
    expect(c.status().rollout.phase).toBe('RolledBack');
    expect(c.podsByRevision()).toEqual({ [before]: 60 });
  });

  it('fails analysis on the error rate and rolls back: template restored, updated pods replaced, RolledBack=True', () => {
    const { c, before, step } = rolling({ metrics: () => metricsText(80, 20) });
    step(2);
    const p = step(3); // failing fast, as soon as the wave's pods are scraped: no need to wait for the interval
    expect(p.events[0]).toMatchObject({ type: 'Warning', reason: 'AnalysisFailed' });
    expect(p.events[0]!.message).toMatch(/error rate 0.2 .* exceeds maxErrorRate 0.05/);
    expect(c.status().rollout).toMatchObject({ phase: 'RollingBack', failedRevision: c.status().updateRevision });
    // Every DaemonSet renders the previous revision again.
    for (const ds of c.children.values()) if (ds.kind === 'DaemonSet') expect((ds as Any).spec.template.metadata.labels[Labels.revision]).toBe(before);
    expect(p.delete.map((d) => d.reason)).toEqual(Array(6).fill(`rollback to ${before}`));
    const q = step(6);
    expect(q.events.map((e) => e.reason)).toEqual(['RollbackComplete']);
    const cond = Object.fromEntries((c.status().conditions as Any[]).map((x) => [x.type, x]));
    expect(cond['RolledBack']).toMatchObject({ status: 'True', reason: 'AnalysisFailed' });
    expect(cond['Degraded']).toMatchObject({ status: 'True' });
    expect(cond['Ready']).toMatchObject({ status: 'True' });
    expect(c.status().servedDigests).toEqual([{ digest: `sha256:${'a'.repeat(64)}`, count: 60 }]);
    // It stays rolled back while the spec asks for the failed revision.
    const r = step(300);
    expect(r.delete).toEqual([]);
    expect(c.status().rollout.phase).toBe('RolledBack');
  });

  it('fails on p95 latency and TTFT thresholds', () => {
    const slow = rolling({ rollout: rollout({ analysis: { interval: '10s', minSamples: 10, maxP95LatencyMs: 1000 } }), metrics: () => metricsText(100, 0, 4) });
    slow.step(2);
    expect(slow.step(3).events[0]!.message).toMatch(/p95 latency .* exceeds maxP95LatencyMs 1000/);
    const ttft = rolling({ rollout: rollout({ analysis: { interval: '10s', minSamples: 10, maxTtftP95Ms: 20 } }), metrics: () => metricsText(100, 0, 0.2, 0.09) });
    ttft.step(2);
    expect(ttft.step(3).events[0]!.message).toMatch(/p95 time to first token .* exceeds maxTtftP95Ms 20/);
  });

  it('holds in Failed without autoRollback until the abort annotation', () => {
    const { c, before, step } = rolling({ rollout: rollout({ autoRollback: false }), metrics: () => metricsText(50, 50) });
    step(2);
    const p = step(3);
    expect(p.events[0]!.message).toMatch(/autoRollback is off/);
    expect(c.status().rollout.phase).toBe('Failed');
    expect(step(100).delete).toEqual([]);
    c.annotate(Annotations.abort, 'x1');
    const q = step(101);
    expect(q.events[0]).toMatchObject({ type: 'Warning', reason: 'Aborted' });
    expect(c.status().rollout).toMatchObject({ phase: 'RollingBack', handledAbort: 'x1' });
    step(102);
    expect(c.podsByRevision()).toEqual({ [before]: 60 });
  });

  it('fails the wave when updated pods crash-loop (digest mismatch) and rolls back', () => {
    const { c, before, step } = rolling({ failing: () => 'CrashLoopBackOff' });
    step(2);
    const p = step(3);
    expect(p.events[0]).toMatchObject({ type: 'Warning', reason: 'ModelLoadFailed' });
    expect(p.events[0]!.message).toMatch(/CrashLoopBackOff/);
    step(4);
    const cond = Object.fromEntries((c.status().conditions as Any[]).map((x) => [x.type, x]));
    expect(cond['ModelVerified']).toMatchObject({ status: 'False', reason: 'ModelLoadFailed' });
    expect(cond['RolledBack']).toMatchObject({ status: 'True', reason: 'ModelLoadFailed' });
    expect(c.podsByRevision()).toEqual({ [before]: 60 });
    expect(c.deletedPods.filter((d) => d.reason.startsWith('wave'))).toHaveLength(6);
  });

  it('fails the wave when updated pods stay not Ready past progressDeadline', () => {
    const { c, step } = rolling({ ready: () => false });
    step(2);
    step(60);
    expect(c.status().rollout.phase).toBe('Progressing');
    const p = step(123);
    expect(p.events[0]).toMatchObject({ reason: 'ProgressDeadlineExceeded' });
    expect(c.status().rollout.phase).toBe('RollingBack');
  });

  it.each([
    [20, 25, 'completes'],
    [25, 25, 'completes'],
    [40, 25, 'pauses'],
  ])('%s percent offline with maxOfflinePercent %s: the rollout %s', (pct, max, outcome) => {
    const { c, step } = rolling({ rollout: rollout({ waves: [{ percent: 50 }, { percent: 100 }], offline: { maxOfflinePercent: max } }) });
    const down = new Set(c.nodes.filter((_, i) => i % 20 < pct / 5).map((n) => n.metadata.name));
    expect(down.size).toBe((60 * pct) / 100);
    c.nodes = c.nodes.map((n) => (down.has(n.metadata.name) ? offline(n) : n));
    for (let t = 2; t < 200; t += 20) step(t);
    for (const d of c.deletedPods) expect(down.has(d.node)).toBe(false);
    if (outcome === 'completes') {
      expect(c.status().rollout.phase).toBe('Complete');
      expect(c.status().rollout.message).toBe(`rollout complete; ${down.size} offline node(s) pending: they update when they return`);
      expect(c.status().nodes).toMatchObject({ desired: 60, updated: 60 - down.size, offline: down.size });
      // Nodes coming back catch up.
      c.nodes = c.nodes.map((n) => (down.has(n.metadata.name) ? threeClassFleet(20).find((x) => x.metadata.name === n.metadata.name)! : n));
      const p = step(300);
      expect(p.delete).toHaveLength(down.size);
      step(301);
      expect(c.status().nodes).toMatchObject({ updated: 60, offline: 0 });
    } else {
      expect(c.status().rollout).toMatchObject({ phase: 'Paused', reason: 'OfflineNodesExceeded', wave: 1 });
      expect(c.status().rollout.message).toBe('24 of 60 nodes (40%) are offline, above rollout.offline.maxOfflinePercent 25%: the rollout holds at wave 1 until nodes return');
      expect(c.deletedPods).toEqual([]);
      const cond = Object.fromEntries((c.status().conditions as Any[]).map((x) => [x.type, x]));
      expect(cond['Progressing']).toMatchObject({ status: 'False', reason: 'OfflineNodesExceeded' });
      // The Warning event fires once, on the transition.
      expect(c.plans.flatMap((p) => p.events).filter((e) => e.reason === 'OfflineNodesExceeded')).toHaveLength(1);
    }
  });

  it('holds while spec.rollout.paused and resumes after', () => {
    const { c, step } = rolling({ rollout: rollout({ paused: true }) });
    const p = step(2);
    expect(p.delete).toEqual([]);
    expect(c.status().rollout).toMatchObject({ phase: 'Paused', reason: 'RolloutPaused' });
    expect(step(50).events).toEqual([]);
    // A promote while paused is not applied later by surprise: it is reported and consumed.
    c.annotate(Annotations.promote, 'while-paused');
    expect(step(52).events).toMatchObject([{ type: 'Warning', reason: 'RolloutPaused', message: 'slmops.io/promote ignored: spec.rollout.paused holds the rollout at wave 1; resume it first' }]);
    expect(c.status().rollout).toMatchObject({ phase: 'Paused', handledPromote: 'while-paused' });
    expect(step(53).events).toEqual([]);
    c.setSpec((s) => (s.rollout.paused = false));
    expect(step(54).delete).toHaveLength(6);
  });

  it('promote skips one wave\'s analysis and pause, once per annotation value', () => {
    const { c, step } = rolling({ rollout: rollout({ analysis: { interval: '10m', minSamples: 10 } }) });
    step(2);
    step(3);
    expect(c.status().rollout.phase).toBe('Analyzing');
    c.annotate(Annotations.promote, 'p1');
    const p = step(4);
    expect(p.events.map((e) => e.reason)).toEqual(['Promoted', 'WaveStarted']);
    expect(c.status().rollout).toMatchObject({ wave: 2, handledPromote: 'p1' });
    step(5);
    expect(step(6).events).toEqual([]);
    expect(c.status().rollout).toMatchObject({ phase: 'Analyzing', wave: 2 });
    c.annotate(Annotations.promote, 'p2');
    step(7);
    expect(c.status().rollout).toMatchObject({ wave: 3, handledPromote: 'p2' });
  });

  it('abort rolls back an active rollout once', () => {
    const { c, before, step } = rolling();
    step(2);
    c.annotate(Annotations.abort, 'now');
    const p = step(3);
    expect(p.events[0]!.reason).toBe('Aborted');
    step(4);
    expect(c.status().rollout).toMatchObject({ phase: 'RolledBack', handledAbort: 'now' });
    expect(c.podsByRevision()).toEqual({ [before]: 60 });
    expect(step(5).events).toEqual([]);
  });

  it('Recreate replaces every pod at once without analysis', () => {
    const { c, step } = rolling({ rollout: { strategy: 'Recreate', analysis: { minSamples: 1000 } } });
    expect(step(2).delete).toHaveLength(60);
    step(3);
    expect(c.status().rollout.phase).toBe('Complete');
  });
});

describe('planWave (Replicated)', () => {
  const obs = (ready: number, extra: Partial<WaveObservation> = {}): WaveObservation => ({
    mode: 'Replicated',
    settings: { strategy: 'Waves', waves: [{ percent: 25 }, { percent: 100 }], analysis: { interval: '1s', maxErrorRate: 0.05, minSamples: 0 }, offline: { treatAs: 'Pending', maxOfflinePercent: 20 }, autoRollback: true, paused: false, progressDeadline: '10m' },
    updateRevision: 'B',
    currentRenderable: true,
    units: [],
    replicas: 8,
    pods: Array.from({ length: ready }, (_, i) => ({ name: `c-${i}`, revision: 'B', ready: true, deleting: false })),
    ...extra,
  });

  it('scales a canary to the wave share of replicas, then promotes', () => {
    let r = planWave({ currentRevision: 'A', updateRevision: 'A', rollout: { phase: 'Complete' } }, obs(0), T0);
    expect(r.canaryReplicas).toBe(2);
    expect(r.nextState.rollout).toMatchObject({ phase: 'Progressing', wave: 1, canaryReplicas: 2 });
    const pass = { decision: 'pass' as const, reason: 'ok', samples: 0, pods: 2, scrapeErrors: [] };
    r = planWave(r.nextState, obs(2, { analysis: pass }), at(1));
    expect(r.nextState.rollout.phase).toBe('Analyzing');
    r = planWave(r.nextState, obs(2, { analysis: pass }), at(3));
    expect(r.nextState.rollout).toMatchObject({ wave: 2, canaryReplicas: 8 });
    r = planWave(r.nextState, obs(8, { analysis: pass }), at(4));
    r = planWave(r.nextState, obs(8, { analysis: pass }), at(6));
    expect(r.nextState).toMatchObject({ currentRevision: 'B', rollout: { phase: 'Complete' } });
    expect(r.canaryReplicas).toBe(0);
  });
});
