/**
 * Composition root of the node exporter (`slmops exporter`, the DaemonSet's `slmops-exporter`): the six hardware
 * plugins, the node's /sys and /proc, the local sidecars' /metrics and the /metrics server on :9465.
 */
import { performance } from 'node:perf_hooks';
import { startMetricsServer } from '@slmops/metrics';
import type { HardwarePlugin } from '@slmops/plugin-sdk';
import { amd } from '@slmops/plugin-amd';
import { cpu } from '@slmops/plugin-cpu';
import { intel } from '@slmops/plugin-intel';
import { jetson } from '@slmops/plugin-jetson';
import { nvidia } from '@slmops/plugin-nvidia';
import { qualcomm } from '@slmops/plugin-qualcomm';
import { EXPORTER_USAGE, parseExporterArgs } from './config.js';
import { createExporter } from './exporter.js';
import { createNodeHostContext } from './host.js';
import { fetchMetricsText } from './tokens.js';

/** Every hardware plugin this exporter build knows; `--plugins` picks and orders them. */
export function knownPlugins(): HardwarePlugin[] {
  return [nvidia(), jetson(), intel(), amd(), qualcomm(), cpu()];
}

export interface ExporterIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

/**
 * Runs until SIGTERM/SIGINT, then closes the server and resolves 0. Writes one JSON line to stdout once
 * listening: {"metrics": "http://host:port/metrics", "node": …, "plugin": …}. Throws ConfigError on bad flags.
 * `--help`/`-h` prints usage on stdout and resolves 0.
 */
export async function runExporterMain(argv: string[], io: ExporterIo, opts: { signals?: NodeJS.EventEmitter } = {}): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(`Usage: ${EXPORTER_USAGE}\n`);
    return 0;
  }
  const signals = opts.signals ?? process;
  const config = parseExporterArgs(argv, io.env);
  const log = (level: string, msg: string, fields: Record<string, unknown> = {}) =>
    io.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, component: 'exporter', msg, ...fields })}\n`);
  const exporter = await createExporter(config, {
    plugins: knownPlugins(),
    host: createNodeHostContext(config),
    fetchText: (url) => fetchMetricsText(url, config.scrapeLimits),
    now: () => performance.now() / 1000,
    warn: (msg, fields) => log('warn', msg, fields),
  });
  const server = await startMetricsServer({ registry: exporter.registry, port: config.port, host: config.host, handlers: [exporter.refreshHandler] });
  log('info', 'node exporter started', { node: config.nodeName, plugin: exporter.plugin, families: exporter.families, address: server.address });
  io.stdout.write(`${JSON.stringify({ metrics: `http://${server.address}/metrics`, node: config.nodeName, plugin: exporter.plugin })}\n`);

  let sampling = false;
  const tick = () => {
    if (sampling) return; // a slow sidecar must not pile up samples
    sampling = true;
    exporter
      .sample()
      .catch((e: Error) => log('warn', 'sample failed', { error: e.message }))
      .finally(() => (sampling = false));
  };
  tick();
  const timer = setInterval(tick, (config.windowSeconds * 1000) / 4);
  return new Promise<number>((resolve) => {
    const stop = () => {
      signals.off('SIGTERM', stop);
      signals.off('SIGINT', stop);
      clearInterval(timer);
      void server.close().then(() => resolve(0));
    };
    signals.on('SIGTERM', stop);
    signals.on('SIGINT', stop);
  });
}
