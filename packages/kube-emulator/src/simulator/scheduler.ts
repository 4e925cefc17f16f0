/**
 * A minimal kube-scheduler for pods without spec.nodeName (Deployment/ReplicaSet pods): filter nodes by the
 * pod's node selector and required node affinity, taints against tolerations, Ready and spec.unschedulable,
 * and resource requests against allocatable (every resource, extended ones like nvidia.com/gpu included);
 * then pick the node with the fewest pods (ties by name). No preferred affinity, pod (anti-)affinity or spreading.
 */
import { parseQuantity } from '@slmops/plugin-sdk';
import { isNodeReady, nodeMatchesPodSpec, untoleratedTaints } from './meta.js';
import type { Node, Pod } from './types.js';

/** The sum of the pod's container requests (limits stand in for missing requests, as the API server defaults). */
export function podRequests(pod: Pod): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of pod.spec.containers) {
    const resources = (c.resources ?? {}) as { requests?: Record<string, string>; limits?: Record<string, string> };
    const merged = { ...(resources.limits ?? {}), ...(resources.requests ?? {}) };
    for (const [name, q] of Object.entries(merged)) {
      const n = parseQuantity(q);
      if (n === undefined) throw new Error(`pod ${pod.metadata.name}: container ${c.name} resources.${name} "${q}" is not a quantity`);
      out.set(name, (out.get(name) ?? 0) + n);
    }
  }
  return out;
}

/** Running totals of what the pods bound to one node request. */
export interface NodeUsage {
  pods: number;
  requests: Map<string, number>;
}

export function addUsage(usage: NodeUsage, requests: Map<string, number>, sign: 1 | -1): void {
  usage.pods += sign;
  for (const [k, v] of requests) usage.requests.set(k, (usage.requests.get(k) ?? 0) + sign * v);
}

/** Why `node` cannot take `pod`, or undefined when it can. */
export function unfitReason(pod: Pod, node: Node, usage: NodeUsage | undefined, requests: Map<string, number>): string | undefined {
  if (!isNodeReady(node)) return 'node is not Ready';
  if (node.spec?.unschedulable && untoleratedTaints(pod.spec.tolerations, { ...node, spec: { taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] } }, ['NoSchedule']).length > 0) {
    return 'node is unschedulable';
  }
  if (!nodeMatchesPodSpec(pod.spec, node)) return "node didn't match Pod's node affinity/selector";
  const taints = untoleratedTaints(pod.spec.tolerations, node, ['NoSchedule', 'NoExecute']);
  if (taints.length > 0) return `node had untolerated taint {${taints[0]?.key}: ${taints[0]?.value ?? ''}}`;
  const allocatable = node.status?.allocatable ?? {};
  const maxPods = parseQuantity(allocatable.pods ?? '110') ?? 110;
  if ((usage?.pods ?? 0) + 1 > maxPods) return 'Too many pods';
  for (const [name, want] of requests) {
    if (want <= 0) continue;
    const have = parseQuantity(allocatable[name] ?? '0') ?? 0;
    if ((usage?.requests.get(name) ?? 0) + want > have) return `Insufficient ${name}`;
  }
  return undefined;
}

/**
 * Picks a node for the pod, or explains (in the FailedScheduling message format) why none fits.
 */
export function schedulePod(pod: Pod, nodes: readonly Node[], usage: ReadonlyMap<string, NodeUsage>): { nodeName: string } | { message: string } {
  const requests = podRequests(pod);
  let best: { name: string; pods: number } | undefined;
  const reasons = new Map<string, number>();
  for (const node of nodes) {
    const name = node.metadata.name ?? '';
    const u = usage.get(name);
    const why = unfitReason(pod, node, u, requests);
    if (why) {
      reasons.set(why, (reasons.get(why) ?? 0) + 1);
      continue;
    }
    const pods = u?.pods ?? 0;
    if (!best || pods < best.pods || (pods === best.pods && name < best.name)) best = { name, pods };
  }
  if (best) return { nodeName: best.name };
  const parts = [...reasons].sort(([a], [b]) => (a < b ? -1 : 1)).map(([why, n]) => `${n} ${why}`);
  return { message: `0/${nodes.length} nodes are available: ${parts.join(', ')}.` };
}
