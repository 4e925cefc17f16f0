export { cpu, cpu as default, type CpuPluginOptions } from './plugin.js';
export { registerCpuCollectors, type CpuCollectorOptions } from './collectors.js';
export { readCpuBudget, type CpuBudget } from './runtime.js';
export * from './procfs.js';
