/**
 * Composition root of the sidecar: real model loading (@slmops/model), the engine on onnxruntime-node, the
 * hardware plugins, a JSON logger; `runSidecarMain` also owns signals and the exit code.
 */
import { type ThreadedEngineOptions, createThreadedEngine } from '@slmops/engine';
import { loadModel } from '@slmops/model';
import { type HardwarePlugin, createHostContext, createPluginHost } from '@slmops/plugin-sdk';
import { amd } from '@slmops/plugin-amd';
import { cpu } from '@slmops/plugin-cpu';
import { intel } from '@slmops/plugin-intel';
import { jetson } from '@slmops/plugin-jetson';
import { nvidia } from '@slmops/plugin-nvidia';
import { qualcomm } from '@slmops/plugin-qualcomm';
import { listSupportedBackends } from 'onnxruntime-node';
import { SIDECAR_USAGE, type SidecarConfig, parseSidecarArgs } from './config.js';
import { resolve } from 'node:path';
import { pluginProviderChain } from './execution-providers.js';
import { isUrl } from './model-source.js';
import { type Logger, createJsonLogger } from './log.js';
import { type SidecarDeps, type SidecarHandle, runSidecar } from './sidecar.js';

/** Hardware plugins this sidecar build knows, by name; `--plugin` picks one. */
export function knownPlugins(): HardwarePlugin[] {
  return [nvidia(), jetson(), intel(), amd(), qualcomm(), cpu()];
}

/** The production dependencies: model loading, engine, plugin chain and ORT's provider list. */
export function productionDeps(logger: Logger, plugins: HardwarePlugin[] = knownPlugins()): SidecarDeps {
  const host = createPluginHost(plugins);
  const availableProviders = listSupportedBackends().map((b) => b.name);
  return {
    logger,
    // Checks slm.json against the pinned digest and every file against slm.json before each load.
    loadModel: (path, opts) => loadModel(path, opts),
    // The engine computes on a worker thread, so gRPC and HTTP work overlaps decode steps (ADR 0007).
    createEngine: (model, { streamIntervalMs, ...opts }) =>
      createThreadedEngine(model as Parameters<typeof createThreadedEngine>[0], { ...(opts as ThreadedEngineOptions), relayIntervalMs: streamIntervalMs }),
    providerChain: (name) => pluginProviderChain(host.resolve(name), { ...createHostContext(), availableProviders }),
    availableProviders,
  };
}

/** Starts a sidecar with production dependencies (used by `slmops serve` and the slmops-sidecar binary). */
export function startSidecar(config: SidecarConfig, logger: Logger): Promise<SidecarHandle> {
  return runSidecar(config, productionDeps(logger));
}

/**
 * Runs until SIGTERM/SIGINT: then drains (health NOT_SERVING, in-flight streams finish within the grace
 * period) and resolves 0. A further signal during the drain is logged and changes nothing: the drain stays bounded
 * by the grace period (Ctrl-C reaches `slmops serve` and this process both, and kubelets may repeat SIGTERM).
 * Resolves 1 when the servers cannot start or the model cannot load. `--help`/`-h` prints usage on stdout and
 * resolves 0.
 */
export async function runSidecarMain(
  argv: string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: Record<string, string | undefined>; cwd?: string },
  opts: { signals?: NodeJS.EventEmitter; announce?: (s: SidecarHandle) => string } = {},
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(`Usage: ${SIDECAR_USAGE}\n`);
    return 0;
  }
  const signals = opts.signals ?? process;
  const config = parseSidecarArgs(argv, io.env);
  if (io.cwd && !isUrl(config.model)) config.model = resolve(io.cwd, config.model);
  const logger = createJsonLogger(io.stderr, { component: 'sidecar' });
  const sidecar = await startSidecar(config, logger);
  const announce = opts.announce ?? ((s) => JSON.stringify({ grpc: s.grpcAddress, metrics: `http://${s.metricsAddress}/metrics` }));
  io.stdout.write(`${announce(sidecar)}\n`);
  return new Promise<number>((resolve) => {
    let failed = false;
    let draining = false;
    const stop = (signal?: string) => {
      if (draining) {
        if (signal) logger.warn('signal received while draining; the drain goes on, bounded by the grace period', { signal, graceMs: config.graceMs });
        return;
      }
      draining = true;
      if (signal) logger.info('signal received; draining', { signal });
      // The handlers stay until the drain is over: without one, a second signal would kill the process mid-drain.
      void sidecar.shutdown().then(() => {
        for (const [s, h] of handlers) signals.off(s, h);
        resolve(failed ? 1 : 0);
      });
    };
    const handlers = (['SIGTERM', 'SIGINT'] as const).map((s) => [s, () => stop(s)] as const);
    for (const [s, h] of handlers) signals.on(s, h);
    sidecar.ready.catch(() => {
      failed = true;
      stop();
    });
  });
}
