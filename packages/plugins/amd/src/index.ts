export { amd, amd as default, AMD_GPU_TOLERATION, parseVram, type AmdPluginOptions } from './plugin.js';
