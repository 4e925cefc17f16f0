import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { DOWNLOAD_LIMITS, type OutboundLimits, parseByteSize, parseDurationMs } from '@slmops/metrics';

/** Everything the sidecar needs to start, parsed once from flags (and env defaults) in the composition root. */
export interface SidecarConfig {
  /** Folder, .slm.tar, or http(s)/file URL of an SLM package. */
  model: string;
  /** sha256:<hex>; required for URLs. */
  digest?: string;
  host: string;
  port: number;
  metricsHost: string;
  metricsPort: number;
  cacheDir: string;
  /** Acceptable variants, best first (`--precision int8,fp32`); the first one the package has is served. */
  precisions?: Precision[];
  /** Explicit provider chain; overrides the plugin's. */
  executionProviders?: string;
  /** Hardware plugin whose provider chain is used; default cpu. */
  plugin: string;
  maxBatchSize: number;
  maxQueue: number;
  defaultMaxTokens: number;
  intraOpThreads?: number;
  /** How long a request's tokens after its first may wait to be sent together with the next ones (ms). */
  streamIntervalMs: number;
  /** How long in-flight requests may run after SIGTERM. */
  graceMs: number;
  /** Longest prompt text, in UTF-8 bytes, accepted before any tokenization (`--max-prompt-bytes`, default 256Ki). */
  maxPromptBytes?: number;
  /** `metadata`: one JSON log line per finished request with sizes, timings and codes, never text (`--request-logging`). */
  requestLogging?: RequestLogging;
  /** Most bytes of free KV-cache buffers the engine keeps for reuse (`--kv-pool-max-bytes`, default 64Mi). */
  kvPoolMaxBytes?: number;
  /** false: ONNX Runtime's CPU memory arena off (`--cpu-mem-arena off`; default on). */
  cpuMemArena?: boolean;
  /** Byte cap, connect and stall timeouts of a model download (--download-max-bytes, --download-connect-timeout, --download-stall-timeout); default DOWNLOAD_LIMITS. */
  downloadLimits?: OutboundLimits;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const int = (flag: string, v: string | undefined, def: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`--${flag}: expected an integer in [${min}, ${max}], got "${v}"`);
  return n;
};

