/**
 * @slmops/kube-emulator: a test-only Kubernetes API server (real kubectl and client-node talk to it over HTTP)
 * and its in-process store API, which the fleet simulator drives.
 */
export { startEmulator, kubeconfigFor, type Emulator, type EmulatorOptions } from './server/emulator.js';
export {
  Store,
  resources,
  PATCH_CONTENT_TYPES,
  type PatchType,
  type WriteOptions,
  type DeleteOptions,
  type ListOptions,
  type ListResult,
  type WatchOptions,
  type WatchEvent,
  type WatchEventType,
  type WatchListener,
  type PatchResult,
  type Scale,
  type StoreOptions,
  type ResourceType,
  type LabelSelectorObject,
} from './server/store.js';
export type { KubeObject, ObjectMeta, OwnerReference, ResourceRef, ManagedFieldsEntry } from './server/types.js';
export { ApiError, type StatusObject } from './server/errors.js';
export { Faults, type FailRule, type RequestMatch } from './server/faults.js';
export { RequestLog, WRITE_VERBS, type RequestLogEntry, type RequestFilter, type Verb } from './server/request-log.js';
export { parseLabelSelector, matchesLabels, labelSelectorFromObject, formatLabelSelector } from './server/selectors.js';
export { SERVER_VERSION } from './server/http.js';
export * from './simulator/index.js';
export { main, run, parseArgs, type CommandOptions } from './main.js';
