/**
 * The qualcomm plugin: Qualcomm NPUs through ONNX Runtime's QNN provider. Two kinds of node: servers with Cloud
 * AI 100 cards advertised by a device plugin (resource name UNCONFIRMED, an option), and Snapdragon/QCS edge
 * boards whose Hexagon NPU no device plugin advertises, declared with `slmops.io/accelerator=qualcomm`.
 */
import type { Precision } from '@slmops/api';
import {
  ACCELERATOR_LABEL,
  acceleratorPatch,
  defineHardwarePlugin,
  nodeCpus,
  providerStatuses,
  readNode,
  resourceCount,
  type DeviceInfo,
  type EPConfig,
  type HardwarePlugin,
  type Toleration,
} from '@slmops/plugin-sdk';

export interface QualcommPluginOptions {
  /** Extended resource of the Cloud AI 100 device plugin. Default "qualcomm.com/qaic" (UNCONFIRMED). */
  resourceName?: string;
  /** QNN backend library the provider loads. Default "libQnnHtp.so" (the Hexagon Tensor Processor backend). */
  backendPath?: string;
  tolerations?: Toleration[];
  precisions?: readonly Precision[];
}

export function qualcomm(options: QualcommPluginOptions = {}): HardwarePlugin {
  const resourceName = options.resourceName ?? 'qualcomm.com/qaic';
  const chain: EPConfig[] = [{ name: 'qnn', options: { backend_path: options.backendPath ?? 'libQnnHtp.so' } }, { name: 'cpu' }];
  return defineHardwarePlugin({
    name: 'qualcomm',
    precisions: options.precisions ?? (['int8', 'fp16', 'fp32'] as const),
    detect(node) {
      const facts = readNode(node);
      if (facts.os !== '' && facts.os !== 'linux') return null;
      const count = resourceCount(facts, resourceName);
      const cpus = nodeCpus(facts);
      const base = { kind: 'npu' as const, vendor: 'qualcomm', arch: facts.arch, ...(cpus !== undefined ? { cpus } : {}) };
      if (count > 0) {
        const evidence = [`allocatable ${resourceName}=${count}`];
        if (facts.labels['feature.node.kubernetes.io/pci-17cb.present'] === 'true') evidence.push('label feature.node.kubernetes.io/pci-17cb.present=true');
        const device: DeviceInfo = { ...base, product: 'cloud-ai-100', count, resourceName, attributes: {} };
        return { plugin: 'qualcomm', device, variant: 'qaic', evidence };
      }
      if (facts.labels[ACCELERATOR_LABEL] === 'qualcomm') {
        const device: DeviceInfo = { ...base, product: 'hexagon', count: 1, attributes: {} };
        return { plugin: 'qualcomm', device, variant: 'hexagon', evidence: [`label ${ACCELERATOR_LABEL}=qualcomm`] };
      }
      return null;
    },
    schedule: (request) =>
      acceleratorPatch(request, {
        ...(request.device.resourceName
          ? { resourceName: request.device.resourceName }
          : // Without a device resource, only the administrator's label keeps the pod on NPU boards.
            { nodeSelector: { [ACCELERATOR_LABEL]: 'qualcomm' } }),
        ...(options.tolerations ? { tolerations: options.tolerations } : {}),
      }),
    executionProviders: () => chain.map((ep) => ({ ...ep, ...(ep.options ? { options: { ...ep.options } } : {}) })),
    async probe(ctx) {
      const dev = await ctx.readDir('/dev');
      const accel = (await ctx.readDir('/dev/accel')).filter((e) => /^accel\d+$/.test(e));
      const fastrpc = dev.find((e) => e.startsWith('fastrpc-cdsp'));
      const visible = fastrpc !== undefined || accel.length > 0;
      const detail = fastrpc
        ? `/dev/${fastrpc} present`
        : accel.length
          ? `/dev/accel/${accel[0]} present`
          : 'no Hexagon (/dev/fastrpc-cdsp*) or Cloud AI (/dev/accel/accel*) device in this container';
      return { providers: providerStatuses(chain, ctx.availableProviders, { visible, detail }) };
    },
  });
}
