import { type EPConfig, type ProviderStatus } from '@slmops/plugin-sdk';
import { type HttpHandler, type MetricsServer, type Registry, createRegistry, metricsHandler, startMetricsServer } from '@slmops/metrics';
import type { Server } from '@grpc/grpc-js';
import { type SidecarConfig, choosePrecision } from './config.js';
import { openWithFallback, parseProviderList } from './execution-providers.js';
import { bindGrpc, createGrpcServer } from './grpc/server.js';
import { openAiHandler } from './http/openai.js';
import { probeHandler } from './http/probes.js';
import type { Engine } from './inference/engine-port.js';
import { InferenceService, type RequestRecord } from './inference/service.js';
import type { Logger } from './log.js';
import { type ServingInstruments, createServingInstruments, metricsObserver, recordModel, refreshSchedulerGauges } from './metrics.js';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DOWNLOAD_RETRY, ModelSourceError, type ResolvedSource, type RetryPolicy, removeStaleDownloads, resolveModelSource, retryDelayMs, shownSource } from './model-source.js';

/** What the composition root hands the sidecar: real model loading and engine creation, or test doubles. */
export interface SidecarDeps {
  logger: Logger;
  /** @slmops/model loadModel (verifies every file's sha256 against slm.json, and slm.json against `digest` when given). */
  loadModel(path: string, opts: { cacheDir: string; digest?: string; onWarning?: (msg: string) => void }): Promise<unknown>;
  /** @slmops/engine createEngine on one execution provider. */
  createEngine(
    model: unknown,
    opts: { executionProviders: string[]; precision?: string; maxBatchSize: number; maxQueue: number; intraOpThreads?: number; streamIntervalMs: number; kvPoolMaxBytes?: number; cpuMemArena?: boolean },
  ): Promise<Engine>;
  /** Provider chain of the selected hardware plugin (cpu plugin: [cpu]). */
  providerChain(plugin: string): Promise<{ chain: EPConfig[]; probed?: ProviderStatus[] }>;
  /** Providers the ONNX Runtime build has. */
  availableProviders: readonly string[];
  knownProviders?: readonly string[];
  registry?: Registry;
  serverVersion?: string;
  /** Backoff between attempts of a model download that failed in a way that may pass (default DOWNLOAD_RETRY). */
  downloadRetry?: RetryPolicy;
}

export interface SidecarHandle {
  service: InferenceService;
  grpcServer: Server;
  /** host:port of the gRPC server. */
  grpcAddress: string;
  grpcPort: number;
  metricsAddress: string;
  metricsPort: number;
  registry: Registry;
  /** Resolves when the model serves; rejects with the load error (the servers stay up, NOT_SERVING). */
  ready: Promise<void>;
  /** Graceful stop: NOT_SERVING, no new work, in-flight finishes within graceMs, servers closed. Idempotent. */
  shutdown(graceMs?: number): Promise<{ cancelled: number }>;
}

const hostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** Starts the gRPC and HTTP servers at once (health NOT_SERVING), then loads and verifies the model. */
export async function runSidecar(config: SidecarConfig, deps: SidecarDeps): Promise<SidecarHandle> {
  const { logger } = deps;
  const registry = deps.registry ?? createRegistry();
  let instruments: ServingInstruments | undefined;
  let modelLabels: { name: string; version: string } | undefined;
  const observer = metricsObserverProxy();
  const service = new InferenceService({
    observer: observer.observer,
    defaultMaxTokens: config.defaultMaxTokens,
    ...(config.maxPromptBytes !== undefined ? { maxPromptBytes: config.maxPromptBytes } : {}),
    // Sizes, timings and codes only: a RequestRecord has no field that could hold text or token ids.
    ...(config.requestLogging === 'metadata' ? { requestLog: (r: RequestRecord) => logger.info('request', { ...r }) } : {}),
  });
  service.onStateChange((s) => logger.info('serving state changed', { state: s }));

  // Why the model is not serving yet (a download being retried), for /readyz; no secrets (URLs are redacted).
  const loadDetail: { current?: string } = {};
  const { server, health } = createGrpcServer({ service, logger, ...(deps.serverVersion ? { serverVersion: deps.serverVersion } : {}) });
  const grpcPort = await bindGrpc(server, hostPort(config.host, config.port));

  const scrape: HttpHandler = async (req, res) => {
    if (instruments && modelLabels) refreshSchedulerGauges(instruments, modelLabels, service.stats());
    return metricsHandler(registry)(req, res);
  };
  let http: MetricsServer;
  try {
    http = await startMetricsServer({ registry, port: config.metricsPort, host: config.metricsHost, handlers: [probeHandler(service, () => loadDetail.current), openAiHandler(service), scrape] });
  } catch (e) {
    server.forceShutdown();
    throw e;
  }
  logger.info('listening', { grpc: hostPort(config.host, grpcPort), http: http.address });

  // Aborted by shutdown: a download or a wait between attempts stops at once.
  const loading = new AbortController();
  const ready = (async () => {
    try {
      const loaded = await loadWithRetries(config, deps, loading.signal, (d) => (loadDetail.current = d));
      if (!loaded) return;
      const { model, digest } = loaded;
      const precision = choosePrecision(config.precisions, variantsOf(model));
      const { chain, probed } = config.executionProviders
        ? { chain: parseProviderList(config.executionProviders, deps.knownProviders ?? ['tensorrt', 'cuda', 'openvino', 'migraphx', 'rocm', 'qnn', 'webgpu', 'xnnpack', 'dml', 'coreml', 'cpu']), probed: undefined }
        : await deps.providerChain(config.plugin);
      const { engine, fallbacks } = await openWithFallback({
        chain,
        availableProviders: deps.availableProviders,
        ...(probed ? { probed } : {}),
        open: (ep) =>
          deps.createEngine(model, {
            executionProviders: [ep.name],
            maxBatchSize: config.maxBatchSize,
            maxQueue: config.maxQueue,
            streamIntervalMs: config.streamIntervalMs,
            ...(precision ? { precision } : {}),
            ...(config.intraOpThreads ? { intraOpThreads: config.intraOpThreads } : {}),
            ...(config.kvPoolMaxBytes !== undefined ? { kvPoolMaxBytes: config.kvPoolMaxBytes } : {}),
            ...(config.cpuMemArena === false ? { cpuMemArena: false } : {}),
          }),
      });
      for (const f of fallbacks) logger.warn('execution provider fallback', { from: f.from, to: f.to, reason: f.reason });
      if (service.state !== 'loading') {
        await engine.close();
        return;
      }
      const m = engine.model.manifest;
      modelLabels = { name: m.name, version: m.version };
      instruments = createServingInstruments(registry, engine.contextLength ?? m.contextLength);
      observer.set(metricsObserver(instruments, modelLabels));
      service.setModel(engine, { digest, fallbacks, maxBatchSize: config.maxBatchSize, maxQueue: config.maxQueue });
      recordModel(instruments, service.info(), fallbacks);
      logger.info('model serving', { model: m.name, version: m.version, digest, precision: engine.precision, executionProvider: engine.executionProvider });
    } catch (e) {
      service.setFailed();
      logger.error('model load failed', { error: (e as Error).message });
      throw e;
    }
  })();
  ready.catch(() => {});

  let stopping: Promise<{ cancelled: number }> | undefined;
  const shutdown = (graceMs = config.graceMs) =>
    (stopping ??= (async () => {
      loading.abort();
      logger.info('draining', { inflight: service.inflight, graceMs });
      const cancelled = await service.drain(graceMs);
      health.closeWatches();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await http.close();
      logger.info('stopped', { cancelled });
      return { cancelled };
    })());

  return {
    service,
    grpcServer: server,
    grpcAddress: hostPort(config.host, grpcPort),
    grpcPort,
    metricsAddress: http.address,
    metricsPort: http.port,
    registry,
    ready,
    shutdown,
  };
}

