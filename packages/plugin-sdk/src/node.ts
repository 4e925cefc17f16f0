/**
 * A structural view of a Kubernetes Node, just the fields hardware detection reads, plus `readNode()`, which
 * turns any value (a real Node, a partial one, garbage) into well-typed facts without ever throwing.
 */
import { parseQuantity } from './quantity.js';

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  timeAdded?: string;
}

/** `status.nodeInfo` as the kubelet reports it. */
export interface NodeSystemInfo {
  architecture?: string;
  operatingSystem?: string;
  kernelVersion?: string;
  osImage?: string;
  containerRuntimeVersion?: string;
  kubeletVersion?: string;
  kubeProxyVersion?: string;
  machineID?: string;
  systemUUID?: string;
  bootID?: string;
}

export interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

/** A Kubernetes Node (core/v1) reduced to what plugins need; a full client-node V1Node is assignable to it. */
export interface NodeInfo {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  spec?: { taints?: Taint[]; unschedulable?: boolean; providerID?: string; [key: string]: unknown };
  status?: {
    capacity?: Record<string, string>;
    allocatable?: Record<string, string>;
    nodeInfo?: NodeSystemInfo;
    conditions?: NodeCondition[];
    addresses?: Array<{ type: string; address: string }>;
    [key: string]: unknown;
  };
}

/** Well-known node label keys set by the kubelet and cloud providers. */
export const NodeLabels = {
  arch: 'kubernetes.io/arch',
  os: 'kubernetes.io/os',
  hostname: 'kubernetes.io/hostname',
  instanceType: 'node.kubernetes.io/instance-type',
  zone: 'topology.kubernetes.io/zone',
  region: 'topology.kubernetes.io/region',
} as const;

/** Facts read from a node; every field has a safe value even when the input was malformed. */
export interface NodeFacts {
  /** metadata.name, or "" when missing. */
  name: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
  /** Quantities as strings, only entries whose key and value are strings. */
  capacity: Readonly<Record<string, string>>;
  allocatable: Readonly<Record<string, string>>;
  taints: readonly Taint[];
  /** Normalised "amd64" | "arm64" | other GOARCH, from the arch label, else status.nodeInfo; "" when unknown. */
  arch: string;
  /** "linux", "windows", …; "" when unknown. */
  os: string;
  kernelVersion: string;
  osImage: string;
  /** True when the Ready condition is "True". */
  ready: boolean;
  unschedulable: boolean;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Own enumerable string-to-string entries of a value; anything else yields an empty map. */
function stringEntries(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    if (k === '__proto__') continue;
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' && Number.isFinite(v)) out[k] = String(v);
  }
  return out;
}

const str = (value: unknown): string => (typeof value === 'string' ? value : '');

const TAINT_EFFECTS = new Set(['NoSchedule', 'PreferNoSchedule', 'NoExecute']);

function readTaints(value: unknown): Taint[] {
  if (!Array.isArray(value)) return [];
  const out: Taint[] = [];
  for (const t of value) {
    if (!isRecord(t) || typeof t.key !== 'string' || typeof t.effect !== 'string' || !TAINT_EFFECTS.has(t.effect)) continue;
    out.push({ key: t.key, effect: t.effect as Taint['effect'], ...(typeof t.value === 'string' ? { value: t.value } : {}) });
  }
  return out;
}

/** Maps uname/Debian spellings to the GOARCH names Kubernetes uses. */
export function normaliseArch(arch: string): string {
  const a = arch.trim().toLowerCase();
  if (a === 'x86_64' || a === 'x64') return 'amd64';
  if (a === 'aarch64' || a === 'arm64v8') return 'arm64';
  return a;
}

/** Reads a node's facts; total: never throws, whatever `node` is (a throwing getter yields empty facts). */
export function readNode(node: unknown): NodeFacts {
  try {
    return readNodeUnsafe(node);
  } catch {
    return readNodeUnsafe({});
  }
}

function readNodeUnsafe(node: unknown): NodeFacts {
  const n = isRecord(node) ? node : {};
  const metadata = isRecord(n.metadata) ? n.metadata : {};
  const spec = isRecord(n.spec) ? n.spec : {};
  const status = isRecord(n.status) ? n.status : {};
  const nodeInfo = isRecord(status.nodeInfo) ? status.nodeInfo : {};
  const labels = stringEntries(metadata.labels);
  const conditions = Array.isArray(status.conditions) ? status.conditions : [];
  const ready = conditions.some((c) => isRecord(c) && c.type === 'Ready' && c.status === 'True');
  return {
    name: str(metadata.name),
    labels,
    annotations: stringEntries(metadata.annotations),
    capacity: stringEntries(status.capacity),
    allocatable: stringEntries(status.allocatable),
    taints: readTaints(spec.taints),
    arch: normaliseArch(labels[NodeLabels.arch] ?? str(nodeInfo.architecture)),
    os: (labels[NodeLabels.os] ?? str(nodeInfo.operatingSystem)).trim().toLowerCase(),
    kernelVersion: str(nodeInfo.kernelVersion),
    osImage: str(nodeInfo.osImage),
    ready,
    unschedulable: spec.unschedulable === true,
  };
}

/** Label an administrator sets to declare an accelerator that no device plugin or NFD rule advertises. */
export const ACCELERATOR_LABEL = 'slmops.io/accelerator';

/**
 * Whole devices of an extended resource the node offers: allocatable, else capacity when the node reports no
 * allocatable at all; 0 when absent or not a non-negative number.
 */
export function resourceCount(facts: NodeFacts, resourceName: string): number {
  const raw = Object.keys(facts.allocatable).length ? facts.allocatable[resourceName] : facts.capacity[resourceName];
  const n = parseQuantity(raw);
  return n !== undefined && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/** Allocatable CPU cores (capacity when allocatable is missing), or undefined when unknown. */
export function nodeCpus(facts: NodeFacts): number | undefined {
  const n = parseQuantity(facts.allocatable.cpu ?? facts.capacity.cpu);
  return n !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Allocatable memory in MiB (capacity when allocatable is missing), or undefined when unknown. */
export function nodeMemoryMiB(facts: NodeFacts): number | undefined {
  const n = parseQuantity(facts.allocatable.memory ?? facts.capacity.memory);
  return n !== undefined && Number.isFinite(n) && n > 0 ? Math.floor(n / 2 ** 20) : undefined;
}

/**
 * An NVIDIA Tegra (Jetson) system: arm64 (or unknown arch) with an L4T "-tegra" kernel, from the kubelet's
 * nodeInfo or NFD's kernel-version.full label. Both the nvidia and jetson plugins use it, so they never overlap.
 */
export function isTegra(facts: NodeFacts): boolean {
  if (facts.arch !== 'arm64' && facts.arch !== '') return false;
  const nfdKernel = facts.labels['feature.node.kubernetes.io/kernel-version.full'] ?? '';
  return /-tegra\b/.test(facts.kernelVersion) || /-tegra\b/.test(nfdKernel) || facts.labels[ACCELERATOR_LABEL] === 'jetson';
}
