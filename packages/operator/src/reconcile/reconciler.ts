/**
 * One reconcile of one SLMDeployment: gather an Observation from the caches, scrape the pods the core asks
 * for, ask the pure core for a Plan, then carry it out with as few writes as possible: server-side apply of
 * objects whose owned fields differ, deletions guarded by uid, a status apply only when the status changed,
 * and the plan's events. The same code runs against a real cluster, the emulator or the in-memory fake.
 */
import { type KubeApiError, type KubeClient, type KubeObject, type ResourceType, Resources, isConflict, isNotFound } from '@slmops/kube';
import { type OutboundLimits, OutboundError, SCRAPE_LIMITS, fetchTextBounded } from '@slmops/metrics';
import type { CoreContext, Deletion, Observation, Plan, PlanReconcileFn, ScrapeResult, ScrapeTarget, ScrapeTargetsFn } from '../contract.js';
import type { ReconcileOutcome } from '../queue/work-queue.js';
import { type Logger, errorFields, silentLogger } from '../runtime/log.js';
import type { ClusterView } from './cache.js';
import { applyReason, hashOf, semanticEqual, withAppliedHash } from './diff.js';

/** Fetches a /metrics page; rejects on HTTP errors, on a limit hit and when `signal` aborts. */
export type ScrapeFn = (url: string, signal: AbortSignal) => Promise<string>;

/**
 * Scrapes within `limits` (byte cap, time to headers, longest silence): a pod's /metrics cannot make the operator
 * buffer more than the cap or wait forever. Errors are OutboundErrors naming the redacted URL.
 */
export const boundedScrape =
  (limits: OutboundLimits): ScrapeFn =>
  (url, signal) =>
    fetchTextBounded(url, limits, { signal, headers: { accept: 'text/plain;version=0.0.4' } });

/** What the reconciler reports to metrics; all optional. */
export interface ReconcileObserver {
  /** After a successful reconcile of a live deployment, with the status it had before and the planned one. */
  observed?(deployment: KubeObject, before: unknown, plan: Plan): void;
  /** The deployment is gone (or terminating). */
  gone?(namespace: string, name: string): void;
}

export interface ReconcilerDeps {
  client: KubeClient;
  cache: ClusterView;
  planReconcile: PlanReconcileFn;
  scrapeTargets: ScrapeTargetsFn;
  ctx: CoreContext;
  /** Scrapes a /metrics URL (default: `boundedScrape(scrapeLimits)`). */
  scrape?: ScrapeFn;
  /** Limits of the default scrape (default SCRAPE_LIMITS, from --scrape-max-bytes/--scrape-timeout/--scrape-stall-timeout). */
  scrapeLimits?: OutboundLimits;
  /** Deadline of one whole scrape (default: the limits' connect + stall timeouts, so a trickling body ends too). */
  scrapeTimeoutMs?: number;
  now?: () => Date;
  logger?: Logger;
  observer?: ReconcileObserver;
  /** reportingInstance of events (the replica's identity). */
  identity?: string;
}

const TYPES = new Map<string, ResourceType>(Object.values(Resources).map((r) => [`${r.apiVersion}/${r.kind}`, r]));

/** The REST resource of an apiVersion/kind the operator plans; unknown kinds are a core bug, named in the error. */
export function resourceTypeOf(apiVersion: string, kind: string): ResourceType {
  const t = TYPES.get(`${apiVersion}/${kind}`);
  if (!t) throw new Error(`the plan names ${apiVersion} ${kind}, a kind the operator does not manage`);
  return t;
}

/** What a reconcile did, for logs and tests. */
export interface ReconcileReport extends ReconcileOutcome {
  applied: string[];
  deleted: string[];
  statusWritten: boolean;
  events: number;
  skipped?: 'gone' | 'terminating';
}

