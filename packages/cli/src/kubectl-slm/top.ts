/**
 * `kubectl slm top [name]`: scrapes every Ready serving pod's /metrics and prints, per SLMDeployment and node
 * class, requests, TTFT p50/p95, tokens/s and errors. Scrapes go through the API server's pods/proxy (so `top`
 * works from outside the cluster network); `--direct` dials the pod IPs instead.
 */
import { Labels } from '@slmops/api';
import { Resources } from '@slmops/kube';
import {
  type Bucket,
  histogramBuckets,
  histogramQuantile,
  type MetricFamily,
  mergeBuckets,
  type OutboundLimits,
  parseByteSize,
  parseExposition,
  SCRAPE_LIMITS,
  servingMetrics,
  sumSamples,
} from '@slmops/metrics';
import { UsageError, writeLine } from '../context.js';
import { getSlmd, type Subcommand } from './command.js';
import { METRICS_PORT_NAME } from './generate.js';
import { parseDurationFlag } from './options.js';
import { hostPort, isServing, nodeClassOf, type PodObject, podPort, podSelector } from './pods.js';
import { NONE, type SlmdObject, table } from './printers.js';

/** What one pod's scrape contributes (counters and the TTFT histogram), before and after the window. */
export interface PodCounters {
  requests: number;
  errors: number;
  tokens: number;
  /** Seconds of inference (prefill + decode) the generated tokens took. */
  inferenceSeconds: number;
  ttft: Bucket[];
}

/** Counters of one exposition (all model label sets summed). */
export function podCounters(families: readonly MetricFamily[]): PodCounters {
  const m = servingMetrics;
  const errors = sumSamples(families, m.requestFailure.name);
  return {
    requests: sumSamples(families, m.requestSuccess.name) + errors,
    errors,
    tokens: sumSamples(families, m.generationTokens.name),
    inferenceSeconds: sumSamples(families, `${m.inferenceTime.name}_sum`),
    ttft: histogramBuckets(families, m.timeToFirstToken.name),
  };
}

/** after − before per field; a counter that went down means the pod restarted, so `after` counts from zero. */
export function counterDelta(before: PodCounters, after: PodCounters): PodCounters {
  if (after.requests < before.requests || after.tokens < before.tokens) return after;
  const prev = new Map(before.ttft.map((b) => [b.upperBound, b.count]));
  return {
    requests: after.requests - before.requests,
    errors: after.errors - before.errors,
    tokens: after.tokens - before.tokens,
    inferenceSeconds: after.inferenceSeconds - before.inferenceSeconds,
    ttft: after.ttft.map((b) => ({ upperBound: b.upperBound, count: b.count - (prev.get(b.upperBound) ?? 0) })),
  };
}

export interface TopRow {
  namespace: string;
  name: string;
  nodeClass: string;
  /** Ready pods, and how many of them answered the scrape. */
  pods: number;
  scraped: number;
  requests: number;
  errors: number;
  ttftP50Seconds: number;
  ttftP95Seconds: number;
  /** Without a window: tokens per second of inference time; with one: tokens per wall-clock second. */
  tokensPerSecond: number;
}

/** Sums pods' counters into one row (windowSeconds 0: since the pods started; else the window's rate). */
export function summarize(key: { namespace: string; name: string; nodeClass: string }, pods: number, counters: readonly PodCounters[], windowSeconds: number): TopRow {
  const sum = (f: (c: PodCounters) => number) => counters.reduce((a, c) => a + f(c), 0);
  const ttft = counters.reduce<Bucket[]>((acc, c) => mergeBuckets(acc, c.ttft), []);
  const tokens = sum((c) => c.tokens);
  const seconds = windowSeconds > 0 ? windowSeconds : sum((c) => c.inferenceSeconds);
  return {
    ...key,
    pods,
    scraped: counters.length,
    requests: sum((c) => c.requests),
    errors: sum((c) => c.errors),
    ttftP50Seconds: histogramQuantile(ttft, 0.5),
    ttftP95Seconds: histogramQuantile(ttft, 0.95),
    tokensPerSecond: seconds > 0 ? tokens / seconds : Number.NaN,
  };
}

const ms = (s: number) => (Number.isFinite(s) ? (s < 1 ? `${(s * 1000).toFixed(1)}ms` : `${s.toFixed(2)}s`) : NONE);

/** The `top` table (pure). */
export function topTable(rows: readonly TopRow[], withNamespace: boolean): string {
  return table(
    [...(withNamespace ? ['NAMESPACE'] : []), 'NAME', 'NODE-CLASS', 'PODS', 'REQUESTS', 'TTFT-P50', 'TTFT-P95', 'TOKENS/S', 'ERRORS'],
    rows.map((r) => [
      ...(withNamespace ? [r.namespace] : []),
      r.name,
      r.nodeClass,
      r.scraped === r.pods ? String(r.pods) : `${r.scraped}/${r.pods}`,
      String(r.requests),
      ms(r.ttftP50Seconds),
      ms(r.ttftP95Seconds),
      Number.isFinite(r.tokensPerSecond) ? r.tokensPerSecond.toFixed(1) : NONE,
      String(r.errors),
    ]),
  );
}

/** Pods scraped at once. */
export const SCRAPE_CONCURRENCY = 32;

interface Target {
  namespace: string;
  name: string;
  nodeClass: string;
  pod: string;
  port: number;
  /** The pod IP's /metrics URL (`--direct`). */
  url: string;
}

