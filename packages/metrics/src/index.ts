export {
  type BucketContext,
  type MetricDefinition,
  type MetricType,
  ITL_BUCKETS,
  REQUEST_LATENCY_BUCKETS,
  TTFT_BUCKETS,
  buckets125,
  counter,
  gauge,
  histogram,
  resolveBuckets,
  servingMetrics,
} from './catalogue.js';
export { RECONCILE_BUCKETS, operatorMetrics } from './operator-catalogue.js';
export { nodeMetrics, pluginCollectorMetrics } from './node-catalogue.js';
export { catalogue } from './all.js';
export { DROPPED_DEFAULT_METRICS, type InstrumentOf, type Instruments, type RegistryOptions, createInstruments, createRegistry } from './registry.js';
export { type HttpHandler, type MetricsServer, createHttpServer, listenHttp, metricsHandler, startMetricsServer } from './http.js';
export type { Registry } from 'prom-client';
export * from './parse.js';
export {
  DOWNLOAD_LIMITS,
  type OutboundErrorKind,
  type OutboundLimits,
  type OutboundRequest,
  type OutboundResponse,
  OutboundError,
  SCRAPE_LIMITS,
  fetchTextBounded,
  openOutbound,
  parseByteSize,
  parseDurationMs,
  redactUrl,
  redactUrlsIn,
} from './outbound.js';
