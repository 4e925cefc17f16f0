/**
 * The intel plugin: Intel GPUs (integrated and discrete) from the Intel GPU device plugin, with the i915 or the
 * xe kernel driver, and Intel NPUs from the Intel NPU device plugin. Serves through OpenVINO, falling back to cpu.
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
  type MetricSample,
  type Toleration,
} from '@slmops/plugin-sdk';

export const IntelResources = {
  i915: 'gpu.intel.com/i915',
  xe: 'gpu.intel.com/xe',
  npu: 'npu.intel.com/accel',
} as const;

export interface IntelPluginOptions {
  /** Which device serves when a node has both a GPU and an NPU. Default "gpu". */
  prefer?: 'gpu' | 'npu';
  /** Put WebGPU (in onnxruntime-node's Linux build, Vulkan underneath) between OpenVINO and cpu for GPUs. Default false. */
  webgpu?: boolean;
  tolerations?: Toleration[];
  precisions?: readonly Precision[];
}

type Variant = keyof typeof IntelResources;

const DEVICE_ID_LABEL = /^gpu\.intel\.com\/device-id\.(0300|0380)-([0-9a-f]{4})\.present$/;

function chainFor(variant: Variant, webgpu: boolean): EPConfig[] {
  if (variant === 'npu') return [{ name: 'openvino', options: { device_type: 'NPU' } }, { name: 'cpu' }];
  return [{ name: 'openvino', options: { device_type: 'GPU' } }, ...(webgpu ? [{ name: 'webgpu' as const }] : []), { name: 'cpu' }];
}

export function intel(options: IntelPluginOptions = {}): HardwarePlugin {
  const order: Variant[] = options.prefer === 'npu' ? ['npu', 'xe', 'i915'] : ['xe', 'i915', 'npu'];
  const webgpu = options.webgpu ?? false;
  return defineHardwarePlugin({
    name: 'intel',
    precisions: options.precisions ?? (['int8', 'int4', 'fp16', 'fp32'] as const),
    detect(node) {
      const facts = readNode(node);
      if (facts.os !== '' && facts.os !== 'linux') return null;
      const counts = Object.fromEntries(order.map((v) => [v, resourceCount(facts, IntelResources[v])])) as Record<Variant, number>;
      const variant = order.find((v) => counts[v] > 0);
      if (!variant) return null;
      const l = facts.labels;
      const resourceName = IntelResources[variant];
      const evidence = [`allocatable ${resourceName}=${counts[variant]}`];
      const deviceIdLabel = Object.keys(l).find((k) => DEVICE_ID_LABEL.test(k) && l[k] === 'true');
      const deviceId = deviceIdLabel ? DEVICE_ID_LABEL.exec(deviceIdLabel)![2] : undefined;
      if (variant !== 'npu' && deviceIdLabel) evidence.push(`label ${deviceIdLabel}=true`);
      for (const key of ['intel.feature.node.kubernetes.io/gpu', 'intel.feature.node.kubernetes.io/npu']) if (l[key] === 'true') evidence.push(`label ${key}=true`);
      const family = l['gpu.intel.com/family'];
      const cpus = nodeCpus(facts);
      const attributes: Record<string, string> = {};
      if (variant !== 'npu') attributes.kmd = variant;
      if (variant !== 'npu' && deviceId) attributes.pciId = `8086:${deviceId}`;
      if (variant !== 'npu' && counts.npu > 0) attributes.npu = 'true';
      const device: DeviceInfo = {
        kind: variant === 'npu' ? 'npu' : family ? 'gpu' : 'igpu',
        vendor: 'intel',
        count: counts[variant],
        arch: facts.arch,
        resourceName,
        attributes,
        ...(variant === 'npu' ? { product: 'intel-npu' } : family ? { product: family } : deviceId ? { product: `8086:${deviceId}` } : {}),
        ...(cpus !== undefined ? { cpus } : {}),
      };
      return { plugin: 'intel', device, variant, evidence };
    },
    schedule: (request) =>
      acceleratorPatch(request, {
        resourceName: request.device.resourceName ?? IntelResources.i915,
        ...(options.tolerations ? { tolerations: options.tolerations } : {}),
      }),
    executionProviders: (device) => chainFor(device.kind === 'npu' ? 'npu' : 'i915', webgpu),
    async probe(ctx) {
      const render = (await ctx.readDir('/dev/dri')).filter((e) => /^renderD\d+$/.test(e));
      const accel = (await ctx.readDir('/dev/accel')).filter((e) => /^accel\d+$/.test(e));
      const npu = accel.length > 0 && (render.length === 0 || options.prefer === 'npu');
      const visible = npu || render.length > 0;
      const detail = npu
        ? `/dev/accel/${accel[0]} present`
        : visible
          ? `/dev/dri/${render[0]} present`
          : 'no Intel GPU (/dev/dri/renderD*) or NPU (/dev/accel/accel*) in this container';
      return { providers: providerStatuses(chainFor(npu ? 'npu' : 'i915', webgpu), ctx.availableProviders, { visible, detail }) };
    },
    async collectors(registry, ctx) {
      const cards = async (): Promise<Array<{ card: string; file: string }>> => {
        const out: Array<{ card: string; file: string }> = [];
        for (const card of (await ctx.readDir('/sys/class/drm')).filter((c) => /^card\d+$/.test(c))) {
          if (((await ctx.readFile(`/sys/class/drm/${card}/device/vendor`)) ?? '').trim() !== '0x8086') continue;
          // i915 exposes gt_cur_freq_mhz on the card; xe exposes it per tile and GT.
          for (const file of [`/sys/class/drm/${card}/gt_cur_freq_mhz`, `/sys/class/drm/${card}/device/tile0/gt0/freq0/cur_freq`]) {
            if ((await ctx.readFile(file)) !== undefined) {
              out.push({ card, file });
              break;
            }
          }
        }
        return out;
      };
      if (!(await cards()).length) return;
      registry.gauge({
        name: 'slmops_gpu_frequency_mhz',
        help: 'Current GPU frequency (Intel i915 gt_cur_freq_mhz or xe freq0/cur_freq).',
        labelNames: ['gpu'],
        async collect(): Promise<MetricSample[]> {
          const samples: MetricSample[] = [];
          for (const { card, file } of await cards()) {
            const text = ((await ctx.readFile(file)) ?? '').trim();
            if (/^\d+$/.test(text)) samples.push({ labels: { gpu: card }, value: Number(text) });
          }
          return samples;
        },
      });
    },
  });
}
