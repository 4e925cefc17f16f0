import { describe, expect, it } from 'vitest';
import { isLabelValue, isQualifiedName, isQuantity, readNode } from '../src/index.js';
import { fleetNode, nodeFactories, nvidiaGpuNode, type SimulatedNodeKind } from '../src/testing/index.js';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

describe('realistic node factories', () => {
  it.each(Object.keys(nodeFactories) as SimulatedNodeKind[])('%s is a valid Node as the API server would store it', (kind) => {
    const node = nodeFactories[kind]();
    expect(node.kind).toBe('Node');
    expect(node.metadata.name).toMatch(DNS_SUBDOMAIN);
    for (const [k, v] of Object.entries(node.metadata.labels ?? {})) {
      expect(isQualifiedName(k), `label key ${k}`).toBe(true);
      expect(isLabelValue(v), `label ${k}=${v}`).toBe(true);
    }
    for (const map of [node.status?.capacity, node.status?.allocatable]) {
      for (const [k, v] of Object.entries(map ?? {})) expect(isQuantity(v), `${k}=${v}`).toBe(true);
    }
    if (node.status) {
      expect(node.status.nodeInfo?.kubeletVersion).toMatch(/^v1\.33\.\d+/);
      expect(node.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(node.metadata.labels?.['kubernetes.io/hostname']).toBe(node.metadata.name);
    }
  });

  it('are deterministic and independent copies', () => {
    const a = nvidiaGpuNode();
    const b = nvidiaGpuNode();
    expect(a).toEqual(b);
    a.metadata.labels!['x'] = 'y';
    expect(b.metadata.labels!['x']).toBeUndefined();
  });

  it('an offline node has Ready=Unknown and the unreachable taint', () => {
    const node = nodeFactories['raspberry-pi']({ ready: false });
    expect(readNode(node).ready).toBe(false);
    expect(node.spec?.taints).toContainEqual(expect.objectContaining({ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }));
  });

  it('allocatable never exceeds capacity for cpu and memory', () => {
    for (const make of Object.values(nodeFactories)) {
      const f = readNode(make());
      if (!f.capacity.cpu) continue;
      expect(Number(f.allocatable.cpu!.replace('m', '')) / 1000).toBeLessThanOrEqual(Number(f.capacity.cpu));
      expect(Number(f.allocatable.memory!.replace('Ki', ''))).toBeLessThan(Number(f.capacity.memory!.replace('Ki', '')));
    }
  });

  it('fleetNode gives unique names and IPs across thousands of nodes', () => {
    const kinds = Object.keys(nodeFactories) as SimulatedNodeKind[];
    const nodes = Array.from({ length: 3000 }, (_, i) => fleetNode(kinds[i % kinds.length]!, i, { prefix: 'edge' }));
    expect(new Set(nodes.map((n) => n.metadata.name)).size).toBe(3000);
    const ips = nodes.filter((n) => n.status?.addresses).map((n) => n.status!.addresses![0]!.address);
    expect(new Set(ips).size).toBe(ips.length);
    expect(nodes[5]!.metadata.name).toBe(`edge-${kinds[5]}-00005`);
    expect(nodes[5]!.metadata.labels?.['kubernetes.io/hostname'] ?? nodes[5]!.metadata.name).toBe(nodes[5]!.metadata.name);
  });
});

describe('readNode', () => {
  it('reads the facts of a real GPU node', () => {
    const f = readNode(nvidiaGpuNode());
    expect(f).toMatchObject({ name: 'ip-10-0-12-34.eu-west-1.compute.internal', arch: 'amd64', os: 'linux', ready: true, unschedulable: false, kernelVersion: '5.15.0-1061-aws' });
    expect(f.taints).toEqual([{ key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' }]);
    expect(f.allocatable['nvidia.com/gpu']).toBe('1');
  });

  it('the arch label wins over nodeInfo (it is what the scheduler matches)', () => {
    expect(readNode(nodeFactories['arch-mismatch']()).arch).toBe('amd64');
    expect(readNode({ metadata: { name: 'n' }, status: { nodeInfo: { architecture: 'aarch64' } } }).arch).toBe('arm64');
  });

  it('is total on garbage and on throwing getters', () => {
    for (const v of [null, undefined, 1, 'x', [], { metadata: 7 }, { metadata: { labels: ['a'] }, status: { capacity: null, conditions: 'Ready' } }]) {
      expect(readNode(v)).toMatchObject({ name: '', labels: {}, arch: '', ready: false });
    }
    const evil = { get metadata() { throw new Error('boom'); } };
    expect(readNode(evil).name).toBe('');
    expect(readNode({ metadata: { name: 'n', labels: { a: 1, b: 'x', c: {} } } }).labels).toEqual({ a: '1', b: 'x' });
  });
});
