/**
 * The amd plugin: AMD GPUs advertised by the ROCm device plugin (amd.com/gpu), with facts from the AMD node
 * labeller. Serves through MIGraphX, then ROCm, then cpu.
 */
import type { Precision } from '@slmops/api';
import {
  acceleratorPatch,
  defineHardwarePlugin,
  nodeCpus,
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

export interface AmdPluginOptions {
  resourceName?: string;
  /** Keep the ROCm provider after MIGraphX (ONNX Runtime dropped it in 1.23; older builds have it). Default true. */
  rocm?: boolean;
  /** Default: tolerate any amd.com/gpu NoSchedule taint. */
  tolerations?: Toleration[];
  precisions?: readonly Precision[];
}

export const AMD_GPU_TOLERATION: Toleration = { key: 'amd.com/gpu', operator: 'Exists', effect: 'NoSchedule' };

/** The labeller writes amd.com/gpu.<x>; releases before the GPU operator wrote beta.amd.com/gpu.<x>. */
const label = (labels: Readonly<Record<string, string>>, field: string): string | undefined => labels[`amd.com/gpu.${field}`] ?? labels[`beta.amd.com/gpu.${field}`];

/** "64G" / "192G" / "16384M" as the labeller writes VRAM, in MiB. */
export function parseVram(value: string | undefined): number | undefined {
  const m = /^(\d+)([GM])$/.exec(value ?? '');
  if (!m) return undefined;
  return Number(m[1]) * (m[2] === 'G' ? 1024 : 1);
}

const NFD_PCI = /^feature\.node\.kubernetes\.io\/pci-(?:[0-9a-f]{4}_)?1002\.present$/;

interface AmdCard {
  card: string;
  dir: string;
}

async function amdCards(ctx: HostContext): Promise<AmdCard[]> {
  const out: AmdCard[] = [];
  for (const card of (await ctx.readDir('/sys/class/drm')).filter((c) => /^card\d+$/.test(c))) {
    const dir = `/sys/class/drm/${card}/device`;
    if (((await ctx.readFile(`${dir}/vendor`)) ?? '').trim() === '0x1002' && (await ctx.readFile(`${dir}/gpu_busy_percent`)) !== undefined) out.push({ card, dir });
  }
  return out;
}

export function amd(options: AmdPluginOptions = {}): HardwarePlugin {
  const resourceName = options.resourceName ?? 'amd.com/gpu';
  const tolerations = options.tolerations ?? [AMD_GPU_TOLERATION];
  const chain: EPConfig[] = [{ name: 'migraphx' }, ...((options.rocm ?? true) ? [{ name: 'rocm' as const }] : []), { name: 'cpu' }];
  return defineHardwarePlugin({
    name: 'amd',
    precisions: options.precisions ?? (['fp16', 'int8', 'fp32'] as const),
    detect(node) {
      const facts = readNode(node);
      if (facts.os !== '' && facts.os !== 'linux') return null;
      const count = resourceCount(facts, resourceName);
      if (count === 0) return null;
      const l = facts.labels;
      const evidence = [`allocatable ${resourceName}=${count}`];
      const product = label(l, 'product-name');
      if (product) evidence.push(`label amd.com/gpu.product-name=${product}`);
      if (l['feature.node.kubernetes.io/amd-gpu'] === 'true') evidence.push('label feature.node.kubernetes.io/amd-gpu=true');
      const pci = Object.keys(l).find((k) => NFD_PCI.test(k) && l[k] === 'true');
      if (pci) evidence.push(`label ${pci}=true`);
      const attributes: Record<string, string> = {};
      for (const [attr, field] of [['family', 'family'], ['deviceId', 'device-id'], ['computeUnits', 'cu-count'], ['driverVersion', 'driver-version']] as const) {
        const v = label(l, field);
        if (v) attributes[attr] = v;
      }
      const memoryMiB = parseVram(label(l, 'vram'));
      const cpus = nodeCpus(facts);
      const device: DeviceInfo = {
        kind: 'gpu',
        vendor: 'amd',
        count,
        arch: facts.arch,
        resourceName,
        attributes,
        ...(product ? { product } : {}),
        ...(memoryMiB !== undefined ? { memoryMiB } : {}),
        ...(cpus !== undefined ? { cpus } : {}),
      };
      return { plugin: 'amd', device, evidence };
    },
    schedule: (request) => acceleratorPatch(request, { resourceName, tolerations }),
    executionProviders: () => chain.map((ep) => ({ ...ep })),
    async probe(ctx) {
      const dev = await ctx.readDir('/dev');
      const render = (await ctx.readDir('/dev/dri')).filter((e) => /^renderD\d+$/.test(e));
      const visible = dev.includes('kfd') && render.length > 0;
      const detail = visible ? `/dev/kfd and /dev/dri/${render[0]} present` : 'no ROCm device (/dev/kfd with /dev/dri/renderD*) in this container';
      return { providers: providerStatuses(chain, ctx.availableProviders, { visible, detail }) };
    },
    async collectors(registry, ctx) {
      if (!(await amdCards(ctx)).length) return;
      const family = (name: string, help: string, file: string, scale: number) =>
        registry.gauge({
          name,
          help,
          labelNames: ['gpu', 'uuid', 'name'],
          async collect(): Promise<MetricSample[]> {
            const samples: MetricSample[] = [];
            for (const { card, dir } of await amdCards(ctx)) {
              const text = ((await ctx.readFile(`${dir}/${file}`)) ?? '').trim();
              if (/^\d+$/.test(text)) samples.push({ labels: { gpu: card, uuid: '', name: 'amdgpu' }, value: Number(text) * scale });
            }
            return samples;
          },
        });
      family('slmops_gpu_utilization_ratio', 'Fraction of time the GPU was busy (amdgpu gpu_busy_percent).', 'gpu_busy_percent', 0.01);
      family('slmops_gpu_memory_used_bytes', 'GPU memory in use (amdgpu mem_info_vram_used).', 'mem_info_vram_used', 1);
      family('slmops_gpu_memory_total_bytes', 'GPU memory installed (amdgpu mem_info_vram_total).', 'mem_info_vram_total', 1);
    },
  });
}
