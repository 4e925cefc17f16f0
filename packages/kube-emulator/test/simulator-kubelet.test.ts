import { nodeFactories } from '@slmops/plugin-sdk/testing';
import { describe, expect, it } from 'vitest';
import { apportion, generateFleet, nodeCameOnline, nodeWentOffline, pickPercent } from '../src/simulator/fleet.js';
import { kubeletSync } from '../src/simulator/kubelet.js';
import { isNodeReady, untoleratedTaints } from '../src/simulator/meta.js';
import { schedulePod, type NodeUsage } from '../src/simulator/scheduler.js';
import type { Node, Pod } from '../src/simulator/types.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');

function pod(nodeName?: string, extra: Partial<Pod['spec']> = {}): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'edge', uid: 'pod-uid' }, spec: { nodeName, containers: [{ name: 'c', image: 'img:1' }], ...extra } };
}

describe('kubeletSync', () => {
  const [node] = generateFleet({ nodes: 1, mix: { 'cpu-amd64': 1 } }) as [Node];
  const input = { now: NOW, boundAt: NOW, startDelayMs: 500, readyDelayMs: 1000, podIP: '10.128.0.7' };

  it('keeps a bound pod Pending until the start delay, then Running, then Ready after the ready delay', () => {
    const p = pod(node.metadata.name);
    const pending = kubeletSync(p, node, input);
    expect(pending.status?.phase).toBe('Pending');
    expect(pending.wakeAt).toBe(NOW + 500);
    p.status = pending.status;
    const running = kubeletSync(p, node, { ...input, now: NOW + 500 });
    expect(running.status).toMatchObject({ phase: 'Running', podIP: '10.128.0.7', hostIP: node.status?.addresses?.[0]?.address });
    expect(running.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    expect(running.wakeAt).toBe(NOW + 1500);
    p.status = running.status;
    const ready = kubeletSync(p, node, { ...input, now: NOW + 1500 });
    expect(ready.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(ready.status?.containerStatuses?.[0]).toMatchObject({ ready: true, started: true, restartCount: 0 });
    p.status = ready.status;
    // Nothing changes afterwards: no status write.
    expect(kubeletSync(p, node, { ...input, now: NOW + 60_000 }).status).toBeUndefined();
    // A failing readiness probe takes Ready away again.
    expect(kubeletSync(p, node, { ...input, now: NOW + 61_000, readiness: false }).status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
  });

  it('reports pods on a NotReady node as Ready=False and does not start pending ones', () => {
    const p = pod(node.metadata.name);
    p.status = kubeletSync(p, node, { ...input, now: NOW + 5000 }).status;
    expect(p.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    const offline = nodeWentOffline(node, NOW + 6000);
    const out = kubeletSync(p, offline, { ...input, now: NOW + 6000 });
    expect(out.status?.phase).toBe('Running');
    expect(out.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', lastTransitionTime: '2026-03-01T12:00:06Z' });
    const fresh = pod(node.metadata.name);
    expect(kubeletSync(fresh, offline, { ...input, now: NOW + 60_000 })).toEqual({});
  });

  it('shows a crashed process as a not-ready container with its restart count', () => {
    const p = pod(node.metadata.name);
    const out = kubeletSync(p, node, { ...input, now: NOW + 5000, process: { running: false, restarts: 2, lastExitCode: 1 } });
    expect(out.status?.containerStatuses?.[0]).toMatchObject({ ready: false, restartCount: 2, state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1 } } });
  });
});

describe('fleet generator', () => {
  it('apportions classes exactly by weight and is deterministic per seed', () => {
    const fleet = generateFleet({ nodes: 60, mix: { 'nvidia-gpu': 1, jetson: 1, 'cpu-amd64': 1 }, seed: 7 });
    const byKind = new Map<string, number>();
    for (const n of fleet) {
      const kind = /^node-(.+)-\d{5}$/.exec(n.metadata.name ?? '')?.[1] ?? '?';
      byKind.set(kind, (byKind.get(kind) ?? 0) + 1);
    }
    expect(Object.fromEntries(byKind)).toEqual({ 'nvidia-gpu': 20, jetson: 20, 'cpu-amd64': 20 });
    expect(new Set(fleet.map((n) => n.metadata.name)).size).toBe(60);
    expect(generateFleet({ nodes: 60, mix: { 'nvidia-gpu': 1, jetson: 1, 'cpu-amd64': 1 }, seed: 7 }).map((n) => n.metadata.name)).toEqual(fleet.map((n) => n.metadata.name));
    expect(generateFleet({ nodes: 60, mix: { 'nvidia-gpu': 1, jetson: 1, 'cpu-amd64': 1 }, seed: 8 }).map((n) => n.metadata.name)).not.toEqual(fleet.map((n) => n.metadata.name));
    expect(apportion(10, { a: 2, b: 1 })).toEqual(new Map([['a', 7], ['b', 3]]));
  });

  it('builds nodes from the plugin-sdk factories: labels, capacity and taints of the real hardware', () => {
    const [gpu] = generateFleet({ nodes: 1, mix: { 'nvidia-gpu': 1 } }) as [Node];
    const reference = nodeFactories['nvidia-gpu']() as unknown as Node;
    expect(gpu.status?.capacity?.['nvidia.com/gpu']).toBe(reference.status?.capacity?.['nvidia.com/gpu']);
    expect(gpu.metadata.labels?.['nvidia.com/gpu.product']).toBe(reference.metadata.labels?.['nvidia.com/gpu.product']);
    expect(gpu.spec?.taints).toEqual(reference.spec?.taints);
    expect(gpu.spec?.podCIDR).toBe('10.128.0.0/24');
    expect(isNodeReady(gpu)).toBe(true);
  });

  it('rejects unknown hardware classes by name', () => {
    expect(() => generateFleet({ nodes: 3, mix: { 'tpu-v9': 1 } as never })).toThrow(/unknown hardware class "tpu-v9"/);
  });

  it('takes nodes offline with unreachable taints and brings them back', () => {
    const [n] = generateFleet({ nodes: 1, mix: { 'raspberry-pi': 1 } }) as [Node];
    const off = nodeWentOffline(n, NOW);
    expect(off.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown' });
    expect(untoleratedTaints([], off, ['NoSchedule', 'NoExecute']).map((t) => `${t.key}:${t.effect}`)).toEqual([
      'node.kubernetes.io/unreachable:NoSchedule',
      'node.kubernetes.io/unreachable:NoExecute',
    ]);
    const on = nodeCameOnline(off, NOW + 1000);
    expect(isNodeReady(on)).toBe(true);
    expect(on.spec?.taints).toBeUndefined();
  });

  it('picks a percentage of nodes deterministically', () => {
    const names = Array.from({ length: 50 }, (_, i) => `n${i}`);
    const a = pickPercent(names, 20, 3);
    expect(a).toHaveLength(10);
    expect(pickPercent(names, 20, 3)).toEqual(a);
    expect(new Set(a).size).toBe(10);
  });
});

describe('schedulePod', () => {
  const fleet = generateFleet({ nodes: 6, mix: { 'nvidia-gpu': 1, 'cpu-amd64': 2 } });
  const empty = new Map<string, NodeUsage>();

  it('places GPU pods only on GPU nodes that have a free GPU and tolerate the GPU taint', () => {
    const gpuPod = pod(undefined, {
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' } } }],
    });
    const placed = schedulePod(gpuPod, fleet, empty);
    expect('nodeName' in placed && placed.nodeName).toMatch(/nvidia-gpu/);
    const gpuNodes = fleet.filter((n) => n.metadata.name?.includes('nvidia-gpu')).map((n) => n.metadata.name ?? '');
    const full = new Map(gpuNodes.map((name) => [name, { pods: 1, requests: new Map([['nvidia.com/gpu', 1]]) }]));
    const none = schedulePod(gpuPod, fleet, full);
    expect(none).toEqual({ message: '0/6 nodes are available: 6 Insufficient nvidia.com/gpu.' });
  });

  it('spreads plain pods over the least loaded untainted Ready node and skips offline ones', () => {
    const cpuNodes = fleet.filter((n) => n.metadata.name?.includes('cpu-amd64'));
    const offline = fleet.map((n) => (n === cpuNodes[0] ? nodeWentOffline(n, NOW) : n));
    const usage = new Map<string, NodeUsage>([[cpuNodes[1]?.metadata.name ?? '', { pods: 3, requests: new Map() }]]);
    const placed = schedulePod(pod(), offline, usage);
    expect(placed).toEqual({ nodeName: cpuNodes[2]?.metadata.name });
  });
});
