import { describe, expect, it } from 'vitest';
import { acceleratorPatch, planAfterSessionFailure, planExecutionProviders, providerStatuses, selectPrecision, threadsForCpu, applyOverride, mergeEnv, parseQuantity, isQuantity } from '../src/index.js';

describe('selectPrecision', () => {
  it.each([
    [['int8', 'fp16', 'fp32'], ['fp16', 'int8', 'fp32'], undefined, 'fp16'],
    [['int8', 'fp32'], ['fp16', 'int8', 'fp32'], undefined, 'int8'],
    [['int8', 'fp16', 'fp32'], ['int8', 'int4', 'fp32'], undefined, 'int8'],
    [['fp32'], ['int8', 'int4', 'fp32'], undefined, 'fp32'],
    [['fp16'], ['int8', 'int4', 'fp32'], undefined, 'fp16'],
    [['int8', 'fp32'], ['fp16', 'int8'], 'fp32', 'fp32'],
  ] as const)('spec %j, plugin %j, override %s -> %s', (spec, plugin, override, expected) => {
    expect(selectPrecision(spec, plugin, override).precision).toBe(expected);
  });

  it('explains the choice', () => {
    expect(selectPrecision(['fp16'], ['int8', 'fp32']).reason).toBe("none of the plugin's precisions [int8, fp32] is acceptable; using the first of spec.model.precisions");
    expect(selectPrecision(['int8'], ['int8'], 'int4').reason).toContain('which spec.model.precisions [int8] does not list');
    expect(() => selectPrecision([], ['int8'])).toThrow('spec.model.precisions is empty');
  });
});

describe('planExecutionProviders', () => {
  const nvidiaChain = [{ name: 'tensorrt' as const }, { name: 'cuda' as const, options: { device_id: 0 } }, { name: 'cpu' as const }];

  it('falls back down the chain, one step per skipped provider, with reasons', () => {
    const plan = planExecutionProviders([{ name: 'openvino', options: { device_type: 'GPU' } }, { name: 'cpu' }], ['cpu', 'cuda', 'tensorrt', 'webgpu']);
    expect(plan).toEqual({
      provider: { name: 'cpu' },
      candidates: [{ name: 'cpu' }],
      fallbacks: [{ from: 'openvino', to: 'cpu', reason: 'OpenVINO is not available in this runtime build' }],
    });
    const cpuOnly = planExecutionProviders(nvidiaChain, ['cpu']);
    expect(cpuOnly.fallbacks).toEqual([
      { from: 'tensorrt', to: 'cuda', reason: 'TensorRT is not available in this runtime build' },
      { from: 'cuda', to: 'cpu', reason: 'CUDA is not available in this runtime build' },
    ]);
  });

  it('keeps available providers as candidates in order, with their options', () => {
    const plan = planExecutionProviders(nvidiaChain, ['CPU', 'cuda']);
    expect(plan.provider).toEqual({ name: 'cuda', options: { device_id: 0 } });
    expect(plan.candidates.map((c) => c.name)).toEqual(['cuda', 'cpu']);
    expect(plan.fallbacks).toEqual([{ from: 'tensorrt', to: 'cuda', reason: 'TensorRT is not available in this runtime build' }]);
  });

  it('honours probe results and always ends in cpu, even if the chain forgot it', () => {
    const plan = planExecutionProviders([{ name: 'cuda' }, { name: 'cuda' }], ['cpu', 'cuda'], [{ name: 'cuda', available: false, reason: 'no /dev/nvidia0' }]);
    expect(plan).toEqual({ provider: { name: 'cpu' }, candidates: [{ name: 'cpu' }], fallbacks: [{ from: 'cuda', to: 'cpu', reason: 'no /dev/nvidia0' }] });
  });

  it('moves on after a failed session creation and refuses to go past cpu', () => {
    const plan = planExecutionProviders(nvidiaChain, ['cpu', 'cuda', 'tensorrt']);
    const next = planAfterSessionFailure(plan, 'libnvinfer.so.10: cannot open shared object file');
    expect(next.provider.name).toBe('cuda');
    expect(next.fallbacks).toEqual([{ from: 'tensorrt', to: 'cuda', reason: 'TensorRT session creation failed: libnvinfer.so.10: cannot open shared object file' }]);
    const last = planAfterSessionFailure(next, 'CUDA driver version is insufficient');
    expect(last.provider.name).toBe('cpu');
    expect(() => planAfterSessionFailure(last, 'model is corrupt')).toThrow('session creation failed on the last execution provider (cpu): model is corrupt');
  });

  it('providerStatuses: build first, then device', () => {
    const s = providerStatuses(nvidiaChain, ['cpu', 'cuda'], { visible: false, detail: 'no GPU here' });
    expect(s.map((x) => [x.name, x.available, x.reason])).toEqual([
      ['tensorrt', false, 'TensorRT is not available in this runtime build'],
      ['cuda', false, 'CUDA is in this runtime build but no GPU here'],
      ['cpu', true, 'the CPU provider is part of every ONNX Runtime build'],
    ]);
  });
});

