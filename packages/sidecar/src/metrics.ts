import { type Instruments, type Registry, createInstruments, servingMetrics } from '@slmops/metrics';
import type { EngineStats } from './inference/engine-port.js';
import type { ModelInfo, ProviderFallback, ServingObserver } from './inference/service.js';

export type ServingInstruments = Instruments<typeof servingMetrics>;

/** vLLM's finished_reason values where ours differ (cancelled requests are "abort" on dashboards). */
const finishedReasonLabel = (r: string) => (r === 'cancelled' ? 'abort' : r);

/** Registers the serving metrics of the catalogue on a registry, sized for the model's context. */
export function createServingInstruments(registry: Registry, maxModelLen: number): ServingInstruments {
  return createInstruments(registry, servingMetrics, { maxModelLen });
}

/** A ServingObserver that records into the catalogue's instruments for one model. */
export function metricsObserver(m: ServingInstruments, model: { name: string; version: string }): ServingObserver {
  const l = { model_name: model.name, model_version: model.version };
  const ttft = m.timeToFirstToken.labels(l);
  const itl = m.interTokenLatency.labels(l);
  return {
    accepted(req) {
      m.requestMaxTokens.observe(l, req.maxTokens);
    },
    firstToken(s) {
      ttft.observe(s);
    },
    token(s) {
      itl.observe(s);
    },
    finished(d) {
      const sec = (ms: number) => ms / 1000;
      m.requestSuccess.inc({ ...l, finished_reason: finishedReasonLabel(d.finishReason) });
      m.promptTokens.inc(l, d.promptTokens);
      m.generationTokens.inc(l, d.completionTokens);
      m.requestPromptTokens.observe(l, d.promptTokens);
      m.requestGenerationTokens.observe(l, d.completionTokens);
      m.e2eLatency.observe(l, d.e2eSeconds);
      m.queueTime.observe(l, sec(d.timings.queueMs));
      m.prefillTime.observe(l, sec(d.timings.prefillMs));
      m.decodeTime.observe(l, sec(d.timings.decodeMs));
      m.inferenceTime.observe(l, sec(d.timings.prefillMs + d.timings.decodeMs));
      if (d.completionTokens > 1) m.timePerOutputToken.observe(l, sec(d.timings.decodeMs) / (d.completionTokens - 1));
    },
    failed(code) {
      m.requestFailure.inc({ ...l, code });
    },
  };
}

/** Copies the engine's scheduler figures into the gauges; called right before every scrape. */
export function refreshSchedulerGauges(m: ServingInstruments, model: { name: string; version: string }, stats: EngineStats): void {
  const l = { model_name: model.name, model_version: model.version };
  m.requestsRunning.set(l, stats.running);
  m.requestsWaiting.set(l, stats.waiting);
  m.kvCacheUsage.set(l, stats.kvCacheUsage);
}

/** Publishes the loaded model's info gauge and counts each execution-provider fallback. */
export function recordModel(m: ServingInstruments, info: ModelInfo, fallbacks: ProviderFallback[]): void {
  m.modelInfo.set({ name: info.name, version: info.version, digest: info.digest, precision: info.precision, execution_provider: info.executionProvider }, 1);
  for (const f of fallbacks) m.epFallback.inc({ from: f.from, to: f.to });
}
