/** The operator's informer-backed ClusterCache over a kube client, synced, as the runtime builds it. */
import { type KubeClient, type ResourceType, Resources, createInformer } from '@slmops/kube';
import { ClusterCache } from '../../src/reconcile/cache.js';
import { CHILD_TYPES } from '../../src/runtime/operator.js';

/** Starts every informer the runtime uses (no resync) and resolves once all are synced; `stop` stops them. */
export async function startCache(kube: KubeClient): Promise<{ cache: ClusterCache; stop: () => void }> {
  const inf = (type: ResourceType, labelSelector?: string) => createInformer(kube, type, { resyncPeriodMs: 0, ...(labelSelector ? { labelSelector } : {}) });
  const deployments = inf(Resources.SLMDeployment);
  const nodes = inf(Resources.Node);
  const pods = inf(Resources.Pod, 'slmops.io/deployment');
  const children = CHILD_TYPES.map((type) => ({ type, informer: inf(type, 'slmops.io/deployment') }));
  const all = [deployments, nodes, pods, ...children.map((c) => c.informer)];
  const cache = new ClusterCache({ deployments, nodes, pods, children });
  for (const i of all) await i.start();
  await Promise.all(all.map((i) => i.synced()));
  return { cache, stop: () => all.forEach((i) => i.stop()) };
}
