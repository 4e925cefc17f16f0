import { type EPConfig, type ProviderStatus } from '@slmops/plugin-sdk';
import { type HttpHandler, type MetricsServer, type Registry, createRegistry, metricsHandler, startMetricsServer } from '@slmops/metrics';
import type { Server } from '@grpc/grpc-js';
import { type SidecarConfig, choosePrecision } from './config.js';
import { openWithFallback, parseProviderList } from './execution-providers.js';
import { bindGrpc, createGrpcServer } from './grpc/server.js';
import { openAiHandler } from './http/openai.js';
import { probeHandler } from './http/probes.js';
import type { Engine } from './inference/engine-port.js';
import { InferenceService } from './inference/service.js';
import type { Logger } from './log.js';
import { type ServingInstruments, createServingInstruments, metricsObserver, recordModel, refreshSchedulerGauges } from './metrics.js';
import { redactUrl, resolveModelSource } from './model-source.js';

/** What the composition root hands the sidecar: real model loading and engine creation, or test doubles. */
export interface SidecarDeps {
  logger: Logger;
  /** @slmops/model loadModel (verifies every file's sha256 against slm.json). */
  loadModel(path: string, opts: { cacheDir: string }): Promise<unknown>;
  /** @slmops/engine createEngine on one execution provider. */
  createEngine(model: unknown, opts: { executionProviders: string[]; precision?: string; maxBatchSize: number; maxQueue: number; intraOpThreads?: number; streamIntervalMs: number }): Promise<Engine>;
  /** Provider chain of the selected hardware plugin (cpu plugin: [cpu]). */
  providerChain(plugin: string): Promise<{ chain: EPConfig[]; probed?: ProviderStatus[] }>;
  /** Providers the ONNX Runtime build has. */
  availableProviders: readonly string[];
  knownProviders?: readonly string[];
  registry?: Registry;
  serverVersion?: string;
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
  const service = new InferenceService({ observer: observer.observer, defaultMaxTokens: config.defaultMaxTokens });
  service.onStateChange((s) => logger.info('serving state changed', { state: s }));

  const { server, health } = createGrpcServer({ service, logger, ...(deps.serverVersion ? { serverVersion: deps.serverVersion } : {}) });
  const grpcPort = await bindGrpc(server, hostPort(config.host, config.port));

  const scrape: HttpHandler = async (req, res) => {
    if (instruments && modelLabels) refreshSchedulerGauges(instruments, modelLabels, service.stats());
    return metricsHandler(registry)(req, res);
  };
  let http: MetricsServer;
  try {
    http = await startMetricsServer({ registry, port: config.metricsPort, host: config.metricsHost, handlers: [probeHandler(service), openAiHandler(service), scrape] });
  } catch (e) {
    server.forceShutdown();
    throw e;
  }
  logger.info('listening', { grpc: hostPort(config.host, grpcPort), http: http.address });

  const ready = (async () => {
    try {
      const source = await resolveModelSource(config.model, {
        cacheDir: config.cacheDir,
        ...(config.digest ? { digest: config.digest } : {}),
        onProgress: ({ bytes, totalBytes }) =>
          logger.info('downloading model', { source: redactUrl(config.model), bytes, ...(totalBytes ? { totalBytes, percent: Math.floor((bytes / totalBytes) * 100) } : {}) }),
      });
      const model = await deps.loadModel(source.path, { cacheDir: config.cacheDir });
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
      service.setModel(engine, { digest: source.digest, fallbacks, maxBatchSize: config.maxBatchSize, maxQueue: config.maxQueue });
      recordModel(instruments, service.info(), fallbacks);
      logger.info('model serving', { model: m.name, version: m.version, digest: source.digest, precision: engine.precision, executionProvider: engine.executionProvider });
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
