import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { type BucketContext, type MetricDefinition, resolveBuckets } from './catalogue.js';

/**
 * prom-client default metrics that `promtool check metrics` rejects ("non-counter metrics should not have
 * _total suffix"). Each is the sum of a per-type gauge that stays (e.g. sum(nodejs_active_handles)).
 */
export const DROPPED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

export interface RegistryOptions {
  /** Register prom-client's process and Node.js runtime metrics (minus DROPPED_DEFAULT_METRICS). Default true. */
  defaultMetrics?: boolean;
}

/** A fresh registry, never prom-client's global one, so two servers in one process cannot collide. */
export function createRegistry(opts: RegistryOptions = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  }
  return registry;
}

type LabelsOf<D> = D extends MetricDefinition<infer L> ? L : never;
/** The prom-client instrument a definition yields. */
export type InstrumentOf<D extends MetricDefinition> = D['type'] extends 'counter'
  ? Counter<LabelsOf<D>>
  : D['type'] extends 'gauge'
    ? Gauge<LabelsOf<D>>
    : Histogram<LabelsOf<D>>;
export type Instruments<S extends Record<string, MetricDefinition>> = { [K in keyof S]: InstrumentOf<S[K]> };

/** Creates and registers one instrument per definition of a catalogue section (e.g. `servingMetrics`). */
export function createInstruments<S extends Record<string, MetricDefinition>>(
  registry: Registry,
  section: S,
  ctx: BucketContext,
): Instruments<S> {
  const out: Record<string, unknown> = {};
  for (const [key, d] of Object.entries(section)) {
    const common = { name: d.name, help: d.help, labelNames: [...d.labelNames], registers: [registry] };
    out[key] =
      d.type === 'counter'
        ? new Counter(common)
        : d.type === 'gauge'
          ? new Gauge(common)
          : new Histogram({ ...common, buckets: resolveBuckets(d, ctx) });
  }
  return out as Instruments<S>;
}
