/**
 * The jetson plugin: NVIDIA Jetson boards (arm64 Tegra SoCs with an integrated GPU). Relies on the L4T "-tegra"
 * kernel (kubelet nodeInfo or NFD kernel-version.full) or the `slmops.io/accelerator=jetson` label; requests
 * nvidia.com/gpu when the NVIDIA device plugin advertises it, otherwise reaches the GPU via the nvidia runtime.
 */
import type { Precision } from '@slmops/api';
import {
  ACCELERATOR_LABEL,
  acceleratorPatch,
  defineHardwarePlugin,
  isTegra,
  nodeCpus,
  nodeMemoryMiB,
  providerStatuses,
  readNode,
  resourceCount,
  type DeviceInfo,
  type EPConfig,
  type HardwarePlugin,
  type HostContext,
  type MetricSample,
  type Toleration,
} from '@slmops/plugin-sdk';

export interface JetsonPluginOptions {
  /** RuntimeClass of the NVIDIA container runtime (JetPack; k3s creates "nvidia"). Default "nvidia"; null for none. */
  runtimeClassName?: string | null;
  /** Try TensorRT before CUDA. Default true: JetPack ships TensorRT. */
  tensorrt?: boolean;
  resourceName?: string;
  tolerations?: Toleration[];
  precisions?: readonly Precision[];
}

/** GPU load in per-mille, by Jetson generation. UNCONFIRMED for Orin; see docs/plugins.md. */
export const JETSON_GPU_LOAD_FILES = ['/sys/devices/gpu.0/load', '/sys/devices/platform/gpu.0/load', '/sys/devices/platform/bus@0/17000000.gpu/load'];

async function readableLoadFiles(ctx: HostContext): Promise<string[]> {
  const found = await Promise.all(JETSON_GPU_LOAD_FILES.map(async (f) => ((await ctx.readFile(f)) !== undefined ? f : undefined)));
  return found.filter((f): f is string => f !== undefined);
}

export function jetson(options: JetsonPluginOptions = {}): HardwarePlugin {
  const resourceName = options.resourceName ?? 'nvidia.com/gpu';
  const runtimeClassName = options.runtimeClassName === undefined ? 'nvidia' : options.runtimeClassName;
  const chain: EPConfig[] = [...((options.tensorrt ?? true) ? [{ name: 'tensorrt' as const }] : []), { name: 'cuda' }, { name: 'cpu' }];
  return defineHardwarePlugin({
    name: 'jetson',
    precisions: options.precisions ?? (['fp16', 'int8', 'fp32'] as const),
    detect(node) {
      const facts = readNode(node);
      if (facts.os !== '' && facts.os !== 'linux') return null;
      if (!isTegra(facts)) return null;
      const count = resourceCount(facts, resourceName);
      const kernel = facts.kernelVersion || facts.labels['feature.node.kubernetes.io/kernel-version.full'] || '';
      const evidence: string[] = [];
      if (/-tegra\b/.test(kernel)) evidence.push(`L4T kernel ${kernel}`);
      if (facts.labels[ACCELERATOR_LABEL] === 'jetson') evidence.push(`label ${ACCELERATOR_LABEL}=jetson`);
      evidence.push(count > 0 ? `allocatable ${resourceName}=${count}` : `no ${resourceName} resource: GPU via the nvidia runtime`);
      const cpus = nodeCpus(facts);
      const memoryMiB = nodeMemoryMiB(facts);
      const device: DeviceInfo = {
        kind: 'igpu',
        vendor: 'nvidia',
        product: facts.labels['nvidia.com/gpu.product'] || 'jetson',
        count: Math.max(count, 1),
        arch: facts.arch,
        ...(count > 0 ? { resourceName } : {}),
        attributes: kernel ? { kernel } : {},
        // The GPU shares the SoC's memory.
        ...(memoryMiB !== undefined ? { memoryMiB } : {}),
        ...(cpus !== undefined ? { cpus } : {}),
      };
      return { plugin: 'jetson', device, evidence, ...(count > 0 ? {} : { variant: 'runtime' }) };
    },
    schedule: (request) =>
      acceleratorPatch(request, {
        ...(request.device.resourceName ? { resourceName: request.device.resourceName } : {}),
        nodeSelector: { 'kubernetes.io/arch': 'arm64' },
        ...(options.tolerations ? { tolerations: options.tolerations } : {}),
        runtimeClassName,
        env: [{ name: 'NVIDIA_DRIVER_CAPABILITIES', value: 'compute,utility' }],
      }),
    executionProviders: () => chain.map((ep) => ({ ...ep })),
    async probe(ctx) {
      const compatible = (await ctx.readFile('/proc/device-tree/compatible')) ?? '';
      const tegra = /nvidia,tegra\w*/.exec(compatible)?.[0];
      const dev = await ctx.readDir('/dev');
      const gpuNode = dev.find((e) => e === 'nvhost-ctrl-gpu' || e === 'nvgpu' || e === 'nvmap');
      const visible = tegra !== undefined && gpuNode !== undefined;
      const detail = visible
        ? `${tegra} with /dev/${gpuNode} present`
        : tegra === undefined
          ? 'this is not a Tegra system (/proc/device-tree/compatible has no nvidia,tegra)'
          : 'no Tegra GPU device (/dev/nvhost-ctrl-gpu, /dev/nvgpu, /dev/nvmap) in this container';
      return { providers: providerStatuses(chain, ctx.availableProviders, { visible, detail }) };
    },
    async collectors(registry, ctx) {
      if (!(await readableLoadFiles(ctx)).length) return;
      registry.gauge({
        name: 'slmops_gpu_utilization_ratio',
        help: 'Fraction of time the GPU was busy (Jetson sysfs gpu load, per-mille).',
        labelNames: ['gpu', 'uuid', 'name'],
        async collect(): Promise<MetricSample[]> {
          for (const file of await readableLoadFiles(ctx)) {
            const text = ((await ctx.readFile(file)) ?? '').trim();
            if (/^\d+$/.test(text)) return [{ labels: { gpu: '0', uuid: '', name: 'jetson' }, value: Number(text) / 1000 }];
          }
          return [];
        },
      });
    },
  });
}
