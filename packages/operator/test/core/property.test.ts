import { mulberry32 } from '@slmops/plugin-sdk/testing/nodes';
import { describe, expect, it } from 'vitest';
import { chosenNodes, scrapeTargets, type FleetUnit } from '../../src/core.js';
import { DIGEST_B, MiniCluster, T0, at, ctx, metricsText, offline, slmd, threeClassFleet } from './fixtures.js';

const WAVES = [{ percent: 5, pause: '30s' }, { percent: 25, pause: '20s' }, { percent: 60 }, { percent: 100 }];
const classOf = (node: string) => (node.startsWith('gpu-') ? 'nvidia' : node.startsWith('jetson-') ? 'jetson' : 'cpu');

describe('a full simulated rollout over 60 nodes of three classes', () => {
  it.each([1, 2, 3, 4, 5, 6])('only ever deletes pods of the current wave\'s chosen nodes (seed %s)', (seed) => {
    const random = mulberry32(seed);
    const healthy = threeClassFleet(20);
    const c = new MiniCluster(slmd({ rollout: { waves: WAVES, analysis: { interval: '10s', minSamples: 5 }, offline: { maxOfflinePercent: 15 } } }), healthy, { metrics: () => metricsText(10, 0) });
    c.step(T0);
    c.step(at(1));
    c.setSpec((s) => (s.model.source.digest = DIGEST_B));
    const units: FleetUnit[] = healthy.map((n) => ({ node: n.metadata.name, classKey: classOf(n.metadata.name), offline: false, pods: [] }));
    const chosen = WAVES.map((w) => chosenNodes(units, w.percent));
    const replacedAt = new Map<string, number>();
    let t = 2;
    const done = () => c.status().currentRevision === c.status().updateRevision && c.status().rollout?.phase === 'Complete';
    for (let i = 0; i < 400 && (i === 0 || !done()); i++) {
      // Edge nodes drop off and come back at random (sometimes above maxOfflinePercent).
      if (random() < 0.3) {
        const down = new Set(healthy.filter(() => random() < 0.12).map((n) => n.metadata.name));
        c.nodes = healthy.map((n) => (down.has(n.metadata.name) ? offline(n) : n));
      }
      const before = c.deletedPods.length;
      const wavesBefore = c.status().rollout?.wave;
      const plan = c.step(at(t), (o) => scrapeTargets(o, ctx));
      const waveNow = c.status().rollout?.wave as number;
      for (const d of c.deletedPods.slice(before)) {
        const m = /^wave (\d+) of 4/.exec(d.reason);
        expect(m, d.reason).not.toBeNull();
        const w = Number(m![1]);
        expect(w).toBe(waveNow);
        expect(w === wavesBefore || w === (wavesBefore ?? 0) + 1).toBe(true);
        expect(chosen[w - 1]!.has(d.node), `${d.node} is not in wave ${w}`).toBe(true);
        // A node's pod is replaced once per rollout.
        expect(replacedAt.has(d.node), `${d.node} replaced twice`).toBe(false);
        replacedAt.set(d.node, w);
        // Never on a node that is offline.
        const taints = ((c.nodes.find((n) => n.metadata.name === d.node)!['spec'] as { taints?: { key: string }[] }).taints ?? []).map((x) => x.key);
        expect(taints).not.toContain('node.kubernetes.io/unreachable');
      }
      expect(plan.delete.filter((d) => d.kind !== 'Pod')).toEqual([]);
      // Within a wave, never more nodes replaced than the wave allows.
      expect([...replacedAt.values()].filter((w) => w <= waveNow).length).toBeLessThanOrEqual(chosen[waveNow - 1]!.size);
      t += 1 + Math.floor(random() * 8);
    }
    c.nodes = healthy;
    for (let k = 0; k < 40 && !done(); k++) c.step(at((t += 5)), (o) => scrapeTargets(o, ctx));
    expect(done()).toBe(true);
    expect(replacedAt.size).toBeGreaterThan(30);
    c.step(at(t + 1));
    c.step(at(t + 2));
    expect(c.status().nodes).toEqual({ desired: 60, updated: 60, ready: 60, offline: 0 });
    expect(c.status().servedDigests).toEqual([{ digest: DIGEST_B, count: 60 }]);
  });
});
