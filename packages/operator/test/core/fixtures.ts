/** Test fixtures for the operator core: real plugins, realistic nodes, and a tiny in-memory cluster loop. */
import { API_VERSION, KIND } from '@slmops/api';
import type { KubeObject } from '@slmops/kube';
import { createPluginHost, type NodeInfo } from '@slmops/plugin-sdk';
import { cpuAmd64Node, intelIgpuNode, jetsonOrinNode, nvidiaGpuNode } from '@slmops/plugin-sdk/testing/nodes';
import { amd } from '@slmops/plugin-amd';
import { cpu } from '@slmops/plugin-cpu';
import { intel } from '@slmops/plugin-intel';
import { jetson } from '@slmops/plugin-jetson';
import { nvidia } from '@slmops/plugin-nvidia';
import { qualcomm } from '@slmops/plugin-qualcomm';
import type { CoreContext, Observation, Plan, ScrapeResult } from '../../src/contract.js';
import { planReconcile } from '../../src/core.js';

export const host = createPluginHost([nvidia(), jetson(), intel(), amd(), qualcomm(), cpu()]);
export const ctx: CoreContext = { host, config: { sidecarImage: 'ghcr.io/slmops/sidecar:0.1.0', controllerName: 'slmops-operator' } };

export const DIGEST_A = `sha256:${'a'.repeat(64)}`;
export const DIGEST_B = `sha256:${'b'.repeat(64)}`;
export const T0 = new Date('2026-11-29T12:00:00Z');
export const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

/** Loose JSON access for assertions on rendered manifests and status. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read deep manifest fields without restating their types
export type Any = Record<string, any>;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | T[K] : T[K] };

/** An SLMDeployment as the API server stores it (CRD defaults not applied: the core applies them). */
export function slmd(spec: Record<string, unknown> = {}, meta: DeepPartial<KubeObject['metadata']> = {}): KubeObject {
  const base = {
    model: { name: 'stories260k', version: '1.0.0', source: { uri: 'https://models.example/stories260k-1.0.0.slm.tar', digest: DIGEST_A }, precisions: ['int8', 'fp16', 'fp32'] },
    hardware: { plugins: ['nvidia', 'jetson', 'cpu'] },
  };
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'chat', namespace: 'edge', uid: 'uid-chat', generation: 1, ...meta } as KubeObject['metadata'],
    spec: { ...base, ...spec },
  };
}

export const asObj = (n: NodeInfo): KubeObject => n as unknown as KubeObject;

/** `perClass` nodes of each of three classes: nvidia GPU, Jetson Orin, plain amd64 CPU. */
export function threeClassFleet(perClass: number): KubeObject[] {
  const out: KubeObject[] = [];
  for (let i = 0; i < perClass; i++) {
    const n = String(i).padStart(2, '0');
    out.push(asObj(nvidiaGpuNode({ name: `gpu-${n}` })), asObj(jetsonOrinNode({ name: `jetson-${n}` })), asObj(cpuAmd64Node({ name: `cpu-${n}` })));
  }
  return out;
}

export const intelNode = (name: string): KubeObject => asObj(intelIgpuNode({ name }));

/** Marks a node offline the way the node lifecycle controller does. */
export function offline(node: KubeObject): KubeObject {
  const status = node['status'] as { conditions?: Array<Record<string, unknown>> };
  return {
    ...node,
    spec: { ...(node['spec'] as object), taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }, { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }] },
    status: { ...status, conditions: (status.conditions ?? []).map((c) => ({ ...c, status: 'Unknown' })) },
  };
}

/** Sidecar-style /metrics text with `ok` successes, `failed` INTERNAL failures and e2e latencies in seconds. */
export function metricsText(ok: number, failed: number, latency = 0.2, ttft = 0.01): string {
  const labels = 'model_name="stories260k",model_version="2.0.0"';
  const e2eBounds = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10];
  const ttftBounds = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25];
  const n = ok + failed;
  const lines = [
    '# HELP slmops_request_success_total Requests that finished.',
    '# TYPE slmops_request_success_total counter',
    `slmops_request_success_total{${labels},finished_reason="stop"} ${ok}`,
    '# TYPE slmops_request_failure_total counter',
    `slmops_request_failure_total{${labels},code="INTERNAL"} ${failed}`,
    `slmops_request_failure_total{${labels},code="INVALID_ARGUMENT"} 50`,
    '# TYPE slmops_e2e_request_latency_seconds histogram',
    ...e2eBounds.map((b) => `slmops_e2e_request_latency_seconds_bucket{${labels},le="${b}"} ${latency <= b ? n : 0}`),
    `slmops_e2e_request_latency_seconds_bucket{${labels},le="+Inf"} ${n}`,
    `slmops_e2e_request_latency_seconds_sum{${labels}} ${latency * n}`,
    `slmops_e2e_request_latency_seconds_count{${labels}} ${n}`,
    '# TYPE slmops_time_to_first_token_seconds histogram',
    ...ttftBounds.map((b) => `slmops_time_to_first_token_seconds_bucket{${labels},le="${b}"} ${ttft <= b ? n : 0}`),
    `slmops_time_to_first_token_seconds_bucket{${labels},le="+Inf"} ${n}`,
    `slmops_time_to_first_token_seconds_sum{${labels}} ${ttft * n}`,
    `slmops_time_to_first_token_seconds_count{${labels}} ${n}`,
  ];
  return `${lines.join('\n')}\n`;
}

