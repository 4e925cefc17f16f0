/** The operator's command line, parsed once in the composition root; env only supplies documented defaults. */
import { parseArgs } from 'node:util';

export const ALL_PLUGINS = ['nvidia', 'jetson', 'intel', 'amd', 'qualcomm', 'cpu'] as const;

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
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const OPERATOR_USAGE =
  'slmops-operator [--kubeconfig file] [--context name] [--namespace ns (default: all)] [--leader-elect=true|false] ' +
  '[--leader-election-namespace ns] [--leader-election-id slmops-operator] [--leader-elect-lease-duration 15s] ' +
  '[--leader-elect-renew-deadline 10s] [--leader-elect-retry-period 2s] [--metrics-bind-address :8080|0] ' +
  '[--health-probe-bind-address :8081|0] [--sidecar-image ref] [--plugins nvidia,jetson,intel,amd,qualcomm,cpu] ' +
  '[--max-concurrent-reconciles 4] [--resync-period 10m] [--log-format json|text]';

/** "90s", "10m", "1h", "1500ms" (a bare number is seconds) to milliseconds. */
export function parseDuration(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new ConfigError(`--${flag}: expected a duration such as 30s, 10m or 1h, got "${v}"`);
  const n = Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000);
  if (n <= 0) throw new ConfigError(`--${flag}: must be greater than zero, got "${v}"`);
  return Math.round(n);
}

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
  };
}
