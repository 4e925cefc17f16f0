import { parseArgs } from 'node:util';
import { PLUGIN_NAMES } from '@slmops/api';
import { type OutboundLimits, SCRAPE_LIMITS, parseByteSize, parseDurationMs } from '@slmops/metrics';

/** Everything the node exporter needs, parsed once from flags (and NODE_NAME) in the composition root. */
export interface ExporterConfig {
  nodeName: string;
  /** Host of the /metrics listener; "0.0.0.0" for the default ":9465". */
  host: string;
  port: number;
  modelCacheDir: string;
  /** Hourly cost of the node in the user's currency; undefined disables the cost figure. */
  nodeCostPerHour?: number;
  /** Plugin names in preference order (accelerator plugins are tried in this order; cpu always serves node metrics). */
  plugins: string[];
  /** /metrics URLs of the sidecars on this node, whose slmops_generation_tokens_total feeds the derived figures. */
  sidecarMetricsUrls: string[];
  /** Where the node's /sys and /proc are mounted (a DaemonSet mounts the host's under e.g. /host/sys). */
  sysfsRoot: string;
  procfsRoot: string;
  /** Length of the window the energy and cost per token are computed over. */
  windowSeconds: number;
  /** Limits of each read of a sidecar's /metrics (--scrape-max-bytes, --scrape-timeout, --scrape-stall-timeout). */
  scrapeLimits: OutboundLimits;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Every plugin this build knows (the list the CRD's spec.hardware.plugins enum has). */
export const ALL_PLUGINS = PLUGIN_NAMES;

export const EXPORTER_USAGE =
  'slmops exporter [--node-name name (env NODE_NAME)] [--metrics-bind-address :9465] [--model-cache-dir /var/lib/slmops/models] ' +
  '[--node-cost-per-hour 0.12] [--plugins nvidia,jetson,intel,amd,qualcomm,cpu] [--sidecar-metrics-url http://127.0.0.1:9464/metrics]... ' +
  '[--sysfs-root /sys] [--procfs-root /proc] [--window-seconds 60] [--scrape-max-bytes 4Mi] [--scrape-timeout 5s] [--scrape-stall-timeout 5s]';

/** Splits "host:port", ":port" or "[v6]:port"; an empty host means every interface. */
export function parseBindAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port > 65535) throw new ConfigError(`--metrics-bind-address: expected host:port or :port, got "${value}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** Parses the exporter's flags; only NODE_NAME is read from the environment (the downward API sets it). */
export function parseExporterArgs(argv: string[], env: Record<string, string | undefined> = {}): ExporterConfig {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      'node-name': { type: 'string' },
      'metrics-bind-address': { type: 'string' },
      'model-cache-dir': { type: 'string' },
      'node-cost-per-hour': { type: 'string' },
      plugins: { type: 'string' },
      'sidecar-metrics-url': { type: 'string', multiple: true },
      'sysfs-root': { type: 'string' },
      'procfs-root': { type: 'string' },
      'window-seconds': { type: 'string' },
      'scrape-max-bytes': { type: 'string' },
      'scrape-timeout': { type: 'string' },
      'scrape-stall-timeout': { type: 'string' },
    },
  });
  const nodeName = values['node-name'] ?? env['NODE_NAME'];
  if (!nodeName) throw new ConfigError('--node-name is required (or set NODE_NAME, e.g. from the downward API spec.nodeName)');
  const { host, port } = parseBindAddress(values['metrics-bind-address'] ?? ':9465');
  let nodeCostPerHour: number | undefined;
  if (values['node-cost-per-hour'] !== undefined) {
    nodeCostPerHour = Number(values['node-cost-per-hour']);
    if (!Number.isFinite(nodeCostPerHour) || nodeCostPerHour < 0 || values['node-cost-per-hour'].trim() === '') {
      throw new ConfigError(`--node-cost-per-hour: expected a non-negative number, got "${values['node-cost-per-hour']}"`);
    }
  }
  const plugins = (values.plugins ?? ALL_PLUGINS.join(','))
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const unknown = plugins.filter((p) => !(ALL_PLUGINS as readonly string[]).includes(p));
  if (unknown.length || !plugins.length) throw new ConfigError(`--plugins: unknown plugin(s) ${JSON.stringify(unknown)}; known: ${ALL_PLUGINS.join(', ')}`);
  const urls = values['sidecar-metrics-url'] ?? [];
  for (const u of urls) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(u).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw new ConfigError(`--sidecar-metrics-url: expected an http(s) URL, got "${u}"`);
  }
  const windowSeconds = Number(values['window-seconds'] ?? 60);
  if (!Number.isFinite(windowSeconds) || windowSeconds < 2 || windowSeconds > 3600) {
    throw new ConfigError(`--window-seconds: expected a number of seconds in [2, 3600], got "${values['window-seconds']}"`);
  }
  return {
    nodeName,
    host,
    port,
    modelCacheDir: values['model-cache-dir'] ?? '/var/lib/slmops/models',
    ...(nodeCostPerHour !== undefined ? { nodeCostPerHour } : {}),
    plugins: [...new Set(plugins)],
    sidecarMetricsUrls: urls,
    sysfsRoot: values['sysfs-root'] ?? '/sys',
    procfsRoot: values['procfs-root'] ?? '/proc',
    windowSeconds,
    scrapeLimits: {
      maxBytes: limit(() => (values['scrape-max-bytes'] === undefined ? SCRAPE_LIMITS.maxBytes : parseByteSize('scrape-max-bytes', values['scrape-max-bytes']))),
      connectTimeoutMs: limit(() => (values['scrape-timeout'] === undefined ? SCRAPE_LIMITS.connectTimeoutMs : parseDurationMs('scrape-timeout', values['scrape-timeout']))),
      stallTimeoutMs: limit(() => (values['scrape-stall-timeout'] === undefined ? SCRAPE_LIMITS.stallTimeoutMs : parseDurationMs('scrape-stall-timeout', values['scrape-stall-timeout']))),
    },
  };
}

/** Runs a shared limit parser, turning its error (which names the flag) into a ConfigError. */
function limit(parse: () => number): number {
  try {
    return parse();
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}
