/** Pure helpers over the serving pods of an SLMDeployment: which are Ready, and where their ports are. */
import { Labels, deploymentSelector } from '@slmops/api';
import type { KubeObject } from '@slmops/kube';

export interface PodObject extends KubeObject {
  spec?: { nodeName?: string; containers?: { name: string; ports?: { name?: string; containerPort: number }[] }[] };
  status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

/** Label selector of the pods serving one SLMDeployment (or all of them); long names are hashed as the operator does. */
export const podSelector = (name?: string) => (name ? deploymentSelector(name) : Labels.deployment);

/** Running, Ready, not terminating and with an IP: a pod that can answer requests now. */
export function isServing(pod: PodObject): boolean {
  return (
    !pod.metadata.deletionTimestamp &&
    pod.status?.phase === 'Running' &&
    !!pod.status.podIP &&
    pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
  );
}

/** The container port called `portName` in any container, else `fallback` (the SLMDeployment's spec.serving port). */
export function podPort(pod: PodObject, portName: string, fallback: number | undefined): number | undefined {
  for (const c of pod.spec?.containers ?? []) for (const p of c.ports ?? []) if (p.name === portName) return p.containerPort;
  return fallback;
}

/** host:port, bracketing IPv6 pod IPs. */
export const hostPort = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** Node class of a pod (the operator's label), "<none>" when unlabelled. */
export const nodeClassOf = (pod: PodObject) => pod.metadata.labels?.[Labels.nodeClass] ?? '<none>';
