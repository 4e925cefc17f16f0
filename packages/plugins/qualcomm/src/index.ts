export { qualcomm, qualcomm as default, type QualcommPluginOptions } from './plugin.js';
