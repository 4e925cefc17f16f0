/**
 * The operator's instruments (names from @slmops/metrics' operator catalogue) and the bookkeeping that keeps
 * per-deployment series honest: old label values (a digest no longer served, a previous model version) are
 * removed, not left at a stale value, and a deleted deployment leaves no series behind.
 */
import type { SLMDeploymentStatus } from '@slmops/api';
import type { KubeClient, KubeObject } from '@slmops/kube';
import { type Instruments, type Registry, createInstruments, operatorMetrics } from '@slmops/metrics';
import type { Plan } from '../contract.js';
import type { ReconcileObserver } from '../reconcile/reconciler.js';

const PHASES = ['Pending', 'Progressing', 'Analyzing', 'Paused', 'Promoting', 'Complete', 'RollingBack', 'RolledBack', 'Failed'] as const;
const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

type Ins = Instruments<typeof operatorMetrics>;

interface Series {
  digests: Set<string>;
  info?: { model: string; version: string; digest: string };
  conditionTypes: Set<string>;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

export class OperatorMetrics implements ReconcileObserver {
  readonly ins: Ins;
  private readonly series = new Map<string, Series>();

  constructor(registry: Registry) {
    this.ins = createInstruments(registry, operatorMetrics, { maxModelLen: 0 });
    this.ins.leader.set(0);
    this.ins.queueDepth.set(0);
  }

  observed(deployment: KubeObject, before: unknown, plan: Plan): void {
    const namespace = deployment.metadata.namespace ?? '';
    const name = deployment.metadata.name;
    const d = { namespace, deployment: name };
    const key = `${namespace}/${name}`;
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { digests: new Set(), conditionTypes: new Set() }));
    const status: SLMDeploymentStatus = plan.status;
    const prev = (before ?? {}) as SLMDeploymentStatus;

    const phase = status.rollout?.phase;
    for (const p of PHASES) this.ins.rolloutPhase.set({ ...d, phase: p }, p === phase ? 1 : 0);
    this.ins.rolloutWave.set(d, status.rollout?.wave ?? 0);
    this.ins.rolloutUpdatedPercent.set(d, status.rollout?.updatedPercent ?? 0);
    const nodes = status.nodes ?? { desired: 0, updated: 0, ready: 0, offline: 0 };
    for (const state of ['desired', 'updated', 'ready', 'offline'] as const) this.ins.deploymentNodes.set({ ...d, state }, nodes[state]);

    const served = new Map((status.servedDigests ?? []).map((x) => [x.digest, x.count]));
    for (const old of s.digests) if (!served.has(old)) this.ins.servedDigest.remove({ ...d, digest: old });
    for (const [digest, count] of served) this.ins.servedDigest.set({ ...d, digest }, count);
    s.digests = new Set(served.keys());

    const spec = (deployment as { spec?: { model?: { name?: unknown; version?: unknown; source?: { digest?: unknown } } } }).spec;
    const info = { model: str(spec?.model?.name), version: str(spec?.model?.version), digest: str(spec?.model?.source?.digest) };
    if (s.info && (s.info.model !== info.model || s.info.version !== info.version || s.info.digest !== info.digest)) this.ins.deploymentInfo.remove({ ...d, ...s.info });
    this.ins.deploymentInfo.set({ ...d, ...info }, 1);
    s.info = info;

    const types = new Set<string>();
    for (const c of status.conditions ?? []) {
      types.add(c.type);
      for (const st of CONDITION_STATUSES) this.ins.deploymentCondition.set({ ...d, type: c.type, status: st }, c.status === st ? 1 : 0);
    }
    for (const t of s.conditionTypes) if (!types.has(t)) for (const st of CONDITION_STATUSES) this.ins.deploymentCondition.remove({ ...d, type: t, status: st });
    s.conditionTypes = types;

