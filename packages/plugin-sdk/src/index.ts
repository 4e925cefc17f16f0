export * from './public-api.js';
export * from './node.js';
export { isQuantity, parseQuantity } from './quantity.js';
export { selectPrecision, type PrecisionChoice } from './precision.js';
export {
  planExecutionProviders,
  planAfterSessionFailure,
  displayProviderName,
  PROVIDER_DISPLAY_NAMES,
  type EPPlan,
  type EPFallback,
  providerStatuses,
  type DeviceVisibility,
} from './providers.js';
export { validatePodPatch, isDnsLabel, isQualifiedName, isLabelValue, type PatchError } from './validate.js';
export {
  threadsForCpu,
  cpuBudget,
  withDeviceResource,
  copyResources,
  mergeEnv,
  sortRecord,
  applyOverride,
  acceleratorPatch,
  type AcceleratorPatchOptions,
  type HardwareOverride,
} from './schedule.js';
export {
  createPluginHost,
  FALLBACK_PLUGIN,
  UnknownPluginError,
  InvalidPluginError,
  InvalidPodPatchError,
  type PluginHost,
  type ClassifyOptions,
  type NodeClass,
  type UnplacedNode,
  type Classification,
  type ClassPlanRequest,
  type ClassPlan,
} from './host.js';
export { createSampleRegistry, checkMetricFamily, type SampleRegistry, type CollectedFamily } from './metrics.js';
export { createHostContext, type HostContextOptions } from './host-context.js';