describe('threads, quantities and overrides', () => {
  it('threadsForCpu', () => {
    expect(threadsForCpu('2500m')).toBe(2);
    expect(threadsForCpu('100m')).toBe(1);
    expect(threadsForCpu(undefined, 6.9)).toBe(6);
    expect(threadsForCpu(undefined)).toBe(1);
    expect(threadsForCpu('5000', 4)).toBe(1024);
  });

  it('parseQuantity and isQuantity', () => {
    expect(parseQuantity('500m')).toBe(0.5);
    expect(parseQuantity('16318676Ki')).toBe(16318676 * 1024);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('2G')).toBe(2e9);
    expect(parseQuantity('lots')).toBeUndefined();
    expect(isQuantity('1.5Gi')).toBe(true);
    expect(isQuantity('1.5 Gi')).toBe(false);
    expect(isQuantity(-1)).toBe(false);
  });

  it('applyOverride and mergeEnv', () => {
    const patch = { resources: { requests: { cpu: '1' } }, nodeSelector: {}, tolerations: [], env: [{ name: 'Z', value: '1' }, { name: 'A', value: '1' }], threads: 4 };
    expect(applyOverride(patch, undefined)).toBe(patch);
    const o = applyOverride(patch, { match: { labels: { a: 'b' } }, resources: { limits: { cpu: 2 } }, env: [{ name: 'Z', value: '2' }] });
    expect(o).toEqual({ resources: { requests: { cpu: '1' }, limits: { cpu: '2' } }, nodeSelector: {}, tolerations: [], env: [{ name: 'A', value: '1' }, { name: 'Z', value: '2' }], threads: 2 });
    expect(mergeEnv([{ name: 'b', value: '1' }], undefined, [{ name: 'a', value: '2' }])).toEqual([{ name: 'a', value: '2' }, { name: 'b', value: '1' }]);
  });
});

describe('acceleratorPatch', () => {
  const device = { kind: 'gpu' as const, vendor: 'x', count: 2, arch: 'arm64', cpus: 6, attributes: {} };
  it('adds the device resource, os/arch selector, tolerations, runtime class and sorted env', () => {
    expect(
      acceleratorPatch(
        { device, precision: 'fp16', devicesPerPod: 2, resources: { requests: { memory: '1Gi' } } },
        { resourceName: 'vendor.example/gpu', tolerations: [{ key: 'k', operator: 'Exists' }], runtimeClassName: 'rc', env: [{ name: 'Z', value: '1' }, { name: 'A', value: '2' }], nodeSelector: { zone: 'a' } },
      ),
    ).toEqual({
      resources: { requests: { memory: '1Gi', 'vendor.example/gpu': '2' }, limits: { 'vendor.example/gpu': '2' } },
      nodeSelector: { 'kubernetes.io/arch': 'arm64', 'kubernetes.io/os': 'linux', zone: 'a' },
      tolerations: [{ key: 'k', operator: 'Exists' }],
      runtimeClassName: 'rc',
      env: [{ name: 'A', value: '2' }, { name: 'Z', value: '1' }],
      threads: 6,
    });
  });
  it('without a device resource or arch, passes resources through and selects linux only', () => {
    expect(acceleratorPatch({ device: { ...device, arch: '' }, precision: 'int8', resources: { limits: { cpu: 2 } } }, { runtimeClassName: null })).toEqual({
      resources: { limits: { cpu: '2' } },
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [],
      env: [],
      threads: 2,
    });
  });
});
