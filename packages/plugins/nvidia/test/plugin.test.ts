import { describe, expect, it } from 'vitest';
import { createHostContext, createPluginHost, planExecutionProviders, type HostContext } from '@slmops/plugin-sdk';
import { emptyHostContext, nodeFactories, nvidiaGpuNode, type SimulatedNodeKind } from '@slmops/plugin-sdk/testing';
import { nvidia, parseNvidiaSmi, registerNvidiaCollectors } from '../src/index.js';
import { createSampleRegistry } from '@slmops/plugin-sdk';

describe('nvidia plugin: detection on realistic nodes', () => {
  const plugin = nvidia();
  const table: Array<[SimulatedNodeKind, { product?: string; count: number; memoryMiB?: number } | null]> = [
    ['nvidia-gpu', { product: 'NVIDIA-A10G', count: 1, memoryMiB: 23_028 }],
    ['nvidia-gpu-gke', { product: 'nvidia-l4', count: 1 }],
    ['jetson', null],
    ['gpu-labels-without-capacity', null],
    ['mixed-vendor', null],
    ['intel-igpu', null],
    ['amd-gpu', null],
    ['raspberry-pi', null],
    ['cpu-amd64', null],
    ['bare', null],
    ['windows', null],
  ];
  it.each(table)('%s', (kind, expected) => {
    const d = plugin.detect(nodeFactories[kind]());
    if (expected === null) return expect(d).toBeNull();
    expect(d?.device).toMatchObject({ kind: 'gpu', vendor: 'nvidia', resourceName: 'nvidia.com/gpu', ...expected });
  });

  it('collects GFD facts and says what it relied on', () => {
    const d = plugin.detect(nvidiaGpuNode({ count: 4, driverMajor: 570 }))!;
    expect(d.device.count).toBe(4);
    expect(d.device.attributes).toEqual({
      family: 'ampere',
      computeCapability: '8.6',
      driverMajor: '570',
      cudaRuntimeMajor: '12',
      migCapable: 'false',
      sharingStrategy: 'none',
    });
    expect(d.evidence).toEqual([
      'allocatable nvidia.com/gpu=4',
      'label nvidia.com/gpu.product=NVIDIA-A10G',
      'label feature.node.kubernetes.io/pci-10de.present=true',
    ]);
  });

  it("accepts NFD's default class_vendor PCI label as evidence", () => {
    const node = nodeFactories['nvidia-gpu-gke']({ labels: { 'feature.node.kubernetes.io/pci-0302_10de.present': 'true' } });
    expect(plugin.detect(node)?.evidence).toContain('label feature.node.kubernetes.io/pci-0302_10de.present=true');
  });

  it('uses allocatable, not capacity: a GPU taken out by the device plugin is not served', () => {
    const node = nvidiaGpuNode();
    node.status!.allocatable!['nvidia.com/gpu'] = '0';
    expect(plugin.detect(node)).toBeNull();
  });

  it('detects a MIG resource when configured to', () => {
    const node = nvidiaGpuNode();
    node.status!.allocatable!['nvidia.com/mig-1g.10gb'] = '7';
    expect(nvidia({ resourceName: 'nvidia.com/mig-1g.10gb' }).detect(node)?.device).toMatchObject({ count: 7, resourceName: 'nvidia.com/mig-1g.10gb' });
  });
});

describe('nvidia plugin: schedule', () => {
  const device = nvidia().detect(nvidiaGpuNode())!.device;

  it('requests the GPU, tolerates the GPU taint and sets driver capabilities', () => {
    expect(nvidia().schedule({ device, precision: 'fp16', resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '4Gi' } } })).toEqual({
      resources: { requests: { cpu: '1', memory: '2Gi', 'nvidia.com/gpu': '1' }, limits: { memory: '4Gi', 'nvidia.com/gpu': '1' } },
      nodeSelector: { 'kubernetes.io/arch': 'amd64', 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      env: [{ name: 'NVIDIA_DRIVER_CAPABILITIES', value: 'compute,utility' }],
      threads: 1,
    });
  });

  it('tolerates the taints real GPU pools carry (EKS value true, GKE value present)', () => {
    const tolerations = nvidia().schedule({ device, precision: 'fp16' }).tolerations;
    for (const kind of ['nvidia-gpu', 'nvidia-gpu-gke'] as const) {
      for (const taint of nodeFactories[kind]().spec!.taints!) {
        expect(tolerations.some((t) => t.key === taint.key && t.operator === 'Exists' && t.effect === taint.effect), `${kind} ${taint.key}`).toBe(true);
      }
    }
  });

  it('sets the runtime class only when asked, and requests several GPUs per pod', () => {
    expect(nvidia().schedule({ device, precision: 'fp16' }).runtimeClassName).toBeUndefined();
    const patch = nvidia({ runtimeClassName: 'nvidia' }).schedule({ device, precision: 'fp16', devicesPerPod: 2, resources: { limits: { cpu: '3' } } });
    expect(patch.runtimeClassName).toBe('nvidia');
    expect(patch.resources.limits).toEqual({ cpu: '3', 'nvidia.com/gpu': '2' });
    expect(patch.threads).toBe(3);
  });

  it('prefers fp16 then int8; providers cuda -> cpu, with TensorRT first as an option', () => {
    expect(nvidia().precisions).toEqual(['fp16', 'int8', 'fp32']);
    expect(nvidia().executionProviders(device).map((e) => e.name)).toEqual(['cuda', 'cpu']);
    expect(nvidia({ tensorrt: true }).executionProviders(device).map((e) => e.name)).toEqual(['tensorrt', 'cuda', 'cpu']);
  });

  it('the host picks fp16 for the default spec precisions and int8 when fp16 is not acceptable', () => {
    const host = createPluginHost([nvidia()]);
    const [gpuClass] = host.classify([nvidiaGpuNode()], { plugins: ['nvidia'] }).classes;
    expect(host.planClass(gpuClass!, { precisions: ['int8', 'fp16', 'fp32'] }).precision.precision).toBe('fp16');
    expect(host.planClass(gpuClass!, { precisions: ['int8', 'fp32'] }).precision.precision).toBe('int8');
  });
});

