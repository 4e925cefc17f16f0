import {
  type DeviceInfo,
  type EPConfig,
  type ExecutionProviderName,
  type HardwarePlugin,
  type ProbeContext,
  type ProviderStatus,
  planAfterSessionFailure,
  planExecutionProviders,
} from '@slmops/plugin-sdk';
import type { Engine } from './inference/engine-port.js';
import type { ProviderFallback } from './inference/service.js';

export interface OpenWithFallbackOptions {
  /** The plugin's chain (or --execution-providers), best first; cpu is appended when missing. */
  chain: readonly EPConfig[];
  /** Providers this ONNX Runtime build has (onnxruntime-node listSupportedBackends()). */
  availableProviders: readonly string[];
  /** plugin.probe() results, when the plugin has a probe. */
  probed?: readonly ProviderStatus[];
  /** Creates the engine (a real session) on one provider; throws when the provider cannot run the model. */
  open(provider: EPConfig): Promise<Engine>;
}

/**
 * Tries each provider of the chain in order (availability, probe, then real session creation) and returns
 * the first engine that opens, with every provider left behind as a fallback {from, to, reason}.
 */
export async function openWithFallback(opts: OpenWithFallbackOptions): Promise<{ engine: Engine; fallbacks: ProviderFallback[] }> {
  let plan = planExecutionProviders(opts.chain, opts.availableProviders, opts.probed ?? []);
  for (;;) {
    try {
      const engine = await opts.open(plan.provider);
      return { engine, fallbacks: plan.fallbacks };
    } catch (e) {
      plan = planAfterSessionFailure(plan, (e as Error).message);
    }
  }
}

/** Parses `--execution-providers cuda,cpu` into a chain; names are checked against the known providers. */
export function parseProviderList(list: string, known: readonly string[]): EPConfig[] {
  const names = list
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (names.length === 0) throw new Error('--execution-providers: give at least one provider, e.g. cuda,cpu');
  for (const n of names) if (!known.includes(n)) throw new Error(`--execution-providers: unknown provider "${n}"; known: ${known.join(', ')}`);
  return names.map((name) => ({ name: name as ExecutionProviderName }));
}

/** Node architecture in GOARCH terms, as plugins and Kubernetes name it. */
export const goArch = (arch: string): string => (arch === 'x64' ? 'amd64' : arch === 'ia32' ? '386' : arch);

/**
 * The plugin's provider chain for this process: its probe (when it has one) says which providers are usable
 * and what device it sees; without a probe the device is this machine's CPU.
 */
export async function pluginProviderChain(plugin: HardwarePlugin, ctx: ProbeContext): Promise<{ chain: EPConfig[]; probed?: ProviderStatus[] }> {
  const probe = plugin.probe ? await plugin.probe(ctx) : undefined;
  const device: DeviceInfo = probe?.device ?? { kind: 'cpu', vendor: '', count: 0, arch: goArch(process.arch), attributes: {} };
  const chain = plugin.executionProviders(device);
  return probe ? { chain, probed: probe.providers } : { chain };
}
