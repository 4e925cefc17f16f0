/** Global kubectl flags, output formats and the session every `kubectl slm` subcommand runs in. */
import { parseArgs } from 'node:util';
import type { KubeClient } from '@slmops/kube';
import type { OutboundLimits } from '@slmops/metrics/outbound';
import { type CliContext, type FlagTable, flagHelp, UsageError } from '../context.js';
import type { PodTransport } from './pod-transport.js';

export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml' | 'name';

/** What the kubeconfig resolves to: a client and the context's default namespace. */
export interface Connection {
  client: KubeClient;
  /** The namespace of the current context, or "default". */
  namespace: string;
  /** Pods' ports through the API server (pods/proxy, pods/portforward). */
  pods: PodTransport;
}

export interface ConnectOptions {
  kubeconfig?: string;
  context?: string;
  env: Record<string, string | undefined>;
}

/** Side effects the plugin needs, passed in by main.ts so tests can run it in-process. */
export interface PluginDeps {
  connect(options: ConnectOptions): Promise<Connection>;
  /** HTTP GET of a pod's /metrics straight from its IP (`top --direct`), within `limits`. */
  fetchText(url: string, limits: OutboundLimits, signal?: AbortSignal): Promise<string>;
  now(): Date;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** One parsed invocation: where to look and how to print, plus a lazily opened connection. */
export interface Session {
  ctx: CliContext;
  deps: PluginDeps;
  /** The namespace to use (flag, else the context's default). Ignored when allNamespaces is true. */
  namespace(): Promise<string>;
  allNamespaces: boolean;
  output: OutputFormat;
  client(): Promise<KubeClient>;
  /** Pods' ports through the API server, with the kubeconfig's credentials. */
  pods(): Promise<PodTransport>;
}

/** Flags every subcommand accepts, as kubectl spells them. */
export const globalOptions = {
  kubeconfig: { type: 'string', value: '<path>', shownDefault: '$KUBECONFIG, then ~/.kube/config', help: 'kubeconfig file' },
  context: { type: 'string', value: '<name>', shownDefault: 'current-context', help: 'kubeconfig context' },
  namespace: { type: 'string', short: 'n', value: '<ns>', shownDefault: 'the context\'s namespace, else "default"', help: 'namespace' },
  'all-namespaces': { type: 'boolean', short: 'A', default: false, help: 'list across all namespaces (get, top)' },
  output: { type: 'string', short: 'o', value: '<format>', shownDefault: 'a table', help: 'json|yaml|wide|name (get; describe takes none)' },
  help: { type: 'boolean', short: 'h', default: false, help: 'show help' },
} as const satisfies FlagTable;

export const GLOBAL_USAGE = `Global flags (before or after the command):\n${flagHelp(globalOptions)}`;

const FORMATS: readonly string[] = ['json', 'yaml', 'wide', 'name'];

/**
 * Moves global flags written before the command (`kubectl slm --kubeconfig k get`, which kubectl passes on as
 * is) behind it, so the first word is the command; a flag that takes a value keeps it.
 */
export function commandFirst(argv: readonly string[]): string[] {
  const lead: string[] = [];
  let i = 0;
  const byName = new Map<string, { type: string }>();
  for (const [name, o] of Object.entries(globalOptions)) {
    byName.set(`--${name}`, o);
    if ('short' in o) byName.set(`-${o.short}`, o);
  }
  while (i < argv.length) {
    const a = argv[i]!;
    const o = byName.get(a.includes('=') ? a.slice(0, a.indexOf('=')) : a);
    if (!o || a === '--help' || a === '-h') break;
    lead.push(a);
    if (o.type === 'string' && !a.includes('=') && i + 1 < argv.length) lead.push(argv[++i]!);
    i++;
  }
  if (i >= argv.length) return [...argv];
  const rest = argv.slice(i);
  // `rollout <verb>` is a two-word command.
  const words = rest[0] === 'rollout' && rest[1] !== undefined && !rest[1].startsWith('-') ? 2 : 1;
  return [...rest.slice(0, words), ...lead, ...rest.slice(words)];
}

/** Parses global + command flags anywhere on the line (kubectl allows both orders). */
export function parseCommandLine(argv: string[], commandOptions: FlagTable): { values: Record<string, unknown>; positionals: string[] } {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { ...globalOptions, ...commandOptions },
    allowPositionals: true,
    strict: true,
  });
  const output = values['output'] as string | undefined;
  if (output !== undefined && !FORMATS.includes(output)) {
    throw new UsageError(`unable to match a printer suitable for the output format "${output}", allowed formats are: ${FORMATS.join(',')}`);
  }
  return { values, positionals };
}

/** Builds the session from parsed global flags; the connection is opened on first use only. */
export function createSession(values: Record<string, unknown>, ctx: CliContext, deps: PluginDeps): Session {
  let conn: Promise<Connection> | undefined;
  const connect = () =>
    (conn ??= deps.connect({
      ...(typeof values['kubeconfig'] === 'string' ? { kubeconfig: values['kubeconfig'] } : {}),
      ...(typeof values['context'] === 'string' ? { context: values['context'] } : {}),
      env: ctx.env,
    }));
  const flagNs = values['namespace'];
  return {
    ctx,
    deps,
    allNamespaces: values['all-namespaces'] === true,
    output: ((values['output'] as string | undefined) ?? 'table') as OutputFormat,
    async namespace() {
      return typeof flagNs === 'string' && flagNs !== '' ? flagNs : (await connect()).namespace;
    },
    async client() {
      return (await connect()).client;
    },
    async pods() {
      return (await connect()).pods;
    },
  };
}

/** Parses a kubectl duration ("30s", "5m", "1h30m", "250ms", bare seconds "0"); a bad value names the flag. */
export function parseDurationFlag(flag: string, raw: string): number {
  if (/^\d+$/.test(raw)) return Number(raw) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(raw); m; m = re.exec(raw)) {
    total += Number(m[1]) * unit[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (raw === '' || consumed !== raw.length) throw new UsageError(`--${flag} must be a duration such as 30s, 5m or 1h, got "${raw}"`);
  return total;
}
