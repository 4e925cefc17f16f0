/**
 * The single metric catalogue of SLMOps: every name, help text, type, label set and bucket layout that the
 * sidecar, operator and node exporter expose. Apps create instruments only from these definitions, so a
 * dashboard or alert can never refer to a name that drifted.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Context some bucket layouts depend on (vLLM sizes token histograms by the model's context length). */
export interface BucketContext {
  maxModelLen: number;
}

export interface MetricDefinition<L extends string = string> {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly L[];
  /** Histogram upper bounds, strictly increasing; a function when they depend on the model. */
  readonly buckets?: readonly number[] | ((ctx: BucketContext) => number[]);
}

/** vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, … up to and including max where it lands on the grid. */
export function buckets125(max: number): number[] {
  const out: number[] = [];
  for (let exp = 1; ; exp *= 10) {
    for (const m of [1, 2, 5]) {
      const v = m * exp;
      if (v > max) return out;
      out.push(v);
    }
  }
}

/** vLLM time_to_first_token_seconds buckets. */
export const TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560,
] as const;
/** vLLM inter_token_latency_seconds / request_time_per_output_token_seconds buckets. */
export const ITL_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
] as const;
/** vLLM request latency buckets (e2e, queue, inference, prefill, decode). */
export const REQUEST_LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680,
] as const;

const M = ['model_name', 'model_version'] as const;
type ModelLabel = (typeof M)[number];

type Def<L extends string, T extends MetricType> = MetricDefinition<L> & { readonly type: T };
const kind =
  <T extends MetricType>(type: T) =>
  <L extends string>(d: Omit<MetricDefinition<L>, 'type'>): Def<L, T> => ({ ...d, type });
/** Builders that keep the metric type in the definition's static type, so instruments are typed. */
export const counter = kind('counter');
export const gauge = kind('gauge');
export const histogram = kind('histogram');

/** Serving metrics of the sidecar: vLLM V1's set under the `slmops_` prefix, same semantics and buckets. */
export const servingMetrics = {
  requestsRunning: gauge<ModelLabel>({ name: 'slmops_num_requests_running', help: 'Requests in decode batches (vLLM num_requests_running).', labelNames: M }),
  requestsWaiting: gauge<ModelLabel>({ name: 'slmops_num_requests_waiting', help: 'Requests accepted and waiting for a batch slot (vLLM num_requests_waiting).', labelNames: M }),
  kvCacheUsage: gauge<ModelLabel>({ name: 'slmops_kv_cache_usage_perc', help: 'Fraction of KV cache positions in use across batch slots, 0..1 (1 = 100%).', labelNames: M }),
  promptTokens: counter<ModelLabel>({ name: 'slmops_prompt_tokens_total', help: 'Prefill tokens processed.', labelNames: M }),
  generationTokens: counter<ModelLabel>({ name: 'slmops_generation_tokens_total', help: 'Tokens generated.', labelNames: M }),
  requestSuccess: counter<ModelLabel | 'finished_reason'>({ name: 'slmops_request_success_total', help: 'Requests that finished, by finish reason (stop, length, eos, context, abort).', labelNames: [...M, 'finished_reason'] }),
  requestFailure: counter<ModelLabel | 'code'>({ name: 'slmops_request_failure_total', help: 'Requests that ended in an error, by gRPC status code name.', labelNames: [...M, 'code'] }),
  timeToFirstToken: histogram<ModelLabel>({ name: 'slmops_time_to_first_token_seconds', help: 'Time from request arrival to the first generated token.', labelNames: M, buckets: TTFT_BUCKETS }),
  interTokenLatency: histogram<ModelLabel>({ name: 'slmops_inter_token_latency_seconds', help: 'Time between consecutive generated tokens of a request.', labelNames: M, buckets: ITL_BUCKETS }),
  timePerOutputToken: histogram<ModelLabel>({ name: 'slmops_request_time_per_output_token_seconds', help: 'Mean decode time per output token of a request.', labelNames: M, buckets: ITL_BUCKETS }),
  e2eLatency: histogram<ModelLabel>({ name: 'slmops_e2e_request_latency_seconds', help: 'End-to-end request latency.', labelNames: M, buckets: REQUEST_LATENCY_BUCKETS }),
  queueTime: histogram<ModelLabel>({ name: 'slmops_request_queue_time_seconds', help: 'Time a request waited for a batch slot.', labelNames: M, buckets: REQUEST_LATENCY_BUCKETS }),
  inferenceTime: histogram<ModelLabel>({ name: 'slmops_request_inference_time_seconds', help: 'Time a request spent in prefill and decode.', labelNames: M, buckets: REQUEST_LATENCY_BUCKETS }),
  prefillTime: histogram<ModelLabel>({ name: 'slmops_request_prefill_time_seconds', help: 'Prefill time of a request.', labelNames: M, buckets: REQUEST_LATENCY_BUCKETS }),
  decodeTime: histogram<ModelLabel>({ name: 'slmops_request_decode_time_seconds', help: 'Decode time of a request.', labelNames: M, buckets: REQUEST_LATENCY_BUCKETS }),
  requestPromptTokens: histogram<ModelLabel>({ name: 'slmops_request_prompt_tokens', help: 'Prompt length of a request in tokens.', labelNames: M, buckets: (c) => buckets125(c.maxModelLen) }),
  requestGenerationTokens: histogram<ModelLabel>({ name: 'slmops_request_generation_tokens', help: 'Generated tokens of a request.', labelNames: M, buckets: (c) => buckets125(c.maxModelLen) }),
  requestMaxTokens: histogram<ModelLabel>({ name: 'slmops_request_params_max_tokens', help: 'max_tokens asked for by a request.', labelNames: M, buckets: (c) => buckets125(c.maxModelLen) }),
  modelInfo: gauge<'name' | 'version' | 'digest' | 'precision' | 'execution_provider'>({ name: 'slmops_model_info', help: 'The loaded model; always 1.', labelNames: ['name', 'version', 'digest', 'precision', 'execution_provider'] }),
  epFallback: counter<'from' | 'to'>({ name: 'slmops_ep_fallback_total', help: 'Execution providers that could not be used and the provider used instead.', labelNames: ['from', 'to'] }),
} as const;


/** Concrete bucket bounds of a histogram definition for a context. */
export function resolveBuckets(d: MetricDefinition, ctx: BucketContext): number[] {
  if (d.type !== 'histogram') throw new Error(`${d.name} is a ${d.type}, not a histogram`);
  if (!d.buckets) throw new Error(`${d.name} has no buckets`);
  return typeof d.buckets === 'function' ? d.buckets(ctx) : [...d.buckets];
}
