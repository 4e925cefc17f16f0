import { afterAll, describe, expect, it } from 'vitest';
import { createSampleRegistry, type HostContext } from '@slmops/plugin-sdk';
import { amdGpuNode, createFileTree, emptyHostContext, nodeFactories, type SimulatedNodeKind } from '@slmops/plugin-sdk/testing';
import { amd, parseVram } from '../src/index.js';

describe('amd plugin: detection across every realistic node', () => {
  const served = new Set<SimulatedNodeKind>(['amd-gpu', 'mixed-vendor']);
  it.each(Object.keys(nodeFactories) as SimulatedNodeKind[])('%s', (kind) => {
    expect(amd().detect(nodeFactories[kind]()) !== null).toBe(served.has(kind));
  });

  it('reads the labeller facts', () => {
    const d = amd().detect(amdGpuNode())!;
    expect(d.device).toMatchObject({
      kind: 'gpu',
      vendor: 'amd',
      product: 'AMD_Instinct_MI210',
      count: 1,
      memoryMiB: 65_536,
      resourceName: 'amd.com/gpu',
      attributes: { family: 'AI', deviceId: '740f', computeUnits: '104', driverVersion: '6.8.5' },
    });
    expect(d.evidence).toEqual([
      'allocatable amd.com/gpu=1',
      'label amd.com/gpu.product-name=AMD_Instinct_MI210',
      'label feature.node.kubernetes.io/amd-gpu=true',
      'label feature.node.kubernetes.io/pci-1002.present=true',
    ]);
  });

  it('accepts the older beta.amd.com labels', () => {
    const node = amdGpuNode({ labels: { 'amd.com/gpu.product-name': '' } });
    delete node.metadata.labels!['amd.com/gpu.product-name'];
    node.metadata.labels!['beta.amd.com/gpu.product-name'] = 'Radeon_PRO_W7900';
    expect(amd().detect(node)?.device.product).toBe('Radeon_PRO_W7900');
  });

  it('parses VRAM sizes as the labeller writes them', () => {
    expect(parseVram('192G')).toBe(196_608);
    expect(parseVram('16384M')).toBe(16_384);
    expect(parseVram('lots')).toBeUndefined();
  });
});

describe('amd plugin: schedule and providers', () => {
  const device = amd().detect(amdGpuNode())!.device;
  it('requests the GPU and tolerates the amd.com/gpu taint', () => {
    expect(amd().schedule({ device, precision: 'fp16' })).toEqual({
      resources: { requests: { 'amd.com/gpu': '1' }, limits: { 'amd.com/gpu': '1' } },
      nodeSelector: { 'kubernetes.io/arch': 'amd64', 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'amd.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      env: [],
      threads: 31,
    });
  });
  it('MIGraphX -> ROCm -> cpu, ROCm optional', () => {
    expect(amd().executionProviders(device).map((e) => e.name)).toEqual(['migraphx', 'rocm', 'cpu']);
    expect(amd({ rocm: false }).executionProviders(device).map((e) => e.name)).toEqual(['migraphx', 'cpu']);
  });
});

describe('amd plugin: probe', () => {
  it('needs /dev/kfd and a render node, and says MIGraphX is missing from this build', async () => {
    const ctx: HostContext = { ...emptyHostContext(), readDir: async (p) => (p === '/dev' ? ['kfd', 'dri'] : p === '/dev/dri' ? ['renderD128'] : []) };
    const r = await amd().probe!({ ...ctx, availableProviders: ['cpu', 'cuda'] });
    expect(r.providers.map((p) => p.reason)).toEqual([
      'MIGraphX is not available in this runtime build',
      'ROCm is not available in this runtime build',
      'the CPU provider is part of every ONNX Runtime build',
    ]);
    const withBuild = await amd().probe!({ ...ctx, availableProviders: ['cpu', 'migraphx'] });
    expect(withBuild.providers[0]).toEqual({ name: 'migraphx', available: true, reason: 'MIGraphX is in this runtime build and /dev/kfd and /dev/dri/renderD128 present' });
  });
});

describe('amd plugin: collectors', () => {
  const tree = createFileTree();
  afterAll(() => tree.cleanup());

  it('exports busy ratio and VRAM from amdgpu sysfs', async () => {
    const empty = createSampleRegistry();
    await amd().collectors!(empty, tree.ctx);
    expect(empty.names()).toEqual([]);

    tree.write('/sys/class/drm/card0/device/vendor', '0x1002\n');
    tree.write('/sys/class/drm/card0/device/gpu_busy_percent', '42\n');
    tree.write('/sys/class/drm/card0/device/mem_info_vram_used', '1073741824\n');
    tree.write('/sys/class/drm/card0/device/mem_info_vram_total', '68702699520\n');
    const registry = createSampleRegistry();
    await amd().collectors!(registry, tree.ctx);
    const families = Object.fromEntries((await registry.collect()).map((f) => [f.name, f.samples]));
    const labels = { gpu: 'card0', uuid: '', name: 'amdgpu' };
    expect(families).toEqual({
      slmops_gpu_utilization_ratio: [{ labels, value: 0.42 }],
      slmops_gpu_memory_used_bytes: [{ labels, value: 1073741824 }],
      slmops_gpu_memory_total_bytes: [{ labels, value: 68702699520 }],
    });
  });
});