/** The limits of every scrape from `top`'s flags (defaults: SCRAPE_LIMITS); --scrape-timeout also bounds each whole read. */
export function scrapeLimits(values: Record<string, unknown>): OutboundLimits {
  const duration = (flag: string) => {
    const ms = parseDurationFlag(flag, values[flag] as string);
    if (!(ms > 0)) throw new UsageError(`--${flag} must be greater than zero`);
    return ms;
  };
  let maxBytes: number;
  try {
    maxBytes = parseByteSize('scrape-max-bytes', values['scrape-max-bytes'] as string);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return { maxBytes, connectTimeoutMs: duration('scrape-timeout'), stallTimeoutMs: duration('scrape-stall-timeout') };
}

export const topCommand: Subcommand = {
  summary: 'Show serving metrics per node class from the pods\' own /metrics: requests, TTFT p50/p95, tokens/s, errors',
  usage: 'kubectl slm top [NAME] [-n NS | -A] [--window 0s] [--scrape-timeout 5s] [--scrape-stall-timeout 5s] [--scrape-max-bytes 4Mi] [--direct]',
  options: {
    window: { type: 'string', default: '0s', value: '<duration>', help: 'rate over this window (two scrapes) instead of since each pod started' },
    'scrape-timeout': { type: 'string', default: `${SCRAPE_LIMITS.connectTimeoutMs / 1000}s`, value: '<duration>', help: "longest wait for each pod's whole /metrics read" },
    'scrape-stall-timeout': { type: 'string', default: `${SCRAPE_LIMITS.stallTimeoutMs / 1000}s`, value: '<duration>', help: 'longest wait for the next byte of a /metrics body' },
    'scrape-max-bytes': { type: 'string', default: `${SCRAPE_LIMITS.maxBytes / 1024 ** 2}Mi`, value: '<size>', help: 'largest /metrics body read from a pod' },
    direct: { type: 'boolean', default: false, help: "dial the pods' IPs instead of going through the API server's pods/proxy (inside the cluster network only)" },
  },
  async run(session, positionals, values) {
    if (positionals.length > 1) throw new UsageError('top takes at most one SLMDeployment name');
    const windowMs = parseDurationFlag('window', values['window'] as string);
    const limits = scrapeLimits(values);
    const direct = values['direct'] === true;
    const name = positionals[0];
    if (name !== undefined && session.allNamespaces) throw new UsageError('a resource cannot be retrieved by name across all namespaces');
    const client = await session.client();
    const namespace = session.allNamespaces ? undefined : await session.namespace();
    const slmds = name !== undefined ? [await getSlmd(client, namespace!, name)] : (await client.list<SlmdObject>(Resources.SLMDeployment, namespace ? { namespace } : {})).items;
    const byKey = new Map(slmds.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
    const pods = (await client.list<PodObject>(Resources.Pod, { ...(namespace ? { namespace } : {}), labelSelector: podSelector(name) })).items;
    const targets: Target[] = [];
    const ready = new Map<string, number>();
    for (const pod of pods) {
      const owner = byKey.get(`${pod.metadata.namespace}/${pod.metadata.labels?.[Labels.deployment]}`);
      if (!owner || !isServing(pod)) continue;
      const key = { namespace: owner.metadata.namespace ?? '', name: owner.metadata.name, nodeClass: nodeClassOf(pod) };
      const k = JSON.stringify(key);
      ready.set(k, (ready.get(k) ?? 0) + 1);
      const port = podPort(pod, METRICS_PORT_NAME, owner.spec.serving?.metricsPort);
      if (port !== undefined) targets.push({ ...key, pod: pod.metadata.name, port, url: `http://${hostPort(pod.status!.podIP!, port)}/metrics` });
    }
    if (ready.size === 0) {
      writeLine(session.ctx.stderr, `No Ready serving pods found${namespace ? ` in ${namespace} namespace` : ''}.`);
      return 0;
    }
    const transport = direct ? undefined : await session.pods();
    const scrapeOne = async (t: Target): Promise<PodCounters | undefined> => {
      const signal = AbortSignal.timeout(limits.connectTimeoutMs);
      try {
        const text = transport ? await transport.proxyGetText(t.namespace, t.pod, t.port, '/metrics', limits, signal) : await session.deps.fetchText(t.url, limits, signal);
        return podCounters(parseExposition(text));
      } catch (e) {
        const via = transport ? `port ${t.port} through the API server's pods/proxy` : t.url;
        writeLine(session.ctx.stderr, `warning: scraping pod ${t.namespace}/${t.pod} (${via}) failed: ${(e as Error).message}`);
        return undefined;
      }
    };
    // A fleet can have thousands of pods: scrape a bounded number at a time.
    const scrapeAll = async () => {
      const out: (PodCounters | undefined)[] = [];
      for (let i = 0; i < targets.length; i += SCRAPE_CONCURRENCY) out.push(...(await Promise.all(targets.slice(i, i + SCRAPE_CONCURRENCY).map(scrapeOne))));
      return out;
    };
    let counters = await scrapeAll();
    if (windowMs > 0) {
      const before = counters;
      await session.deps.sleep(windowMs);
      counters = (await scrapeAll()).map((after, i) => (after && before[i] ? counterDelta(before[i], after) : undefined));
    }
    const grouped = new Map<string, PodCounters[]>();
    targets.forEach((t, i) => {
      const k = JSON.stringify({ namespace: t.namespace, name: t.name, nodeClass: t.nodeClass });
      const c = counters[i];
      if (c) grouped.set(k, [...(grouped.get(k) ?? []), c]);
    });
    const rows = [...ready.entries()]
      .map(([k, n]) => summarize(JSON.parse(k) as { namespace: string; name: string; nodeClass: string }, n, grouped.get(k) ?? [], windowMs / 1000))
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name) || a.nodeClass.localeCompare(b.nodeClass));
    writeLine(session.ctx.stdout, topTable(rows, session.allNamespaces));
    return 0;
  },
};
