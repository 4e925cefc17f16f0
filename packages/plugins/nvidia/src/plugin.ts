/**
 * The nvidia plugin: discrete NVIDIA GPUs advertised by the NVIDIA device plugin. GFD and NFD labels enrich the
 * device facts; they never suffice alone, because without an allocatable nvidia.com/gpu a pod cannot get a GPU.
 * Jetson (Tegra) nodes belong to the jetson plugin and are never detected here.
 */
import type { Precision } from '@slmops/api';
import {
  acceleratorPatch,
  defineHardwarePlugin,
  isTegra,
  nodeCpus,
  providerStatuses,
  readNode,
  resourceCount,
  type DeviceInfo,
  type EPConfig,
  type HardwarePlugin,
  type Toleration,
} from '@slmops/plugin-sdk';
import { registerNvidiaCollectors } from './collectors.js';
import { queryNvidiaSmi } from './smi.js';

export interface NvidiaPluginOptions {
  /** Extended resource to request. Default "nvidia.com/gpu" (MIG "single" strategy included). */
  resourceName?: string;
  /** RuntimeClass for GPU pods, e.g. "nvidia" (GPU Operator, k3s); unset by default: a missing RuntimeClass blocks pods. */
  runtimeClassName?: string;
  /** Try TensorRT before CUDA. Default false: TensorRT needs libnvinfer in the image and long engine builds. */
  tensorrt?: boolean;
  /** Tolerations for GPU pods. Default: tolerate any nvidia.com/gpu NoSchedule taint (EKS, GKE, AKS GPU pools). */
  tolerations?: Toleration[];
  precisions?: readonly Precision[];
}

export const GPU_TOLERATION: Toleration = { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' };

/** Node labels read, by source (see docs/plugins.md). */
export const NvidiaLabels = {
  present: 'nvidia.com/gpu.present',
  product: 'nvidia.com/gpu.product',
  count: 'nvidia.com/gpu.count',
  memory: 'nvidia.com/gpu.memory',
  family: 'nvidia.com/gpu.family',
  computeMajor: 'nvidia.com/gpu.compute.major',
  computeMinor: 'nvidia.com/gpu.compute.minor',
  driverMajor: 'nvidia.com/cuda.driver-version.major',
  driverMajorLegacy: 'nvidia.com/cuda.driver.major',
  cudaRuntimeMajor: 'nvidia.com/cuda.runtime-version.major',
  cudaRuntimeMajorLegacy: 'nvidia.com/cuda.runtime.major',
  migCapable: 'nvidia.com/mig.capable',
  sharing: 'nvidia.com/gpu.sharing-strategy',
  nfdPci: 'feature.node.kubernetes.io/pci-10de.present',
  gkeAccelerator: 'cloud.google.com/gke-accelerator',
} as const;

/** NFD's default PCI label is class_vendor (pci-0302_10de.present); the GPU Operator's config makes it vendor-only. */
const NFD_PCI_CLASS_VENDOR = /^feature\.node\.kubernetes\.io\/pci-03[0-9a-f]{2}_10de\.present$/;

export function nvidia(options: NvidiaPluginOptions = {}): HardwarePlugin {
  const resourceName = options.resourceName ?? 'nvidia.com/gpu';
  const tolerations = options.tolerations ?? [GPU_TOLERATION];
  const chain: EPConfig[] = [...(options.tensorrt ? [{ name: 'tensorrt' as const }] : []), { name: 'cuda' }, { name: 'cpu' }];
  return defineHardwarePlugin({
    name: 'nvidia',
    precisions: options.precisions ?? (['fp16', 'int8', 'fp32'] as const),
    detect(node) {
      const facts = readNode(node);
      if (facts.os !== '' && facts.os !== 'linux') return null;
      if (isTegra(facts)) return null;
      const count = resourceCount(facts, resourceName);
      if (count === 0) return null;
      const l = facts.labels;
      const evidence = [`allocatable ${resourceName}=${count}`];
      for (const key of [NvidiaLabels.product, NvidiaLabels.gkeAccelerator, NvidiaLabels.nfdPci]) if (l[key]) evidence.push(`label ${key}=${l[key]}`);
      const pciClassVendor = Object.keys(l).find((k) => NFD_PCI_CLASS_VENDOR.test(k) && l[k] === 'true');
      if (pciClassVendor) evidence.push(`label ${pciClassVendor}=true`);
      const memory = Number(l[NvidiaLabels.memory]);
      const cpus = nodeCpus(facts);
      const attributes: Record<string, string> = {};
      const put = (attr: string, value: string | undefined) => {
        if (value) attributes[attr] = value;
      };
      put('family', l[NvidiaLabels.family]);
      if (l[NvidiaLabels.computeMajor]) put('computeCapability', `${l[NvidiaLabels.computeMajor]}.${l[NvidiaLabels.computeMinor] ?? '0'}`);
      put('driverMajor', l[NvidiaLabels.driverMajor] ?? l[NvidiaLabels.driverMajorLegacy]);
      put('cudaRuntimeMajor', l[NvidiaLabels.cudaRuntimeMajor] ?? l[NvidiaLabels.cudaRuntimeMajorLegacy]);
      put('migCapable', l[NvidiaLabels.migCapable]);
      put('sharingStrategy', l[NvidiaLabels.sharing]);
      const product = l[NvidiaLabels.product] ?? l[NvidiaLabels.gkeAccelerator];
      const device: DeviceInfo = {
        kind: 'gpu',
        vendor: 'nvidia',
        count,
        arch: facts.arch,
        resourceName,
        attributes,
        ...(product ? { product } : {}),
        ...(Number.isFinite(memory) && memory > 0 ? { memoryMiB: memory } : {}),
        ...(cpus !== undefined ? { cpus } : {}),
      };
      return { plugin: 'nvidia', device, evidence };
    },
    schedule: (request) =>
      acceleratorPatch(request, {
        resourceName,
        tolerations,
        runtimeClassName: options.runtimeClassName ?? null,
        // The NVIDIA container runtime mounts only what these capabilities name; compute is what ORT needs.
        env: [{ name: 'NVIDIA_DRIVER_CAPABILITIES', value: 'compute,utility' }],
      }),
    executionProviders: () => chain.map((ep) => ({ ...ep })),
    async probe(ctx) {
      const dev = await ctx.readDir('/dev');
      const gpus = dev.filter((e) => /^nvidia\d+$/.test(e));
      const smi = gpus.length ? await queryNvidiaSmi(ctx) : undefined;
      const visible = gpus.length > 0;
      const detail = visible ? `${gpus.map((g) => `/dev/${g}`).join(', ')} present` : 'no /dev/nvidia<N> device in this container';
      const first = smi?.[0];
      return {
        providers: providerStatuses(chain, ctx.availableProviders, { visible, detail }),
        ...(visible
          ? {
              device: {
                kind: 'gpu' as const,
                vendor: 'nvidia',
                count: gpus.length,
                arch: '',
                resourceName,
                attributes: {},
                ...(first?.name ? { product: first.name } : {}),
                ...(first?.memoryTotalBytes ? { memoryMiB: Math.round(first.memoryTotalBytes / 2 ** 20) } : {}),
              },
            }
          : {}),
      };
    },
    async collectors(registry, ctx) {
      await registerNvidiaCollectors(registry, ctx);
    },
  });
}
