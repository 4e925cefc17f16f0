export * from './nodes.js';
export { garbageValue, mutateNode } from './fuzz.js';
export { describeHardwarePluginConformance, detectionProblems, emptyHostContext, type ConformanceOptions } from './conformance.js';
export { createFileTree, type FileTree } from './file-tree.js';