const SMI_OUTPUT = `0, GPU-5f3c1c2e-8d1a-2b4c-9e7f-0a1b2c3d4e5f, NVIDIA A10G, 37, 1523, 23028, 41, 62.35
1, GPU-0b7e6a2f-1c3d-4e5f-8a9b-0c1d2e3f4a5b, NVIDIA A10G, 0, 0, 23028, 29, [N/A]
`;

describe('nvidia plugin: nvidia-smi', () => {
  it('parses the CSV query, leaving out [N/A] fields', () => {
    const [a, b] = parseNvidiaSmi(SMI_OUTPUT);
    expect(a).toEqual({
      index: '0',
      uuid: 'GPU-5f3c1c2e-8d1a-2b4c-9e7f-0a1b2c3d4e5f',
      name: 'NVIDIA A10G',
      utilization: 0.37,
      memoryUsedBytes: 1523 * 2 ** 20,
      memoryTotalBytes: 23028 * 2 ** 20,
      temperatureCelsius: 41,
      powerWatts: 62.35,
    });
    expect(b?.powerWatts).toBeUndefined();
    expect(parseNvidiaSmi('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.\n')).toEqual([]);
  });

  const smiHost = (calls: string[][]): HostContext => ({
    ...emptyHostContext(),
    exec: async (file, args) => {
      calls.push([file, ...args]);
      return { exitCode: 0, stdout: SMI_OUTPUT, stderr: '' };
    },
  });

  it('exports GPU gauges from nvidia-smi when present', async () => {
    const calls: string[][] = [];
    const registry = createSampleRegistry();
    await nvidia().collectors!(registry, smiHost(calls));
    const families = Object.fromEntries((await registry.collect()).map((f) => [f.name, f.samples]));
    expect(families.slmops_gpu_utilization_ratio).toEqual([
      { labels: { gpu: '0', uuid: 'GPU-5f3c1c2e-8d1a-2b4c-9e7f-0a1b2c3d4e5f', name: 'NVIDIA A10G' }, value: 0.37 },
      { labels: { gpu: '1', uuid: 'GPU-0b7e6a2f-1c3d-4e5f-8a9b-0c1d2e3f4a5b', name: 'NVIDIA A10G' }, value: 0 },
    ]);
    expect(families.slmops_gpu_power_watts).toHaveLength(1);
    expect(calls[0]).toEqual(['nvidia-smi', '--query-gpu=index,uuid,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw', '--format=csv,noheader,nounits']);
  });

  it('runs nvidia-smi once for families collected together', async () => {
    const calls: string[][] = [];
    const registry = { gauges: [] as Array<() => unknown>, gauge(f: { collect: () => unknown }) { this.gauges.push(f.collect); }, counter() {} };
    await registerNvidiaCollectors(registry, smiHost(calls));
    calls.length = 0;
    await Promise.all(registry.gauges.map((c) => c()));
    expect(calls).toHaveLength(1);
  });

  it('registers nothing on this GPU-less machine (real host: no nvidia-smi)', async () => {
    const registry = createSampleRegistry();
    await nvidia().collectors!(registry, createHostContext());
    expect(registry.names()).toEqual([]);
  });
});

describe('nvidia plugin: probe and provider plan', () => {
  it('on this GPU-less machine, CUDA and TensorRT are unusable even in a build that has them: the plan falls back to cpu', async () => {
    const plugin = nvidia({ tensorrt: true });
    const probe = await plugin.probe!({ ...createHostContext(), availableProviders: ['cpu', 'cuda', 'tensorrt', 'webgpu'] });
    expect(probe.providers.map((p) => [p.name, p.available])).toEqual([['tensorrt', false], ['cuda', false], ['cpu', true]]);
    expect(probe.providers[1]!.reason).toBe('CUDA is in this runtime build but no /dev/nvidia<N> device in this container');
    const plan = planExecutionProviders(plugin.executionProviders(nvidia().detect(nvidiaGpuNode())!.device), ['cpu', 'cuda', 'tensorrt', 'webgpu'], probe.providers);
    expect(plan.provider.name).toBe('cpu');
    expect(plan.fallbacks.map((f) => `${f.from}->${f.to}`)).toEqual(['tensorrt->cuda', 'cuda->cpu']);
  });

  it('with a GPU visible and the build having CUDA, CUDA is available and the device is read from nvidia-smi', async () => {
    const ctx: HostContext = {
      ...emptyHostContext(),
      readDir: async (p) => (p === '/dev' ? ['null', 'nvidia0', 'nvidia-uvm', 'nvidiactl'] : []),
      exec: async () => ({ exitCode: 0, stdout: SMI_OUTPUT.split('\n')[0]!, stderr: '' }),
    };
    const probe = await nvidia().probe!({ ...ctx, availableProviders: ['cpu', 'cuda'] });
    expect(probe.providers).toEqual([
      { name: 'cuda', available: true, reason: 'CUDA is in this runtime build and /dev/nvidia0 present' },
      { name: 'cpu', available: true, reason: expect.any(String) },
    ]);
    expect(probe.device).toMatchObject({ kind: 'gpu', count: 1, product: 'NVIDIA A10G', memoryMiB: 23028 });
  });
});
