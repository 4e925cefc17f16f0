/**
 * A stand-in for the operator's pure core in runtime unit tests: small, deterministic and honest about what it
 * read, so tests can check what the runtime gathered and how it carried the plan out.
 */
import type { SLMDeploymentStatus } from '@slmops/api';
import type { KubeObject } from '@slmops/kube';
import type { Observation, Plan, PlanReconcileFn, ScrapeTargetsFn } from '../../src/contract.js';

export interface FakeCore {
  planReconcile: PlanReconcileFn;
  scrapeTargets: ScrapeTargetsFn;
  /** Every observation the plan function saw. */
  seen: Observation[];
  /** Mutable knobs. */
  knobs: { targets: { pod: string; namespace: string; url: string }[]; requeueAfterMs?: number; extraDeletes: Plan['delete']; throwOn?: string };
}

const owner = (d: KubeObject) => ({ apiVersion: d.apiVersion, kind: d.kind, name: d.metadata.name, uid: d.metadata.uid!, controller: true, blockOwnerDeletion: true });

/** One ConfigMap with the model version, one DaemonSet per node `class` label; Ready when every pod is ready. */
export function createFakeCore(): FakeCore {
  const seen: Observation[] = [];
  const knobs: FakeCore['knobs'] = { targets: [], extraDeletes: [] };
  const planReconcile: PlanReconcileFn = (obs) => {
    seen.push(obs);
    const d = obs.deployment;
    if (knobs.throwOn === d.metadata.name) throw new Error('core exploded');
    const ns = d.metadata.namespace!;
    const name = d.metadata.name;
    const version = String((d as { spec?: { model?: { version?: unknown } } }).spec?.model?.version ?? '');
    const labels = { 'slmops.io/deployment': name };
    const classes = [...new Set(obs.nodes.map((n) => n.metadata.labels?.['class'] ?? 'cpu'))].sort();
    const apply: KubeObject[] = [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${name}-config`, namespace: ns, labels, ownerReferences: [owner(d)] }, data: { version } },
      ...classes.map((c) => ({
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: `${name}-${c}`, namespace: ns, labels, ownerReferences: [owner(d)] },
        spec: {
          selector: { matchLabels: { ...labels, class: c } },
          updateStrategy: { type: 'OnDelete' },
          template: { metadata: { labels: { ...labels, class: c } }, spec: { nodeSelector: { class: c }, containers: [{ name: 'sidecar', image: `sidecar:${version}` }] } },
        },
      })),
    ];
    const ready = obs.pods.filter((p) => (p as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    const allReady = obs.pods.length > 0 && ready === obs.pods.length;
    const prev = (d as { status?: SLMDeploymentStatus }).status;
    const prevReady = prev?.conditions?.find((c) => c.type === 'Ready');
    const readyStatus = allReady ? 'True' : 'False';
    const status: SLMDeploymentStatus = {
      observedGeneration: d.metadata.generation ?? 0,
      conditions: [
        {
          type: 'Ready',
          status: readyStatus,
          reason: allReady ? 'AllPodsReady' : 'PodsNotReady',
          message: `${ready}/${obs.pods.length} pods ready`,
          observedGeneration: d.metadata.generation ?? 0,
          lastTransitionTime: prevReady && prevReady.status === readyStatus ? prevReady.lastTransitionTime : '2026-01-01T00:00:00Z',
        },
      ],
      nodes: { desired: obs.nodes.length, updated: ready, ready, offline: 0 },
      servedDigests: [{ digest: `sha256:${version}`, count: ready }],
      rollout: { phase: allReady ? 'Complete' : 'Progressing', wave: 1, updatedPercent: obs.pods.length ? Math.round((100 * ready) / obs.pods.length) : 0 },
    };
    const events: Plan['events'] = prevReady?.status === readyStatus ? [] : [{ type: 'Normal', reason: allReady ? 'Ready' : 'Progressing', message: `${ready}/${obs.pods.length} pods ready` }];
    return { apply, delete: [...knobs.extraDeletes], status, events, ...(knobs.requeueAfterMs ? { requeueAfterMs: knobs.requeueAfterMs } : {}) };
  };
  const scrapeTargets: ScrapeTargetsFn = () => knobs.targets;
  return { planReconcile, scrapeTargets, seen, knobs };
}

export const slmd = (name: string, version = '1.0.0', namespace = 'default'): KubeObject => ({
  apiVersion: 'slmops.io/v1alpha1',
  kind: 'SLMDeployment',
  metadata: { name, namespace },
  spec: { model: { name: 'stories', version, source: { uri: 'file:///m', digest: `sha256:${version}` } } },
});

export const node = (name: string, cls: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels: { class: cls } },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});

export const pod = (name: string, deployment: string, ready: boolean, namespace = 'default'): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace, labels: { 'slmops.io/deployment': deployment } },
  spec: { containers: [{ name: 'sidecar', image: 'x' }] },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
});
