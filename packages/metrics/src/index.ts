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
  catalogue,
  resolveBuckets,
  servingMetrics,
} from './catalogue.js';
export { DROPPED_DEFAULT_METRICS, type InstrumentOf, type Instruments, type RegistryOptions, createInstruments, createRegistry } from './registry.js';
export { type HttpHandler, type MetricsServer, createHttpServer, listenHttp, metricsHandler, startMetricsServer } from './http.js';
export type { Registry } from 'prom-client';
