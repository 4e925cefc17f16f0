/** Planning which ONNX Runtime execution provider a session uses; the sidecar executes the plan. */
import type { EPConfig, ExecutionProviderName, ProviderStatus } from './public-api.js';

/** Human names used in messages, e.g. "OpenVINO is not available in this runtime build". */
export const PROVIDER_DISPLAY_NAMES: Readonly<Record<ExecutionProviderName, string>> = {
  tensorrt: 'TensorRT',
  cuda: 'CUDA',
  openvino: 'OpenVINO',
  migraphx: 'MIGraphX',
  rocm: 'ROCm',
  qnn: 'QNN',
  webgpu: 'WebGPU',
  xnnpack: 'XNNPACK',
  dml: 'DirectML',
  coreml: 'CoreML',
  cpu: 'CPU',
};

export const displayProviderName = (name: string): string => PROVIDER_DISPLAY_NAMES[name as ExecutionProviderName] ?? name;

/** One step down the chain: counted as slmops_ep_fallback_total{from,to}. */
export interface EPFallback {
  from: string;
  to: string;
  reason: string;
}

export interface EPPlan {
  /** The provider to create the session with first. */
  provider: EPConfig;
  /** Providers still worth trying, in order, starting with `provider` and ending in cpu. */
  candidates: EPConfig[];
  /** Providers skipped so far, in order. */
  fallbacks: EPFallback[];
}

const CPU: EPConfig = { name: 'cpu' };

/**
 * Pure. Walks the chain and keeps the providers that this ONNX Runtime build lists in `availableProviders`
 * and that `probed` (from plugin.probe) does not mark unavailable; every skipped provider becomes a fallback
 * to the next kept one. cpu is always kept and always last (appended when the chain lacks it).
 */
export function planExecutionProviders(
  chain: readonly EPConfig[],
  availableProviders: readonly string[],
  probed: readonly ProviderStatus[] = [],
): EPPlan {
  const seen = new Set<string>();
  const ordered: EPConfig[] = [];
  for (const ep of chain) {
    if (ep.name === 'cpu' || seen.has(ep.name)) continue;
    seen.add(ep.name);
    ordered.push(ep);
  }
  ordered.push(chain.find((ep) => ep.name === 'cpu') ?? CPU);

  const available = new Set(availableProviders.map((p) => p.toLowerCase()));
  const candidates: EPConfig[] = [];
  const skipped: Array<{ ep: EPConfig; reason: string; beforeIndex: number }> = [];
  for (const ep of ordered) {
    const status = probed.find((s) => s.name === ep.name);
    let reason: string | undefined;
    if (ep.name !== 'cpu' && !available.has(ep.name)) reason = `${displayProviderName(ep.name)} is not available in this runtime build`;
    else if (ep.name !== 'cpu' && status && !status.available) reason = status.reason || `${displayProviderName(ep.name)} is not usable here`;
    if (reason === undefined) candidates.push(ep);
    else skipped.push({ ep, reason, beforeIndex: candidates.length });
  }
  // Each skipped provider falls back to the next provider that is still a candidate (or skipped after it).
  const fallbacks = skipped.map((s, i) => {
    const nextSkipped = skipped[i + 1];
    const to = nextSkipped && nextSkipped.beforeIndex === s.beforeIndex ? nextSkipped.ep.name : candidates[s.beforeIndex]!.name;
    return { from: s.ep.name, to, reason: s.reason };
  });
  return { provider: candidates[0]!, candidates, fallbacks };
}

/**
 * Pure. The plan after session creation with `plan.provider` failed: the next candidate, with the failure
 * recorded as a fallback. Throws when the failed provider was the last candidate (cpu itself failed).
 */
export function planAfterSessionFailure(plan: EPPlan, message: string): EPPlan {
  const [failed, ...rest] = plan.candidates;
  const next = rest[0];
  if (!failed || !next) {
    throw new Error(`session creation failed on the last execution provider (${failed?.name ?? 'none'}): ${message}`);
  }
  return {
    provider: next,
    candidates: rest,
    fallbacks: [...plan.fallbacks, { from: failed.name, to: next.name, reason: `${displayProviderName(failed.name)} session creation failed: ${message}` }],
  };
}

/** Whether the accelerator is visible inside this container, with the evidence either way. */
export interface DeviceVisibility {
  visible: boolean;
  /** e.g. "/dev/nvidia0 present" or "no /dev/nvidia* device in this container". */
  detail: string;
}

/**
 * Pure. Status of each provider of a chain for probe(): cpu is always available; another provider is available
 * only when this ONNX Runtime build has it and the device is visible.
 */
export function providerStatuses(chain: readonly EPConfig[], availableProviders: readonly string[], device: DeviceVisibility): ProviderStatus[] {
  const inBuild = new Set(availableProviders.map((p) => p.toLowerCase()));
  return chain.map(({ name }) => {
    const display = displayProviderName(name);
    if (name === 'cpu') return { name, available: true, reason: 'the CPU provider is part of every ONNX Runtime build' };
    if (!inBuild.has(name)) return { name, available: false, reason: `${display} is not available in this runtime build` };
    if (!device.visible) return { name, available: false, reason: `${display} is in this runtime build but ${device.detail}` };
    return { name, available: true, reason: `${display} is in this runtime build and ${device.detail}` };
  });
}
