/** Pure rollout analysis over the updated pods' own /metrics scrapes (no Prometheus needed at the edge). */
import type { SLMDeploymentSpec } from '@slmops/api';
import { histogramBuckets, histogramQuantile, mergeBuckets, parseExposition, servingMetrics, sumSamples, type Bucket, type MetricFamily } from '@slmops/metrics';
import type { ScrapeResult } from '../contract.js';

export type AnalysisSettings = SLMDeploymentSpec['rollout']['analysis'];

export interface AnalysisResult {
  decision: 'pass' | 'fail' | 'inconclusive';
  /** One sentence naming the deciding number and its threshold. */
  reason: string;
  /** Finished requests (successes + counted failures) across the scraped pods. */
  samples: number;
  errorRate?: number;
  p95LatencyMs?: number;
  ttftP95Ms?: number;
  /** Pods whose scrape parsed. */
  pods: number;
  /** "pod: error" for scrapes that failed or did not parse. */
  scrapeErrors: string[];
}

/**
 * gRPC codes of slmops_request_failure_total that are the client's doing, not the version's: a malformed or
 * unauthorised request fails the same on any version, so it does not count against a wave. Everything else
 * counts, DEADLINE_EXCEEDED and CANCELLED included: both are how slowness shows (a deadline that expired, a
 * client that gave up; older sidecars also report streaming deadline expiries as CANCELLED), and a slow version
 * must not pass its waves. See docs/operator.md (Analysis).
 */
export const CLIENT_ERROR_CODES: ReadonlySet<string> = new Set(['INVALID_ARGUMENT', 'OUT_OF_RANGE', 'NOT_FOUND', 'UNAUTHENTICATED', 'PERMISSION_DENIED']);

const round = (n: number, digits = 4): number => Number(n.toFixed(digits));

function countedFailures(families: readonly MetricFamily[]): number {
  let total = 0;
  for (const f of families) {
    if (f.name !== servingMetrics.requestFailure.name) continue;
    for (const s of f.samples) if (!CLIENT_ERROR_CODES.has(s.labels['code'] ?? '')) total += s.value;
  }
  return total;
}

/**
 * Analysis of one wave: inconclusive until `minSamples` requests finished (or when nothing could be scraped),
 * fail when the error rate, p95 end-to-end latency or p95 time to first token exceeds its threshold, else pass.
 * Counters are cumulative since each updated pod started, so no baseline is needed.
 */
export function analyze(scrapes: readonly ScrapeResult[], settings: AnalysisSettings): AnalysisResult {
  const scrapeErrors: string[] = [];
  let success = 0;
  let failure = 0;
  let e2e: Bucket[] = [];
  let ttft: Bucket[] = [];
  let pods = 0;
  for (const s of [...scrapes].sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0))) {
    if (s.text === undefined) {
      scrapeErrors.push(`${s.pod}: ${s.error ?? 'no metrics'}`);
      continue;
    }
    let families: MetricFamily[];
    try {
      families = parseExposition(s.text);
    } catch (e) {
      scrapeErrors.push(`${s.pod}: ${(e as Error).message}`);
      continue;
    }
    pods++;
    success += sumSamples(families, servingMetrics.requestSuccess.name);
    failure += countedFailures(families);
    e2e = mergeBuckets(e2e, histogramBuckets(families, servingMetrics.e2eLatency.name));
    ttft = mergeBuckets(ttft, histogramBuckets(families, servingMetrics.timeToFirstToken.name));
  }
  const samples = success + failure;
  const base = { samples, pods, scrapeErrors };
  if (pods === 0) {
    // minSamples 0 asks for no evidence: unreadable metrics then do not hold the rollout.
    if (settings.minSamples === 0) return { decision: 'pass', reason: `minSamples is 0 and no updated pod's metrics could be read`, ...base };
    return { decision: 'inconclusive', reason: scrapes.length ? `no updated pod's metrics could be read (${scrapeErrors[0]})` : 'no updated pod to analyse yet', ...base };
  }
  const metrics: Pick<AnalysisResult, 'errorRate' | 'p95LatencyMs' | 'ttftP95Ms'> = {};
  if (samples > 0) metrics.errorRate = round(failure / samples);
  const p95 = histogramQuantile(e2e, 0.95);
  if (Number.isFinite(p95)) metrics.p95LatencyMs = round(p95 * 1000, 3);
  const t95 = histogramQuantile(ttft, 0.95);
  if (Number.isFinite(t95)) metrics.ttftP95Ms = round(t95 * 1000, 3);
  const result = { ...base, ...metrics };
  if (samples < settings.minSamples) {
    return { decision: 'inconclusive', reason: `${samples} of ${settings.minSamples} required samples from ${pods} updated pods`, ...result };
  }
  if (metrics.errorRate !== undefined && metrics.errorRate > settings.maxErrorRate) {
    return { decision: 'fail', reason: `error rate ${metrics.errorRate} (${failure} of ${samples} requests) exceeds maxErrorRate ${settings.maxErrorRate}`, ...result };
  }
  if (settings.maxP95LatencyMs !== undefined && metrics.p95LatencyMs !== undefined && metrics.p95LatencyMs > settings.maxP95LatencyMs) {
    return { decision: 'fail', reason: `p95 latency ${metrics.p95LatencyMs} ms exceeds maxP95LatencyMs ${settings.maxP95LatencyMs}`, ...result };
  }
  if (settings.maxTtftP95Ms !== undefined && metrics.ttftP95Ms !== undefined && metrics.ttftP95Ms > settings.maxTtftP95Ms) {
    return { decision: 'fail', reason: `p95 time to first token ${metrics.ttftP95Ms} ms exceeds maxTtftP95Ms ${settings.maxTtftP95Ms}`, ...result };
  }
  return { decision: 'pass', reason: `${samples} samples from ${pods} updated pods within thresholds`, ...result };
}
