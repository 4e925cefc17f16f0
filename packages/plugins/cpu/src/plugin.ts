/** The cpu plugin: serves any Linux node on a supported architecture, and is every node's fallback. */
import type { Precision } from '@slmops/api';
import {
  acceleratorPatch,
  defineHardwarePlugin,
  nodeCpus,
  nodeMemoryMiB,
  readNode,
  threadsForCpu,
  type DeviceInfo,
  type EPConfig,
  type HardwarePlugin,
} from '@slmops/plugin-sdk';
import { registerCpuCollectors } from './collectors.js';
import { readCpuBudget } from './runtime.js';

export interface CpuPluginOptions {
  /** Architectures the sidecar image is built for; nodes on others are not served. Default amd64, arm64. */
  architectures?: readonly string[];
  /** Precision preference, best first. Default int8, int4, fp32. */
  precisions?: readonly Precision[];
  /** Put XNNPACK before the default CPU provider on arm64 (needs an ORT build with XNNPACK). Default false. */
  xnnpackOnArm64?: boolean;
  /** USER_HZ for /proc/stat. Default 100. */
  userHz?: number;
}

/** NFD cpuid labels copied into device attributes: they tell int8 speed (VNNI, dot-product) at a glance. */
const CPU_FEATURE_LABELS: Readonly<Record<string, string>> = {
  'feature.node.kubernetes.io/cpu-cpuid.AVX2': 'avx2',
  'feature.node.kubernetes.io/cpu-cpuid.AVX512F': 'avx512f',
  'feature.node.kubernetes.io/cpu-cpuid.AVX512VNNI': 'avx512vnni',
  'feature.node.kubernetes.io/cpu-cpuid.AVXVNNI': 'avxvnni',
  'feature.node.kubernetes.io/cpu-cpuid.AMXINT8': 'amxint8',
  'feature.node.kubernetes.io/cpu-cpuid.ASIMDDP': 'asimddp',
  'feature.node.kubernetes.io/cpu-cpuid.I8MM': 'i8mm',
};

export function cpu(options: CpuPluginOptions = {}): HardwarePlugin {
  const architectures = options.architectures ?? ['amd64', 'arm64'];
  const precisions = options.precisions ?? (['int8', 'int4', 'fp32'] as const);
  return defineHardwarePlugin({
    name: 'cpu',
    precisions,
    detect(node) {
      const facts = readNode(node);
      if (facts.os !== '' && facts.os !== 'linux') return null;
      if (facts.arch !== '' && !architectures.includes(facts.arch)) return null;
      const cpus = nodeCpus(facts);
      const memoryMiB = nodeMemoryMiB(facts);
      const vendor = (facts.labels['feature.node.kubernetes.io/cpu-model.vendor_id'] ?? '').toLowerCase() || 'generic';
      const attributes: Record<string, string> = {};
      for (const [label, attr] of Object.entries(CPU_FEATURE_LABELS)) if (facts.labels[label] === 'true') attributes[attr] = 'true';
      const device: DeviceInfo = {
        kind: 'cpu',
        vendor,
        count: cpus !== undefined ? Math.floor(cpus) : 0,
        arch: facts.arch,
        attributes,
        ...(cpus !== undefined ? { cpus } : {}),
        ...(memoryMiB !== undefined ? { memoryMiB } : {}),
      };
      return {
        plugin: 'cpu',
        device,
        evidence: [
          `os ${facts.os || 'unknown (assumed linux)'}`,
          `arch ${facts.arch || 'unknown'}`,
          cpus !== undefined ? `allocatable cpu ${facts.allocatable.cpu ?? facts.capacity.cpu}` : 'cpu count unknown',
        ],
      };
    },
    schedule: (request) => acceleratorPatch(request),
    executionProviders(device): EPConfig[] {
      return options.xnnpackOnArm64 && device.arch === 'arm64' ? [{ name: 'xnnpack' }, { name: 'cpu' }] : [{ name: 'cpu' }];
    },
    async probe(ctx) {
      const budget = await readCpuBudget(ctx);
      const xnnpack = options.xnnpackOnArm64 && process.arch === 'arm64';
      return {
        providers: [
          ...(xnnpack
            ? [
                ctx.availableProviders.includes('xnnpack')
                  ? { name: 'xnnpack' as const, available: true, reason: 'XNNPACK is in this runtime build' }
                  : { name: 'xnnpack' as const, available: false, reason: 'XNNPACK is not available in this runtime build' },
              ]
            : []),
          { name: 'cpu', available: true, reason: 'the CPU provider is part of every ONNX Runtime build' },
        ],
        ...(budget
          ? {
              device: {
                kind: 'cpu' as const,
                vendor: 'generic',
                count: Math.floor(budget.cores),
                cpus: budget.cores,
                arch: process.arch === 'x64' ? 'amd64' : process.arch,
                attributes: { threads: String(threadsForCpu(budget.cores)), threadsSource: budget.source },
              },
            }
          : {}),
      };
    },
    async collectors(registry, ctx) {
      await registerCpuCollectors(registry, ctx, { userHz: options.userHz ?? 100 });
    },
  });
}