const ref = (o: { kind: string; metadata: { namespace?: string; name: string } }) => `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

export function createReconciler(deps: ReconcilerDeps): (key: string) => Promise<ReconcileReport> {
  const log = deps.logger ?? silentLogger;
  const limits = deps.scrapeLimits ?? SCRAPE_LIMITS;
  const scrape = deps.scrape ?? boundedScrape(limits);
  const timeout = deps.scrapeTimeoutMs ?? limits.connectTimeoutMs + limits.stallTimeoutMs;
  const now = deps.now ?? (() => new Date());
  // A hostile or broken endpoint is logged once per URL and kind, not on every reconcile of a rollout.
  const warned = new Set<string>();

  const scrapeOne = async (t: ScrapeTarget): Promise<ScrapeResult> => {
    try {
      const text = await scrape(t.url, AbortSignal.timeout(timeout));
      return { pod: t.pod, text, time: now() };
    } catch (e) {
      if (e instanceof OutboundError && (e.kind === 'too-large' || e.kind === 'stall' || e.kind === 'aborted')) {
        const key = `${e.kind} ${e.url}`;
        if (!warned.has(key)) {
          if (warned.size >= 1024) warned.clear();
          warned.add(key);
          log.warn('metrics scrape refused; the pod counts as not scraped', { pod: `${t.namespace}/${t.pod}`, url: e.url, kind: e.kind, error: e.message });
        }
      }
      const deadline = e instanceof OutboundError && e.kind === 'aborted' ? `GET ${e.url}: no complete response within ${timeout} ms` : undefined;
      return { pod: t.pod, error: deadline ?? (e as Error).message ?? String(e), time: now() };
    }
  };

  /**
   * Applies one planned object when it differs. A missing child is (re-)created only after a fresh read of the
   * owner (once per reconcile) confirms it is still this uid and not terminating: its watch may lag the children's,
   * and a child deleted by the owner's garbage collection must not come back. Returns false when the owner is gone.
   */
  const applyObject = async (planned: KubeObject, applied: string[], owner: { confirm(): Promise<boolean> }): Promise<boolean> => {
    const { apiVersion, kind } = planned;
    const { namespace, name } = planned.metadata;
    const live = deps.cache.live(apiVersion, kind, namespace, name);
    const reason = applyReason(planned, live);
    if (!reason) return true;
    const { object, hash } = withAppliedHash(planned);
    // Our previous apply of this exact configuration has not come back through the watch yet.
    if (deps.cache.pendingApply(apiVersion, kind, namespace, name, hash)) return true;
    if (reason === 'missing' && !(await owner.confirm())) return false;
    await deps.client.apply(object, { force: true });
    deps.cache.noteApplied(apiVersion, kind, namespace, name, hash);
    applied.push(`${ref(planned)} (${reason})`);
    return true;
  };

  const deleteObject = async (d: Deletion, deleted: string[]): Promise<void> => {
    const type = resourceTypeOf(d.apiVersion, d.kind);
    try {
      const done = await deps.client.delete(type, d.name, d.namespace, d.uid ? { preconditions: { uid: d.uid }, propagationPolicy: 'Background' } : { propagationPolicy: 'Background' });
      if (done) deleted.push(`${d.kind}/${d.namespace ? `${d.namespace}/` : ''}${d.name} (${d.reason})`);
    } catch (e) {
      // Already replaced by a new incarnation (uid precondition failed): the plan's intent is met.
      if (isConflict(e) || isNotFound(e)) return;
      throw e;
    }
  };

  return async function reconcile(key: string): Promise<ReconcileReport> {
    const report: ReconcileReport = { applied: [], deleted: [], statusWritten: false, events: 0 };
    const deployment = deps.cache.deployment(key);
    const [namespace = '', name = key] = key.includes('/') ? key.split('/') : ['', key];
    if (!deployment) {
      deps.observer?.gone?.(namespace, name);
      return { ...report, skipped: 'gone' };
    }
    // Children go with the owner through ownerReference garbage collection; nothing of ours to clean up.
    if (deployment.metadata.deletionTimestamp) {
      deps.observer?.gone?.(namespace, name);
      return { ...report, skipped: 'terminating' };
    }
    const uid = deployment.metadata.uid ?? '';
    const base: Omit<Observation, 'scrapes'> = {
      deployment,
      nodes: deps.cache.nodes(),
      pods: deps.cache.pods(namespace, name),
      children: uid ? deps.cache.children(uid) : [],
      now: now(),
    };
    const targets = deps.scrapeTargets(base, deps.ctx);
    const scrapes = await Promise.all(targets.map(scrapeOne));
    const plan = deps.planReconcile({ ...base, scrapes }, deps.ctx);

    // No write for a deployment whose deletion this replica has observed, whenever it arrives (a scrape or an
    // earlier write of this reconcile may take a while): checked from the cache right before every write.
    const ownerLive = (): boolean => {
      const d = deps.cache.deployment(key);
      return !!uid && d?.metadata.uid === uid && !d.metadata.deletionTimestamp && !deps.cache.ownerGone(uid);
    };
    let confirmed = false;
    const owner = {
      confirm: async (): Promise<boolean> => {
        if (confirmed) return ownerLive();
        const fresh = await deps.client.get(Resources.SLMDeployment, name, namespace || undefined);
        if (!fresh || fresh.metadata.uid !== uid || fresh.metadata.deletionTimestamp) {
          deps.cache.noteOwnerGone(uid);
          return false;
        }
        confirmed = true;
        return ownerLive();
      },
    };
    const stopped = (): ReconcileReport => {
      log.debug('deployment deleted during the reconcile; no further writes', { deployment: key, uid, applied: report.applied, deleted: report.deleted });
      return { ...report, skipped: 'gone' };
    };

    for (const o of plan.apply) {
      if (!ownerLive() || !(await applyObject(o, report.applied, owner))) return stopped();
    }
    for (const d of plan.delete) {
      if (!ownerLive()) return stopped();
      await deleteObject(d, report.deleted);
    }

    const before = (deployment as { status?: unknown }).status;
    const statusHash = hashOf(plan.status);
    if (!ownerLive()) return stopped();
    if (!semanticEqual(plan.status, before) && !deps.cache.pendingApply(deployment.apiVersion, 'SLMDeployment', namespace, name, `status:${statusHash}`)) {
      await deps.client.apply(
        { apiVersion: deployment.apiVersion, kind: 'SLMDeployment', metadata: { name, namespace }, status: plan.status },
        { subresource: 'status', force: true },
      );
      deps.cache.noteApplied(deployment.apiVersion, 'SLMDeployment', namespace, name, `status:${statusHash}`);
      report.statusWritten = true;
    }

    for (const ev of plan.events) {
      if (!ownerLive()) return stopped();
      try {
        await deps.client.createEvent({
          regarding: { apiVersion: deployment.apiVersion, kind: 'SLMDeployment', name, namespace, uid, ...(deployment.metadata.resourceVersion ? { resourceVersion: deployment.metadata.resourceVersion } : {}) },
          type: ev.type,
          reason: ev.reason,
          message: ev.message,
          reportingController: deps.ctx.config.controllerName,
          ...(deps.identity ? { reportingInstance: deps.identity } : {}),
        });
        report.events++;
      } catch (e) {
        // Events are best effort, as in client-go's recorder: a lost event must not fail the reconcile.
        log.warn('event not recorded', { deployment: key, reason: ev.reason, ...errorFields(e) });
      }
    }

    deps.observer?.observed?.(deployment, before, plan);
    if (plan.requeueAfterMs !== undefined) report.requeueAfterMs = plan.requeueAfterMs;
    if (report.applied.length || report.deleted.length || report.statusWritten)
      log.info('reconciled', { deployment: key, applied: report.applied, deleted: report.deleted, statusWritten: report.statusWritten, events: report.events, requeueAfterMs: plan.requeueAfterMs });
    return report;
  };
}

/** The metric label of a failed reconcile: the API Status reason, or Network/Error. */
export function errorReason(e: unknown): string {
  const reason = (e as KubeApiError | null)?.reason;
  if (typeof reason === 'string' && reason) return reason;
  const code = (e as { code?: unknown; cause?: { code?: unknown } } | null)?.code ?? (e as { cause?: { code?: unknown } } | null)?.cause?.code;
  if (typeof code === 'string' && /^E[A-Z]+/.test(code)) return 'Network';
  return 'Error';
}
