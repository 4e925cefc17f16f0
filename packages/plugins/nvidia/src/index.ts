export { nvidia, nvidia as default, GPU_TOLERATION, NvidiaLabels, type NvidiaPluginOptions } from './plugin.js';
export { parseNvidiaSmi, queryNvidiaSmi, NVIDIA_SMI_ARGS, NVIDIA_SMI_FIELDS, type GpuReading } from './smi.js';
export { registerNvidiaCollectors } from './collectors.js';