/**
 * Resolves, loads and verifies the model. A download failure that may pass (timeout, stall, network, HTTP 5xx) is
 * logged and retried with capped exponential backoff while health stays NOT_SERVING; a cached download that fails
 * verification is removed and fetched again. Resolves undefined when `signal` (shutdown) aborts.
 */
async function loadWithRetries(
  config: SidecarConfig,
  deps: SidecarDeps,
  signal: AbortSignal,
  setDetail: (detail: string | undefined) => void,
): Promise<{ source: ResolvedSource; model: unknown; digest: string } | undefined> {
  const { logger } = deps;
  const shown = shownSource(config.model);
  const removed = await removeStaleDownloads(config.cacheDir);
  if (removed.length) logger.info('removed stale download temp files', { cacheDir: config.cacheDir, files: removed });
  const warn = (msg: string) => logger.warn('model package', { warning: msg });
  for (let attempt = 1; ; attempt++) {
    try {
      const source = await resolveModelSource(config.model, {
        cacheDir: config.cacheDir,
        ...(config.digest ? { digest: config.digest } : {}),
        signal,
        ...(config.downloadLimits ? { limits: config.downloadLimits } : {}),
        onProgress: ({ bytes, totalBytes }) =>
          logger.info('downloading model', { source: shown, bytes, ...(totalBytes ? { totalBytes, percent: Math.floor((bytes / totalBytes) * 100) } : {}) }),
      });
      try {
        const model = await deps.loadModel(source.path, { cacheDir: config.cacheDir, ...(source.digest ? { digest: source.digest } : {}), onWarning: warn });
        // The pin when one was given (a tar digest of the old meaning stays what the operator pinned), else the package's own.
        setDetail(undefined);
        return { source, model, digest: source.digest ?? (model as { digest?: string } | undefined)?.digest ?? '' };
      } catch (e) {
        if (!source.cached) throw e;
        // A download is kept under its pinned digest: one that does not load or verify must not be reused.
        await rm(source.path, { force: true });
        const err = new ModelSourceError(`${shown}: ${(e as Error).message}`, { cause: e });
        // Reused from the cache (not fetched just now): it was damaged there, so fetch it again.
        if (source.archiveDigest !== undefined || signal.aborted) throw err;
        logger.warn('cached model package failed verification; downloading it again', { source: shown, error: err.message });
        continue;
      }
    } catch (e) {
      if (signal.aborted) return undefined;
      if (!(e instanceof ModelSourceError && e.retryable)) throw e;
      const delayMs = retryDelayMs(attempt, deps.downloadRetry ?? DOWNLOAD_RETRY);
      logger.warn('model download failed; retrying', { source: shown, error: e.message, attempt, retryInMs: delayMs });
      setDetail(`attempt ${attempt} failed, retrying in ${delayMs} ms: ${e.message}`);
      try {
        await sleep(delayMs, undefined, { signal });
      } catch {
        return undefined;
      }
    }
  }
}

/** The observer exists before the model (and so the metric buckets) is known; it forwards once set. */
function metricsObserverProxy() {
  let target: ReturnType<typeof metricsObserver> | undefined;
  return {
    set(t: ReturnType<typeof metricsObserver>) {
      target = t;
    },
    observer: {
      accepted: (r: { maxTokens: number; promptTokens: number }) => target?.accepted(r),
      firstToken: (s: number) => target?.firstToken(s),
      token: (s: number) => target?.token(s),
      finished: (d: Parameters<ReturnType<typeof metricsObserver>['finished']>[0]) => target?.finished(d),
      failed: (c: string) => target?.failed(c),
    },
  };
}

/** The precisions a loaded package offers (slm.json variants); empty when the port's model has no manifest. */
function variantsOf(model: unknown): string[] {
  const variants = (model as { manifest?: { variants?: Array<{ precision: string }> } } | undefined)?.manifest?.variants;
  return Array.isArray(variants) ? variants.map((v) => v.precision) : [];
}
