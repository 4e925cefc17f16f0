import { afterAll, describe, expect, it } from 'vitest';
import { createHostContext, createSampleRegistry, type HostContext } from '@slmops/plugin-sdk';
import { createFileTree, emptyHostContext, intelIgpuNode, intelNpuNode, nodeFactories, type SimulatedNodeKind } from '@slmops/plugin-sdk/testing';
import { intel } from '../src/index.js';

describe('intel plugin: detection across every realistic node', () => {
  const expected: Partial<Record<SimulatedNodeKind, string>> = { 'intel-igpu': 'i915', 'intel-xe': 'xe', 'intel-npu': 'i915' };
  it.each(Object.keys(nodeFactories) as SimulatedNodeKind[])('%s', (kind) => {
    expect(intel().detect(nodeFactories[kind]())?.variant ?? null).toBe(expected[kind] ?? null);
  });

  it('reads the iGPU from the GPU plugin resource and its NFD rule labels', () => {
    const d = intel().detect(intelIgpuNode())!;
    expect(d.device).toMatchObject({ kind: 'igpu', vendor: 'intel', product: '8086:a7a0', count: 10, resourceName: 'gpu.intel.com/i915', attributes: { kmd: 'i915', pciId: '8086:a7a0' } });
    expect(d.evidence).toEqual(['allocatable gpu.intel.com/i915=10', 'label gpu.intel.com/device-id.0300-a7a0.present=true', 'label intel.feature.node.kubernetes.io/gpu=true']);
  });

  it('with both GPU and NPU, serves the GPU by default and the NPU when preferred', () => {
    expect(intel().detect(intelNpuNode())!.device.attributes.npu).toBe('true');
    const npu = intel({ prefer: 'npu' }).detect(intelNpuNode())!;
    expect(npu.variant).toBe('npu');
    expect(npu.device).toMatchObject({ kind: 'npu', resourceName: 'npu.intel.com/accel', count: 1 });
  });

  it('NFD labels without the device plugin resource are not enough', () => {
    const node = intelIgpuNode();
    delete node.status!.allocatable!['gpu.intel.com/i915'];
    expect(intel().detect(node)).toBeNull();
  });
});

describe('intel plugin: schedule and providers', () => {
  it('requests one share of the GPU resource; OpenVINO on GPU then cpu', () => {
    const device = intel().detect(intelIgpuNode({ kmd: 'xe' }))!.device;
    expect(intel().schedule({ device, precision: 'int8', resources: { limits: { cpu: '2' } } })).toEqual({
      resources: { requests: { 'gpu.intel.com/xe': '1' }, limits: { cpu: '2', 'gpu.intel.com/xe': '1' } },
      nodeSelector: { 'kubernetes.io/arch': 'amd64', 'kubernetes.io/os': 'linux' },
      tolerations: [],
      env: [],
      threads: 2,
    });
    expect(intel().executionProviders(device)).toEqual([{ name: 'openvino', options: { device_type: 'GPU' } }, { name: 'cpu' }]);
    expect(intel({ webgpu: true }).executionProviders(device).map((e) => e.name)).toEqual(['openvino', 'webgpu', 'cpu']);
  });

  it('the NPU class requests the NPU and targets OpenVINO NPU', () => {
    const device = intel({ prefer: 'npu' }).detect(intelNpuNode())!.device;
    expect(intel().schedule({ device, precision: 'int8' }).resources).toEqual({ requests: { 'npu.intel.com/accel': '1' }, limits: { 'npu.intel.com/accel': '1' } });
    expect(intel().executionProviders(device)).toEqual([{ name: 'openvino', options: { device_type: 'NPU' } }, { name: 'cpu' }]);
  });
});

describe('intel plugin: probe', () => {
  const dirs = (map: Record<string, string[]>): HostContext => ({ ...emptyHostContext(), readDir: async (p) => map[p] ?? [] });

  it('OpenVINO is honest: not in onnxruntime-node builds even with the GPU present', async () => {
    const r = await intel().probe!({ ...dirs({ '/dev/dri': ['card0', 'renderD128'] }), availableProviders: ['cpu', 'cuda', 'tensorrt', 'webgpu'] });
    expect(r.providers[0]).toEqual({ name: 'openvino', available: false, reason: 'OpenVINO is not available in this runtime build' });
  });

  it('with an OpenVINO build, the GPU or NPU device decides', async () => {
    const gpu = await intel().probe!({ ...dirs({ '/dev/dri': ['renderD128'] }), availableProviders: ['cpu', 'openvino'] });
    expect(gpu.providers[0]).toEqual({ name: 'openvino', available: true, reason: 'OpenVINO is in this runtime build and /dev/dri/renderD128 present' });
    const npu = await intel().probe!({ ...dirs({ '/dev/accel': ['accel0'] }), availableProviders: ['cpu', 'openvino'] });
    expect(npu.providers[0]?.reason).toContain('/dev/accel/accel0 present');
    const none = await intel().probe!({ ...createHostContext(), availableProviders: ['cpu', 'openvino'] });
    expect(none.providers[0]?.available).toBe(false);
  });
});

describe('intel plugin: collectors', () => {
  const tree = createFileTree();
  afterAll(() => tree.cleanup());

  it('exports the frequency of Intel cards (i915 and xe layouts) and skips other vendors', async () => {
    tree.write('/sys/class/drm/card0/device/vendor', '0x8086\n');
    tree.write('/sys/class/drm/card0/gt_cur_freq_mhz', '1300\n');
    tree.write('/sys/class/drm/card1/device/vendor', '0x8086\n');
    tree.write('/sys/class/drm/card1/device/tile0/gt0/freq0/cur_freq', '2050\n');
    tree.write('/sys/class/drm/card2/device/vendor', '0x10de\n');
    tree.write('/sys/class/drm/card2/gt_cur_freq_mhz', '999\n');
    const registry = createSampleRegistry();
    await intel().collectors!(registry, tree.ctx);
    const [family] = await registry.collect();
    expect(family?.samples).toEqual([
      { labels: { gpu: 'card0' }, value: 1300 },
      { labels: { gpu: 'card1' }, value: 2050 },
    ]);
  });

  it('registers nothing when no Intel GPU sysfs is readable', async () => {
    const registry = createSampleRegistry();
    await intel().collectors!(registry, createHostContext({ root: `${tree.root}/nothing-here` }));
    expect(registry.names()).toEqual([]);
  });
});
