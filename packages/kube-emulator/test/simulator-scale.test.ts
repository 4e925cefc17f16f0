import { describe, expect, it } from 'vitest';
import { resources, Store } from '../src/index.js';
import { Simulator, isPodReady, type DaemonSet, type Pod } from '../src/simulator/index.js';

// Fleet scale on the in-process store: work is batched per pass, so 5,000 nodes take a handful of passes,
// not one pass per watch event, and every pod is accounted for.
describe('Simulator at fleet scale', () => {
  it('brings a DaemonSet to Ready on 5,000 nodes and reports 10% of them going offline', async () => {
    const store = new Store();
    const sim = new Simulator({ store, podStartDelayMs: 0, podReadyDelayMs: 0 });
    await sim.start();
    sim.addFleet({ nodes: 5000, seed: 1 });
    store.create(resources.daemonsets, 'default', {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'serve', namespace: 'default' },
      spec: {
        selector: { matchLabels: { app: 'serve' } },
        updateStrategy: { type: 'OnDelete' },
        template: { metadata: { labels: { app: 'serve' } }, spec: { tolerations: [{ operator: 'Exists' }], containers: [{ name: 'c', image: 'i:1' }] } },
      },
    });
    await sim.waitFor('status', () => (store.get(resources.daemonsets, 'default', 'serve') as unknown as DaemonSet).status?.numberReady === 5000, 120_000);
    expect(sim.passes).toBeLessThan(20);
    const pods = store.list(resources.pods, { namespace: 'default' }).items as unknown as Pod[];
    expect(new Set(pods.map((p) => p.spec.nodeName)).size).toBe(5000);
    const offline = sim.setNodesReady({ percent: 10, seed: 2 }, false);
    await sim.waitFor('500 not ready', () => (store.get(resources.daemonsets, 'default', 'serve') as unknown as DaemonSet).status?.numberReady === 4500, 120_000);
    const notReady = (store.list(resources.pods, { namespace: 'default' }).items as unknown as Pod[]).filter((p) => !isPodReady(p));
    expect(notReady.map((p) => p.spec.nodeName).sort()).toEqual(offline);
    await sim.stop();
  }, 180_000);
});
