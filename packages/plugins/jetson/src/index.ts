export { jetson, jetson as default, JETSON_GPU_LOAD_FILES, type JetsonPluginOptions } from './plugin.js';