/** Runs a shared limit parser, turning its error (which names the flag) into a ConfigError. */
const limit = (parse: () => number): number => {
  try {
    return parse();
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
};

/** Every flag the sidecar parses; SIDECAR_USAGE names each (a test holds them together). */
export const SIDECAR_FLAGS = {
  model: { type: 'string', short: 'm' },
  digest: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
  'metrics-host': { type: 'string' },
  'metrics-port': { type: 'string' },
  'cache-dir': { type: 'string' },
  precision: { type: 'string' },
  plugin: { type: 'string' },
  'execution-providers': { type: 'string' },
  'max-batch-size': { type: 'string' },
  'max-queue': { type: 'string' },
  'default-max-tokens': { type: 'string' },
  threads: { type: 'string' },
  'stream-interval': { type: 'string' },
  'grace-period': { type: 'string' },
  'download-connect-timeout': { type: 'string' },
  'download-stall-timeout': { type: 'string' },
  'download-max-bytes': { type: 'string' },
  'max-prompt-bytes': { type: 'string' },
  'request-logging': { type: 'string' },
  'kv-pool-max-bytes': { type: 'string' },
  'cpu-mem-arena': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export const SIDECAR_USAGE =
  'slmops serve --model <dir|file.slm.tar|url> [--digest sha256:…] [--host 0.0.0.0] [--port 50051] [--metrics-host <--host>] [--metrics-port 9464] ' +
  '[--cache-dir dir] [--precision int8,fp16,fp32] [--plugin cpu|nvidia|jetson|intel|amd|qualcomm] [--execution-providers cuda,cpu] [--max-batch-size 8] ' +
  '[--max-queue 64] [--default-max-tokens 256] [--threads n] [--stream-interval 5ms] [--grace-period 30s] ' +
  '[--download-connect-timeout 30s] [--download-stall-timeout 60s] [--download-max-bytes 64Gi] ' +
  '[--max-prompt-bytes 256Ki] [--request-logging none|metadata] [--kv-pool-max-bytes 64Mi] [--cpu-mem-arena on|off]';

/** Parses sidecar flags; env supplies defaults only for SLMOPS_MODEL, SLMOPS_MODEL_DIGEST and SLMOPS_CACHE_DIR. */
export function parseSidecarArgs(argv: string[], env: Record<string, string | undefined> = {}): SidecarConfig {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: SIDECAR_FLAGS,
  });
  const model = values.model ?? env['SLMOPS_MODEL'];
  if (!model) throw new ConfigError('--model is required (a package folder, a .slm.tar or an http(s)/file URL)');
  const precisions = values.precision?.split(',').map((p) => p.trim());
  for (const p of precisions ?? []) if (!(PRECISIONS as readonly string[]).includes(p)) throw new ConfigError(`--precision: expected a comma-separated list of fp32, fp16, int8, int4; got "${p}"`);
  const host = values.host ?? '0.0.0.0';
  const cfg: SidecarConfig = {
    model,
    host,
    port: int('port', values.port, 50051, 0, 65535),
    metricsHost: values['metrics-host'] ?? host,
    metricsPort: int('metrics-port', values['metrics-port'], 9464, 0, 65535),
    cacheDir: values['cache-dir'] ?? env['SLMOPS_CACHE_DIR'] ?? join(tmpdir(), 'slmops-cache'),
    plugin: values.plugin ?? 'cpu',
    maxBatchSize: int('max-batch-size', values['max-batch-size'], 8, 1, 1024),
    maxQueue: int('max-queue', values['max-queue'], 64, 0, 1_000_000),
    defaultMaxTokens: int('default-max-tokens', values['default-max-tokens'], 256, 1),
    streamIntervalMs: parseDuration(values['stream-interval'] ?? DEFAULT_STREAM_INTERVAL, 'stream-interval'),
    graceMs: parseDuration(values['grace-period'] ?? '30s', 'grace-period'),
    downloadLimits: {
      maxBytes: limit(() => (values['download-max-bytes'] === undefined ? DOWNLOAD_LIMITS.maxBytes : parseByteSize('download-max-bytes', values['download-max-bytes']))),
      connectTimeoutMs: limit(() => (values['download-connect-timeout'] === undefined ? DOWNLOAD_LIMITS.connectTimeoutMs : parseDurationMs('download-connect-timeout', values['download-connect-timeout']))),
      stallTimeoutMs: limit(() => (values['download-stall-timeout'] === undefined ? DOWNLOAD_LIMITS.stallTimeoutMs : parseDurationMs('download-stall-timeout', values['download-stall-timeout']))),
    },
  };
  if (values['max-prompt-bytes'] !== undefined) cfg.maxPromptBytes = limit(() => parseByteSize('max-prompt-bytes', values['max-prompt-bytes']!));
  // Case-insensitive, so the SLMDeployment's spelling (Metadata) works as well.
  const logging = values['request-logging']?.toLowerCase();
  if (logging !== undefined) {
    if (!(REQUEST_LOGGING as readonly string[]).includes(logging)) throw new ConfigError(`--request-logging: expected none or metadata, got "${logging}"`);
    cfg.requestLogging = logging as RequestLogging;
  }
  if (values['kv-pool-max-bytes'] !== undefined) cfg.kvPoolMaxBytes = limit(() => parseByteSize('kv-pool-max-bytes', values['kv-pool-max-bytes']!));
  const arena = values['cpu-mem-arena'];
  if (arena !== undefined) {
    if (arena !== 'on' && arena !== 'off') throw new ConfigError(`--cpu-mem-arena: expected on or off, got "${arena}"`);
    cfg.cpuMemArena = arena === 'on';
  }
  const digest = values.digest ?? env['SLMOPS_MODEL_DIGEST'];
  if (digest) cfg.digest = digest;
  if (precisions) cfg.precisions = precisions as Precision[];
  if (values['execution-providers']) cfg.executionProviders = values['execution-providers'];
  if (values.threads !== undefined) cfg.intraOpThreads = int('threads', values.threads, 1, 1, 1024);
  return cfg;
}

/**
 * Tokens made within this long of each other share one wake-up of the gRPC thread: a small model makes one every
 * 0.3 ms, and waking a thread costs 0.04-0.25 ms of CPU on a VM; 5 ms is far below what a reader or a speech
 * synthesiser notices (a display frame is 16.7 ms). The first token and the end are never held.
 */
const DEFAULT_STREAM_INTERVAL = '5ms';

/** "30s", "500ms", "2m" or plain milliseconds; `flag` names the option in the error. */
export function parseDuration(s: string, flag = 'grace-period'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s.trim());
  if (!m) throw new ConfigError(`--${flag}: expected a duration like 30s, 500ms or 2m, got "${s}"`);
  const n = Number(m[1]);
  return Math.round(m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n);
}

const REQUEST_LOGGING = ['none', 'metadata'] as const;
export type RequestLogging = (typeof REQUEST_LOGGING)[number];

const PRECISIONS = ['fp32', 'fp16', 'int8', 'int4'] as const;
export type Precision = (typeof PRECISIONS)[number];

/**
 * The variant to serve: the first of `preferences` that the package has, or the package's first variant when no
 * preference is given. Throws naming both lists when the package has none of the acceptable variants.
 */
export function choosePrecision(preferences: readonly string[] | undefined, available: readonly string[]): string | undefined {
  if (!preferences?.length) return undefined;
  const chosen = preferences.find((p) => available.includes(p));
  if (chosen === undefined) throw new ConfigError(`--precision: the package has variants [${available.join(', ')}], none of the acceptable [${preferences.join(', ')}]`);
  return chosen;
}