    // Counters move on transitions the status records, so a resync never counts an analysis twice.
    const last = status.rollout?.lastAnalysis;
    if (last && last.time !== prev.rollout?.lastAnalysis?.time) this.ins.analysisResults.inc({ ...d, result: analysisResult(last.passed, status.rollout?.phase) });
    const rolledBack = (st: SLMDeploymentStatus) => st.conditions?.find((c) => c.type === 'RolledBack')?.status === 'True';
    if (rolledBack(status) && !rolledBack(prev)) this.ins.rollbacks.inc(d);
  }

  gone(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const s = this.series.get(key);
    if (!s) return;
    this.series.delete(key);
    // prom-client removes exact label sets only, so every series this deployment had is named here.
    const d = { namespace, deployment: name };
    for (const phase of PHASES) this.ins.rolloutPhase.remove({ ...d, phase });
    this.ins.rolloutWave.remove(d);
    this.ins.rolloutUpdatedPercent.remove(d);
    for (const state of ['desired', 'updated', 'ready', 'offline']) this.ins.deploymentNodes.remove({ ...d, state });
    for (const digest of s.digests) this.ins.servedDigest.remove({ ...d, digest });
    if (s.info) this.ins.deploymentInfo.remove({ ...d, ...s.info });
    for (const type of s.conditionTypes) for (const status of CONDITION_STATUSES) this.ins.deploymentCondition.remove({ ...d, type, status });
    for (const result of ['passed', 'failed', 'inconclusive']) this.ins.analysisResults.remove({ ...d, result });
    this.ins.rollbacks.remove(d);
  }
}

/**
 * The analysis_total result of a recorded analysis: a verdict that did not pass while the wave is still being
 * analysed is inconclusive (too few samples so far); one that ended the wave (rollback) failed.
 */
export function analysisResult(passed: boolean, phase: string | undefined): 'passed' | 'failed' | 'inconclusive' {
  if (passed) return 'passed';
  return phase === 'Analyzing' ? 'inconclusive' : 'failed';
}

/** Thrown for a write attempted by a replica that does not hold the lease. */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
  readonly reason = 'NotLeader';
}

/**
 * Wraps a client so every write is counted by verb and HTTP status (slmops_operator_api_requests_total) and
 * refused with NotLeaderError while `mayWrite()` is false.
 */
export function countingClient(client: KubeClient, count: (verb: string, code: number) => void, mayWrite: () => boolean = () => true): KubeClient {
  const wrap =
    <A extends unknown[], R>(verb: string, fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      if (!mayWrite()) throw new NotLeaderError(`${verb} refused: this replica is not the leader`);
      try {
        const r = await fn(...a);
        count(verb, verb === 'create' ? 201 : 200);
        return r;
      } catch (e) {
        const status = (e as { status?: unknown }).status;
        count(verb, typeof status === 'number' ? status : 0);
        throw e;
      }
    };
  return {
    get: client.get.bind(client),
    list: client.list.bind(client),
    watch: client.watch.bind(client),
    create: wrap('create', client.create.bind(client)),
    replace: wrap('update', client.replace.bind(client)),
    apply: wrap('apply', client.apply.bind(client)),
    patch: wrap('patch', client.patch.bind(client)),
    delete: wrap('delete', client.delete.bind(client)),
    createEvent: wrap('create', client.createEvent.bind(client)),
  } as KubeClient;
}

const slim = <T extends KubeObject>(o: T): T => {
  if (!o?.metadata?.managedFields) return o;
  const { managedFields: _dropped, ...metadata } = o.metadata;
  return { ...o, metadata } as T;
};

/**
 * The read side the informers use: managedFields dropped from listed and watched objects (as
 * controller-runtime's cache transforms do), which is most of a cached workload's size and never read here.
 */
export function slimReadClient(client: KubeClient): KubeClient {
  return {
    create: client.create.bind(client),
    replace: client.replace.bind(client),
    apply: client.apply.bind(client),
    patch: client.patch.bind(client),
    delete: client.delete.bind(client),
    createEvent: client.createEvent.bind(client),
    get: async (type, name, namespace) => {
      const o = await client.get(type, name, namespace);
      return o && slim(o);
    },
    list: async (type, options) => {
      const r = await client.list(type, options);
      return { ...r, items: r.items.map(slim) };
    },
    watch: (type, options, onEvent) => client.watch(type, options, (e) => onEvent({ ...e, object: slim(e.object) } as Parameters<typeof onEvent>[0])),
  } as KubeClient;
}
