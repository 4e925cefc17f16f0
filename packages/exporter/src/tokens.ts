/** Generated-token totals of the local sidecars, read from their /metrics (Prometheus text format). */
import { OutboundError, type OutboundLimits, SCRAPE_LIMITS, fetchTextBounded, redactUrl, servingMetrics } from '@slmops/metrics';

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+\d+)?$/;

/** Sum of every sample of one counter in a text exposition (all label sets); undefined when the metric is absent. */
export function sumSamples(text: string, name: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = SAMPLE.exec(line.trim());
    if (!m || m[1] !== name) continue;
    const v = Number(m[3]);
    if (Number.isFinite(v)) sum = (sum ?? 0) + v;
  }
  return sum;
}

/** Fetches each URL; returns the generated-token total per URL that answered, and one error line per one that did not. */
export async function readSidecarTokens(
  urls: readonly string[],
  fetchText: (url: string) => Promise<string>,
): Promise<{ totals: Map<string, number>; errors: string[] }> {
  const totals = new Map<string, number>();
  const errors: string[] = [];
  await Promise.all(
    urls.map(async (url) => {
      try {
        const v = sumSamples(await fetchText(url), servingMetrics.generationTokens.name);
        // A sidecar that has served nothing yet has no sample: its total is 0.
        totals.set(url, v ?? 0);
      } catch (e) {
        // An OutboundError already names the (redacted) URL; anything else gets it here.
        errors.push(e instanceof OutboundError ? e.message : `${redactUrl(url)}: ${(e as Error).message}`);
      }
    }),
  );
  return { totals, errors };
}

/** One sidecar's /metrics text, within `limits` (byte cap, connect and stall timeouts); rejects with an OutboundError. */
export function fetchMetricsText(url: string, limits: OutboundLimits = SCRAPE_LIMITS): Promise<string> {
  return fetchTextBounded(url, limits);
}
