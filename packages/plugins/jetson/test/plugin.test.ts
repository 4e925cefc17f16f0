import { afterAll, describe, expect, it } from 'vitest';
import { createHostContext, createSampleRegistry, type HostContext, type NodeInfo } from '@slmops/plugin-sdk';
import { createFileTree, emptyHostContext, jetsonOrinNode, nodeFactories, raspberryPiNode, type SimulatedNodeKind } from '@slmops/plugin-sdk/testing';
import { jetson } from '../src/index.js';

describe('jetson plugin: detection across every realistic node', () => {
  const served = new Set<SimulatedNodeKind>(['jetson']);
  it.each(Object.keys(nodeFactories) as SimulatedNodeKind[])('%s', (kind) => {
    expect(jetson().detect(nodeFactories[kind]()) !== null).toBe(served.has(kind));
  });

  it('reads the L4T kernel, the device plugin resource and the unified memory', () => {
    const d = jetson().detect(jetsonOrinNode())!;
    expect(d.variant).toBeUndefined();
    expect(d.evidence).toEqual(['L4T kernel 5.15.148-tegra', 'allocatable nvidia.com/gpu=1']);
    expect(d.device).toMatchObject({ kind: 'igpu', vendor: 'nvidia', product: 'Orin', count: 1, arch: 'arm64', resourceName: 'nvidia.com/gpu', memoryMiB: 15_476, cpus: 8 });
  });

  it('serves a board without the device plugin through the runtime only (variant "runtime")', () => {
    const d = jetson().detect(jetsonOrinNode({ withDevicePlugin: false }))!;
    expect(d.variant).toBe('runtime');
    expect(d.device.resourceName).toBeUndefined();
  });

  it('relies on the NFD kernel label when nodeInfo is missing, and on the admin label', () => {
    const nfdOnly: NodeInfo = { metadata: { name: 'j1', labels: { 'kubernetes.io/arch': 'arm64', 'feature.node.kubernetes.io/kernel-version.full': '5.10.216-tegra' } } };
    expect(jetson().detect(nfdOnly)?.evidence[0]).toBe('L4T kernel 5.10.216-tegra');
    expect(jetson().detect(raspberryPiNode({ labels: { 'slmops.io/accelerator': 'jetson' } }))?.evidence[0]).toBe('label slmops.io/accelerator=jetson');
    const amd64Tegra: NodeInfo = { metadata: { name: 'x', labels: { 'kubernetes.io/arch': 'amd64', 'feature.node.kubernetes.io/kernel-version.full': '5.15.0-tegra' } } };
    expect(jetson().detect(amd64Tegra)).toBeNull();
  });
});

describe('jetson plugin: schedule and providers', () => {
  it('requests the GPU with the nvidia runtime class on arm64', () => {
    const device = jetson().detect(jetsonOrinNode())!.device;
    expect(jetson().schedule({ device, precision: 'fp16', resources: { limits: { cpu: '4', memory: '6Gi' } } })).toEqual({
      resources: { requests: { 'nvidia.com/gpu': '1' }, limits: { cpu: '4', memory: '6Gi', 'nvidia.com/gpu': '1' } },
      nodeSelector: { 'kubernetes.io/arch': 'arm64', 'kubernetes.io/os': 'linux' },
      tolerations: [],
      runtimeClassName: 'nvidia',
      env: [{ name: 'NVIDIA_DRIVER_CAPABILITIES', value: 'compute,utility' }],
      threads: 4,
    });
  });

  it('without the device plugin, requests no GPU resource', () => {
    const device = jetson().detect(jetsonOrinNode({ withDevicePlugin: false }))!.device;
    const patch = jetson({ runtimeClassName: null }).schedule({ device, precision: 'fp16' });
    expect(patch.resources).toEqual({});
    expect(patch.runtimeClassName).toBeUndefined();
    expect(patch.threads).toBe(8);
  });

  it('tensorrt -> cuda -> cpu; fp16 first', () => {
    const device = jetson().detect(jetsonOrinNode())!.device;
    expect(jetson().executionProviders(device).map((e) => e.name)).toEqual(['tensorrt', 'cuda', 'cpu']);
    expect(jetson({ tensorrt: false }).executionProviders(device).map((e) => e.name)).toEqual(['cuda', 'cpu']);
    expect(jetson().precisions[0]).toBe('fp16');
  });
});

describe('jetson plugin: probe', () => {
  const host = (compatible: string | undefined, dev: string[]): HostContext => ({
    ...emptyHostContext(),
    readFile: async (p) => (p === '/proc/device-tree/compatible' ? compatible : undefined),
    readDir: async (p) => (p === '/dev' ? dev : []),
  });

  it('marks CUDA usable on a Tegra system with the GPU device mounted', async () => {
    const r = await jetson().probe!({ ...host('nvidia,p3768-0000+p3767-0000\0nvidia,p3767-0000\0nvidia,tegra234\0', ['nvmap', 'nvhost-ctrl-gpu']), availableProviders: ['cpu', 'cuda'] });
    expect(r.providers).toEqual([
      { name: 'tensorrt', available: false, reason: 'TensorRT is not available in this runtime build' },
      { name: 'cuda', available: true, reason: 'CUDA is in this runtime build and nvidia,tegra234 with /dev/nvmap present' },
      { name: 'cpu', available: true, reason: expect.any(String) },
    ]);
  });

  it('says why not on this machine (not a Tegra system)', async () => {
    const r = await jetson().probe!({ ...createHostContext(), availableProviders: ['cpu', 'cuda', 'tensorrt'] });
    expect(r.providers[1]).toEqual({ name: 'cuda', available: false, reason: expect.stringContaining('not a Tegra system') });
  });
});

describe('jetson plugin: collectors', () => {
  const tree = createFileTree();
  afterAll(() => tree.cleanup());

  it('exports GPU load from sysfs when readable, nothing otherwise', async () => {
    const bare = createSampleRegistry();
    await jetson().collectors!(bare, tree.ctx);
    expect(bare.names()).toEqual([]);

    tree.write('/sys/devices/gpu.0/load', '437\n');
    const registry = createSampleRegistry();
    await jetson().collectors!(registry, tree.ctx);
    const [family] = await registry.collect();
    expect(family).toMatchObject({ name: 'slmops_gpu_utilization_ratio', samples: [{ labels: { gpu: '0', uuid: '', name: 'jetson' }, value: 0.437 }] });
  });
});
