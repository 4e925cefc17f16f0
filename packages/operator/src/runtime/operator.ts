/**
 * The operator's runtime: informers feed a per-key work queue, the queue runs reconciles (leader only), and
 * metrics report what happened. Everything it uses comes in through `OperatorDeps`; main.ts builds them.
 */
import { Labels } from '@slmops/api';
import {
  type Informer,
  type KubeClient,
  type KubeObject,
  type LeaderElector,
  type LeaderElectorOptions,
  type ResourceType,
  Resources,
  createInformer,
  createLeaderElector,
  objectKey,
} from '@slmops/kube';
import { type OutboundLimits, type Registry, createRegistry } from '@slmops/metrics';
import type { PluginHost } from '@slmops/plugin-sdk';
import type { CoreContext, OperatorConfig, PlanReconcileFn, ScrapeTargetsFn } from '../contract.js';
import { type Clock, systemClock } from '../queue/clock.js';
import { WorkQueue } from '../queue/work-queue.js';
import { ClusterCache } from '../reconcile/cache.js';
import { type ScrapeFn, createReconciler, errorReason } from '../reconcile/reconciler.js';
import { type Logger, errorFields, silentLogger } from './log.js';
import { OperatorMetrics, countingClient, slimReadClient } from './metrics.js';

/** Lease coordinates and timings (client-go semantics; see @slmops/kube's LeaderElectorOptions). */
export type LeaderElectionConfig = Pick<LeaderElectorOptions, 'namespace' | 'name' | 'identity' | 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>;

export interface OperatorDeps {
  client: KubeClient;
  host: PluginHost;
  config: OperatorConfig;
  planReconcile: PlanReconcileFn;
  scrapeTargets: ScrapeTargetsFn;
  /** Watch only this namespace (default: all). */
  namespace?: string;
  /** Without it this replica leads at once (a single replica, or tests). */
  leaderElection?: LeaderElectionConfig;
  /** Registry for the operator's metrics (default: a private one). */
  registry?: Registry;
  scrape?: ScrapeFn;
  /** Limits of each /metrics scrape (default SCRAPE_LIMITS). */
  scrapeLimits?: OutboundLimits;
  /** Reconciles running at once (default 4). */
  maxConcurrentReconciles?: number;
  /** Informer relist and full requeue period (default 10 min). */
  resyncPeriodMs?: number;
  logger?: Logger;
  clock?: Clock;
  /** Queue retry backoff (defaults 50 ms doubling to 60 s). */
  backoff?: { baseMs?: number; maxMs?: number };
}

export interface RunningOperator {
  /** Stops reconciling (in-flight reconciles finish), releases the lease, stops the informers. */
  stop(): Promise<void>;
  isLeader(): boolean;
  /** True once every informer has loaded its first list (/readyz). */
  synced(): boolean;
  /** Resolves when the queue is empty and nothing is in flight (pending requeue timers aside). */
  idle(): Promise<void>;
  /** The operator's metrics registry. */
  registry: Registry;
}

/** Kinds the operator creates for an SLMDeployment; watched (label-selected) so drift and deletion requeue it. */
export const CHILD_TYPES: readonly ResourceType[] = [
  Resources.DaemonSet,
  Resources.Deployment,
  Resources.Service,
  Resources.ConfigMap,
  Resources.NetworkPolicy,
  Resources.HorizontalPodAutoscaler,
  Resources.PodDisruptionBudget,
  Resources.ControllerRevision,
];

/** The label every pod and child of an SLMDeployment carries; the informers select on its presence. */
export const MANAGED_SELECTOR = Labels.deployment;

/** Parts of a node that change which class or placement it gets; heartbeats and images do not. */
function nodeFingerprint(n: KubeObject): string {
  const spec = (n as { spec?: { taints?: unknown; unschedulable?: unknown } }).spec;
  const status = (n as { status?: { capacity?: unknown; allocatable?: unknown; conditions?: { type: string; status: string }[]; nodeInfo?: unknown } }).status;
  const ready = status?.conditions?.find((c) => c.type === 'Ready')?.status;
  return JSON.stringify([n.metadata.labels, spec?.taints, spec?.unschedulable, status?.capacity, status?.allocatable, ready, status?.nodeInfo]);
}

