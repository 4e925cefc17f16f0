/** The operator's command line, parsed once in the composition root; env only supplies documented defaults. */
import { parseArgs } from 'node:util';
import { PLUGIN_NAMES } from '@slmops/api';
import { type OutboundLimits, SCRAPE_LIMITS, parseByteSize as parseByteSizeOf, parseDurationMs } from '@slmops/metrics';

/** Every plugin this build knows (the list the CRD's spec.hardware.plugins enum has). */
export const ALL_PLUGINS = PLUGIN_NAMES;

export interface OperatorOptions {
  kubeconfig?: string;
  context?: string;
  /** Watch one namespace; undefined = all. */
  namespace?: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  /** Lease timings (kube-scheduler's flags; client-go defaults 15 s / 10 s / 2 s). */
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Undefined when disabled ("0"). */
  metricsBind?: { host: string; port: number };
  healthBind?: { host: string; port: number };
  sidecarImage: string;
  plugins: string[];
  maxConcurrentReconciles: number;
  resyncPeriodMs: number;
  logFormat: 'json' | 'text';
  identity: string;
  /** Limits of each analysis scrape of a pod's /metrics (--scrape-max-bytes, --scrape-timeout, --scrape-stall-timeout). */
  scrapeLimits: OutboundLimits;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const OPERATOR_USAGE =
  'slmops-operator [--kubeconfig file] [--context name] [--namespace ns (default: all)] [--leader-elect=true|false] ' +
  '[--leader-election-namespace ns] [--leader-election-id slmops-operator] [--leader-elect-lease-duration 15s] ' +
  '[--leader-elect-renew-deadline 10s] [--leader-elect-retry-period 2s] [--metrics-bind-address :8080|0] ' +
  '[--health-probe-bind-address :8081|0] [--sidecar-image ref] [--plugins nvidia,jetson,intel,amd,qualcomm,cpu] ' +
  '[--max-concurrent-reconciles 4] [--resync-period 10m] [--log-format json|text] [--scrape-max-bytes 4Mi] ' +
  '[--scrape-timeout 5s] [--scrape-stall-timeout 5s]';

/** A flag parser from @slmops/metrics whose RangeError becomes this package's ConfigError (the CLI prints those). */
const configErrors =
  <T>(parse: (flag: string, v: string) => T) =>
  (flag: string, v: string): T => {
    try {
      return parse(flag, v);
    } catch (e) {
      throw e instanceof RangeError ? new ConfigError(e.message) : e;
    }
  };

/** "90s", "10m", "1h", "1500ms" (a bare number is seconds) to milliseconds. */
export const parseDuration = configErrors(parseDurationMs);

/** "4Mi", "512Ki", "1G", "65536" (bytes) to a positive whole number of bytes. */
export const parseByteSize = configErrors(parseByteSizeOf);

/** ":8080" (all interfaces), "127.0.0.1:8080", "[::1]:8080"; "0" disables the server. */
export function parseBindAddress(flag: string, v: string): { host: string; port: number } | undefined {
  if (v === '0') return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--${flag}: expected [host]:port (e.g. ":8080") or "0" to disable, got "${v}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function bool(flag: string, v: string | boolean | undefined, def: boolean): boolean {
  if (v === undefined) return def;
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new ConfigError(`--${flag}: expected true or false, got "${v}"`);
}

/**
 * Parses the flags. Env: POD_NAMESPACE (lease namespace default), POD_NAME (identity), SLMOPS_SIDECAR_IMAGE
 * (sidecar image default), HOSTNAME (identity fallback with `pid`).
 */
export function parseOperatorArgs(argv: string[], env: Readonly<Record<string, string | undefined>>, defaults: { version: string; hostname: string; pid: number }): OperatorOptions {
  // --leader-elect=false must parse: node's parseArgs has no boolean-with-value, so split it off first.
  let leaderElectFlag: string | boolean | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--leader-elect') {
      const next = argv[i + 1];
      if (next === 'true' || next === 'false') {
        leaderElectFlag = next;
        i++;
      } else leaderElectFlag = true;
    } else if (a.startsWith('--leader-elect=')) leaderElectFlag = a.slice('--leader-elect='.length);
    else rest.push(a);
  }
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      'leader-election-namespace': { type: 'string' },
      'leader-election-id': { type: 'string' },
      'leader-elect-lease-duration': { type: 'string' },
      'leader-elect-renew-deadline': { type: 'string' },
      'leader-elect-retry-period': { type: 'string' },
      'metrics-bind-address': { type: 'string' },
      'health-probe-bind-address': { type: 'string' },
      'sidecar-image': { type: 'string' },
      plugins: { type: 'string' },
      'max-concurrent-reconciles': { type: 'string' },
      'resync-period': { type: 'string' },
      'log-format': { type: 'string' },
      'scrape-max-bytes': { type: 'string' },
      'scrape-timeout': { type: 'string' },
      'scrape-stall-timeout': { type: 'string' },
    },
  });
  const plugins = (values.plugins ?? ALL_PLUGINS.join(','))
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  for (const p of plugins) if (!(ALL_PLUGINS as readonly string[]).includes(p)) throw new ConfigError(`--plugins: unknown plugin "${p}"; known: ${ALL_PLUGINS.join(', ')}`);
  if (!plugins.length) throw new ConfigError('--plugins: name at least one plugin');
  const mcr = Number(values['max-concurrent-reconciles'] ?? '4');
  if (!Number.isInteger(mcr) || mcr < 1 || mcr > 256) throw new ConfigError(`--max-concurrent-reconciles: expected an integer in [1, 256], got "${values['max-concurrent-reconciles']}"`);
  const logFormat = values['log-format'] ?? 'json';
  if (logFormat !== 'json' && logFormat !== 'text') throw new ConfigError(`--log-format: expected json or text, got "${logFormat}"`);
  const namespace = values.namespace && values.namespace !== 'all' ? values.namespace : undefined;
  const metricsBind = parseBindAddress('metrics-bind-address', values['metrics-bind-address'] ?? ':8080');
  const healthBind = parseBindAddress('health-probe-bind-address', values['health-probe-bind-address'] ?? ':8081');
  const leaseDurationMs = parseDuration('leader-elect-lease-duration', values['leader-elect-lease-duration'] ?? '15s');
  const renewDeadlineMs = parseDuration('leader-elect-renew-deadline', values['leader-elect-renew-deadline'] ?? '10s');
  const retryPeriodMs = parseDuration('leader-elect-retry-period', values['leader-elect-retry-period'] ?? '2s');
  if (!(retryPeriodMs < renewDeadlineMs && renewDeadlineMs < leaseDurationMs))
    throw new ConfigError('--leader-elect-*: need retry period < renew deadline < lease duration');
  return {
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context ? { context: values.context } : {}),
    ...(namespace ? { namespace } : {}),
    leaderElect: bool('leader-elect', leaderElectFlag, true),
    leaderElectionNamespace: values['leader-election-namespace'] ?? env['POD_NAMESPACE'] ?? 'slmops-system',
    leaderElectionId: values['leader-election-id'] ?? 'slmops-operator',
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    ...(metricsBind ? { metricsBind } : {}),
    ...(healthBind ? { healthBind } : {}),
    sidecarImage: values['sidecar-image'] ?? env['SLMOPS_SIDECAR_IMAGE'] ?? `ghcr.io/slmops/sidecar:${defaults.version}`,
    plugins,
    maxConcurrentReconciles: mcr,
    resyncPeriodMs: parseDuration('resync-period', values['resync-period'] ?? '10m'),
    logFormat,
    identity: env['POD_NAME'] || `${defaults.hostname}_${defaults.pid}`,
    scrapeLimits: {
      maxBytes: values['scrape-max-bytes'] !== undefined ? parseByteSize('scrape-max-bytes', values['scrape-max-bytes']) : SCRAPE_LIMITS.maxBytes,
      connectTimeoutMs: values['scrape-timeout'] !== undefined ? parseDuration('scrape-timeout', values['scrape-timeout']) : SCRAPE_LIMITS.connectTimeoutMs,
      stallTimeoutMs: values['scrape-stall-timeout'] !== undefined ? parseDuration('scrape-stall-timeout', values['scrape-stall-timeout']) : SCRAPE_LIMITS.stallTimeoutMs,
    },
  };
}