export interface ClusterOptions {
  /** Whether a pod created from this template becomes Ready (default: yes). */
  ready?: (pod: KubeObject) => boolean;
  /** Failure reason a new pod shows (e.g. CrashLoopBackOff), if any. */
  failing?: (pod: KubeObject) => string | undefined;
  /** /metrics text of a scraped pod. */
  metrics?: (pod: KubeObject) => string | undefined;
}

/**
 * A minimal cluster for core tests: applies plans (children replaced by kind/name, status stored), deletes pods,
 * and plays an OnDelete DaemonSet controller that creates a pod from the current template on every pinned node
 * without one. Records every pod deletion with the plan's status at that time.
 */
export class MiniCluster {
  deployment: KubeObject;
  nodes: KubeObject[];
  pods: KubeObject[] = [];
  children = new Map<string, KubeObject>();
  deletedPods: { name: string; node: string; reason: string; wave: number | undefined }[] = [];
  plans: Plan[] = [];
  private seq = 0;

  constructor(deployment: KubeObject, nodes: KubeObject[], private readonly opts: ClusterOptions = {}) {
    this.deployment = deployment;
    this.nodes = nodes;
  }

  observation(now: Date, scrapes: ScrapeResult[] = []): Observation {
    return { deployment: this.deployment, nodes: this.nodes, pods: this.pods, children: [...this.children.values()], scrapes, now };
  }

  /** One reconcile at `now` (scraping every Ready pod of the update revision), then one controller pass. */
  step(now: Date, scrapeTargets?: (obs: Omit<Observation, 'scrapes'>) => { pod: string }[]): Plan {
    const obs = this.observation(now);
    const scrapes: ScrapeResult[] = (scrapeTargets?.(obs) ?? []).map((t) => {
      const pod = this.pods.find((p) => p.metadata.name === t.pod)!;
      const text = this.opts.metrics?.(pod);
      return text === undefined ? { pod: t.pod, error: 'connection refused', time: now } : { pod: t.pod, text, time: now };
    });
    const plan = planReconcile({ ...obs, scrapes }, ctx);
    this.plans.push(plan);
    for (const o of plan.apply) this.children.set(`${o.kind}/${o.metadata.name}`, { ...o, metadata: { ...o.metadata, uid: `uid-${o.kind}-${o.metadata.name}` } });
    for (const d of plan.delete) {
      if (d.kind === 'Pod') {
        const pod = this.pods.find((p) => p.metadata.name === d.name);
        if (!pod) throw new Error(`plan deletes missing pod ${d.name}`);
        this.deletedPods.push({ name: d.name, node: (pod['spec'] as { nodeName: string }).nodeName, reason: d.reason, wave: (this.deployment['status'] as { rollout?: { wave?: number } } | undefined)?.rollout?.wave });
        this.pods = this.pods.filter((p) => p !== pod);
      } else this.children.delete(`${d.kind}/${d.name}`);
    }
    this.deployment = { ...this.deployment, status: plan.status };
    this.runDaemonSets();
    return plan;
  }

  /** OnDelete DaemonSet controller: a pod from the current template for every pinned, online node lacking one. */
  runDaemonSets(): void {
    for (const ds of this.children.values()) {
      if (ds.kind !== 'DaemonSet') continue;
      const template = (ds['spec'] as { template: { metadata: KubeObject['metadata']; spec: Record<string, unknown> } }).template;
      const nodes = ((template.spec['affinity'] as { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: { matchFields: { values: string[] }[] }[] } } }).nodeAffinity
        .requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]!.matchFields[0]!.values);
      for (const node of nodes) {
        if (this.pods.some((p) => (p['spec'] as { nodeName: string }).nodeName === node)) continue;
        const n = this.nodes.find((x) => x.metadata.name === node)!;
        const isOffline = ((n['status'] as { conditions: { type: string; status: string }[] }).conditions.find((c) => c.type === 'Ready')?.status ?? 'True') !== 'True';
        if (isOffline) continue;
        const pod: KubeObject = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { ...template.metadata, name: `${ds.metadata.name}-${++this.seq}`, namespace: 'edge', uid: `pod-uid-${this.seq}` },
          spec: { ...template.spec, nodeName: node },
          status: { phase: 'Running', podIP: `10.0.0.${this.seq % 250}` },
        };
        const failure = this.opts.failing?.(pod);
        const ready = !failure && (this.opts.ready?.(pod) ?? true);
        pod['status'] = {
          phase: 'Running',
          podIP: `10.0.${Math.floor(this.seq / 250)}.${this.seq % 250}`,
          conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
          containerStatuses: [{ name: 'sidecar', restartCount: failure ? 3 : 0, state: failure ? { waiting: { reason: failure } } : { running: {} } }],
        };
        this.pods.push(pod);
      }
    }
  }

  status(): Any {
    return (this.deployment['status'] ?? {}) as Any;
  }

  setSpec(mutate: (spec: Any) => void): void {
    const spec = structuredClone(this.deployment['spec']) as Any;
    mutate(spec);
    const generation = (this.deployment.metadata.generation ?? 1) + 1;
    this.deployment = { ...this.deployment, spec, metadata: { ...this.deployment.metadata, generation } };
  }

  annotate(key: string, value: string): void {
    this.deployment = { ...this.deployment, metadata: { ...this.deployment.metadata, annotations: { ...this.deployment.metadata.annotations, [key]: value } } };
  }

  podsByRevision(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of this.pods) {
      const r = p.metadata.labels?.['slmops.io/revision'] ?? '?';
      out[r] = (out[r] ?? 0) + 1;
    }
    return out;
  }
}