export async function startOperator(deps: OperatorDeps): Promise<RunningOperator> {
  const log = deps.logger ?? silentLogger;
  const clock = deps.clock ?? systemClock;
  const registry = deps.registry ?? createRegistry({ defaultMetrics: false });
  const metrics = new OperatorMetrics(registry);
  const ns = deps.namespace ? { namespace: deps.namespace } : {};
  const resyncPeriodMs = deps.resyncPeriodMs ?? 600_000;
  const onInformerError = (e: unknown) => log.warn('watch interrupted, recovering', errorFields(e));
  const informerOpts = { ...ns, resyncPeriodMs, onError: onInformerError };
  let leader = !deps.leaderElection;
  let stopped = false;

  // Writes made after leadership is lost would race the new leader: refuse them here, below the reconciler.
  const guarded: KubeClient = countingClient(deps.client, (verb, code) => metrics.ins.apiRequests.inc({ verb, code: String(code) }), () => leader);

  const reader = slimReadClient(deps.client);
  const deployments = createInformer(reader, Resources.SLMDeployment, informerOpts);
  const nodes = createInformer(reader, Resources.Node, { resyncPeriodMs, onError: onInformerError });
  const pods = createInformer(reader, Resources.Pod, { ...informerOpts, labelSelector: MANAGED_SELECTOR });
  const children = CHILD_TYPES.map((type) => ({ type, informer: createInformer(reader, type, { ...informerOpts, labelSelector: MANAGED_SELECTOR }) as Informer }));
  const all: Informer[] = [deployments, nodes, pods, ...children.map((c) => c.informer)];
  const cache = new ClusterCache({ deployments, nodes, pods, children });

  const ctx: CoreContext = { host: deps.host, config: deps.config };
  const reconcile = createReconciler({
    client: guarded,
    cache,
    planReconcile: deps.planReconcile,
    scrapeTargets: deps.scrapeTargets,
    ctx,
    ...(deps.scrape ? { scrape: deps.scrape } : {}),
    ...(deps.scrapeLimits ? { scrapeLimits: deps.scrapeLimits } : {}),
    logger: log,
    observer: metrics,
    identity: deps.leaderElection?.identity ?? deps.config.controllerName,
  });

  const queue = new WorkQueue({
    concurrency: deps.maxConcurrentReconciles ?? 4,
    clock,
    paused: true,
    ...(deps.backoff?.baseMs !== undefined ? { baseBackoffMs: deps.backoff.baseMs } : {}),
    ...(deps.backoff?.maxMs !== undefined ? { maxBackoffMs: deps.backoff.maxMs } : {}),
    onDepth: (d) => metrics.ins.queueDepth.set(d),
    onError: (key, e, retryInMs) => {
      metrics.ins.reconcileErrors.inc({ reason: errorReason(e) });
      log.warn('reconcile failed', { deployment: key, retryInMs, ...errorFields(e) });
    },
    handler: async (key) => {
      const end = metrics.ins.reconcileDuration.startTimer();
      try {
        const r = await reconcile(key);
        const result = r.requeueAfterMs ? 'requeue' : 'success';
        end({ result });
        metrics.ins.reconcileTotal.inc({ result });
        return r.requeueAfterMs ? { requeueAfterMs: r.requeueAfterMs } : {};
      } catch (e) {
        end({ result: 'error' });
        metrics.ins.reconcileTotal.inc({ result: 'error' });
        throw e;
      }
    },
  });

  let synced = false;
  const enqueue = (key: string | undefined) => {
    if (key && leader && synced && !stopped) queue.add(key);
  };
  const enqueueAll = () => {
    for (const d of deployments.list()) enqueue(objectKey(d));
  };
  deployments.on((_t, d) => enqueue(objectKey(d)));
  pods.on((_t, p) => enqueue(cache.ownerKey(p)));
  for (const c of children) c.informer.on((_t, o) => enqueue(cache.ownerKey(o)));
  nodes.on((type, n, prev) => {
    // Any deployment may place pods on any node (selectors and classes are per deployment): requeue them all.
    if (type !== 'MODIFIED' || !prev || nodeFingerprint(n) !== nodeFingerprint(prev)) enqueueAll();
  });

  await Promise.all(all.map((i) => i.start()));
  await Promise.all(all.map((i) => i.synced()));
  synced = true;
  log.info('caches synced', { deployments: deployments.list().length, nodes: nodes.list().length, pods: pods.list().length });

  const startLeading = () => {
    if (stopped) return;
    leader = true;
    metrics.ins.leader.set(1);
    log.info('started leading', { identity: deps.leaderElection?.identity });
    queue.resume();
    enqueueAll();
  };
  let elector: LeaderElector | undefined;
  if (deps.leaderElection) {
    const le = deps.leaderElection;
    const e = createLeaderElector(deps.client, {
      namespace: le.namespace,
      name: le.name,
      identity: le.identity,
      leaseDurationMs: le.leaseDurationMs,
      renewDeadlineMs: le.renewDeadlineMs,
      retryPeriodMs: le.retryPeriodMs,
      onStartedLeading: startLeading,
      onError: (e) => log.warn('leader election attempt failed', errorFields(e)),
      onStoppedLeading: () => {
        leader = false;
        metrics.ins.leader.set(0);
        queue.pause();
        log.info('stopped leading', { identity: le.identity });
      },
    });
    elector = e;
    e.start();
  } else startLeading();

  let resyncTimer: unknown;
  const scheduleResync = () => {
    resyncTimer = clock.setTimeout(() => {
      enqueueAll();
      scheduleResync();
    }, resyncPeriodMs);
  };
  scheduleResync();

  return {
    registry,
    isLeader: () => leader && !stopped,
    synced: () => synced,
    idle: () => queue.idle(),
    async stop() {
      if (stopped) return;
      stopped = true;
      clock.clearTimeout(resyncTimer);
      await queue.shutdown();
      await elector?.stop();
      leader = false;
      metrics.ins.leader.set(0);
      for (const i of all) i.stop();
      cache.close();
      log.info('stopped');
    },
  };
}
