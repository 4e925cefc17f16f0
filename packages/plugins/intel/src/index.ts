export { intel, intel as default, IntelResources, type IntelPluginOptions } from './plugin.js';
