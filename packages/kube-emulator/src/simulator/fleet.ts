/**
 * Simulated edge fleets: N nodes of mixed hardware classes built by @slmops/plugin-sdk's realistic node
 * factories (so the hardware plugins classify them exactly as real nodes), deterministic for a seed, and the
 * node transitions an edge fleet sees: a node stops posting status (Ready=Unknown plus the node lifecycle
 * controller's `unreachable` taints) and comes back.
 */
import { fleetNode, mulberry32, nodeFactories, type SimulatedNodeKind } from '@slmops/plugin-sdk/testing/nodes';
import { clone, rfc3339 } from './meta.js';
import type { Node, NodeCondition, Taint } from './types.js';

export type { SimulatedNodeKind } from '@slmops/plugin-sdk/testing/nodes';

/** The hardware classes a default fleet mixes, with relative weights (CPU-heavy, like real edge fleets). */
export const DEFAULT_FLEET_MIX: Readonly<Partial<Record<SimulatedNodeKind, number>>> = {
  'cpu-amd64': 4,
  'raspberry-pi': 2,
  'nvidia-gpu': 1,
  jetson: 1,
  'intel-igpu': 1,
  'amd-gpu': 0.5,
  'qualcomm-edge': 0.5,
};

export interface FleetOptions {
  /** Number of nodes. */
  nodes: number;
  /** Relative weights per hardware class; counts are apportioned exactly (largest remainder). */
  mix?: Partial<Record<SimulatedNodeKind, number>>;
  /** Seed for the order in which classes are interleaved (same seed, same fleet). Default 1. */
  seed?: number;
  /** Node name prefix: names are `<prefix>-<kind>-<00000>`. Default "node". */
  prefix?: string;
  /** Extra labels on every node (e.g. a zone or a fleet id). */
  labels?: Record<string, string>;
}


/** Exact counts per class for `total` nodes from weights (largest-remainder apportionment). */
export function apportion(total: number, mix: Partial<Record<string, number>>): Map<string, number> {
  const entries = Object.entries(mix).filter((e): e is [string, number] => typeof e[1] === 'number' && e[1] > 0);
  if (entries.length === 0) throw new Error('fleet mix: at least one hardware class needs a positive weight');
  const weightSum = entries.reduce((s, [, w]) => s + w, 0);
  const raw = entries.map(([k, w]) => ({ k, exact: (total * w) / weightSum }));
  const counts = new Map(raw.map(({ k, exact }) => [k, Math.floor(exact)]));
  let left = total - [...counts.values()].reduce((s, n) => s + n, 0);
  const byRemainder = [...raw].sort((a, b) => b.exact - Math.floor(b.exact) - (a.exact - Math.floor(a.exact)) || (a.k < b.k ? -1 : 1));
  for (const { k } of byRemainder) {
    if (left <= 0) break;
    counts.set(k, (counts.get(k) ?? 0) + 1);
    left--;
  }
  return counts;
}

/** Pod CIDR of the i-th node (10.128.0.0/9 split into /24s), as the node IPAM controller would assign. */
export function podCIDRFor(index: number): string {
  if (index < 0 || index >= 32768) throw new Error(`podCIDRFor: node index ${index} out of range 0..32767`);
  return `10.${128 + (index >> 8)}.${index & 0xff}.0/24`;
}

/** Generates the fleet's Node objects (not yet created in any store). */
export function generateFleet(options: FleetOptions): Node[] {
  if (!Number.isInteger(options.nodes) || options.nodes < 0) throw new Error(`fleet: nodes must be a non-negative integer, got ${options.nodes}`);
  const mix = options.mix ?? DEFAULT_FLEET_MIX;
  for (const kind of Object.keys(mix)) {
    if (!(kind in nodeFactories)) throw new Error(`fleet mix: unknown hardware class "${kind}"; known: ${Object.keys(nodeFactories).join(', ')}`);
  }
  const kinds: SimulatedNodeKind[] = [];
  for (const [kind, n] of apportion(options.nodes, mix)) for (let i = 0; i < n; i++) kinds.push(kind as SimulatedNodeKind);
  const rand = mulberry32(options.seed ?? 1);
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j] as SimulatedNodeKind, kinds[i] as SimulatedNodeKind];
  }
  return kinds.map((kind, index) => {
    const node = fleetNode(kind, index, { prefix: options.prefix ?? 'node', labels: options.labels }) as unknown as Node;
    node.spec = { ...(node.spec ?? {}), podCIDR: podCIDRFor(index), podCIDRs: [podCIDRFor(index)] };
    return node;
  });
}

/** Picks `percent` % of `names` (rounded to nearest) deterministically for a seed. */
export function pickPercent(names: readonly string[], percent: number, seed: number): string[] {
  if (!(percent >= 0 && percent <= 100)) throw new Error(`pickPercent: percent must be within 0..100, got ${percent}`);
  const count = Math.round((names.length * percent) / 100);
  const rand = mulberry32(seed);
  const pool = [...names].sort();
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pool[i], pool[j]] = [pool[j] as string, pool[i] as string];
  }
  return pool.slice(0, count).sort();
}

const UNREACHABLE = 'node.kubernetes.io/unreachable';
const NOT_READY = 'node.kubernetes.io/not-ready';

/**
 * The node as the control plane shows it after its kubelet stopped posting status: every condition Unknown
 * (reason NodeStatusUnknown) and the `unreachable` NoSchedule and NoExecute taints. Returns a new object.
 */
export function nodeWentOffline(node: Node, now: number): Node {
  const next = clone(node);
  const ts = rfc3339(now);
  const conditions: NodeCondition[] = (next.status?.conditions ?? [{ type: 'Ready', status: 'True' }]).map((c) =>
    c.status === 'Unknown' ? c : { ...c, status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastTransitionTime: ts },
  );
  next.status = { ...(next.status ?? {}), conditions };
  const taints = (next.spec?.taints ?? []).filter((t) => t.key !== UNREACHABLE && t.key !== NOT_READY);
  taints.push({ key: UNREACHABLE, effect: 'NoSchedule', timeAdded: ts }, { key: UNREACHABLE, effect: 'NoExecute', timeAdded: ts });
  next.spec = { ...(next.spec ?? {}), taints };
  return next;
}

/** The node once its kubelet posts status again: Ready=True, pressure conditions False, no unreachable taints. */
export function nodeCameOnline(node: Node, now: number): Node {
  const next = clone(node);
  const ts = rfc3339(now);
  const healthy: Record<string, [string, string]> = {
    Ready: ['KubeletReady', 'kubelet is posting ready status'],
    MemoryPressure: ['KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
    DiskPressure: ['KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
    PIDPressure: ['KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
  };
  const existing = next.status?.conditions ?? [];
  const types = new Set([...existing.map((c) => c.type), 'Ready']);
  const conditions: NodeCondition[] = [...types].map((type) => {
    const prev = existing.find((c) => c.type === type);
    const want: NodeCondition['status'] = type === 'Ready' ? 'True' : 'False';
    const [reason, message] = healthy[type] ?? [prev?.reason ?? '', prev?.message ?? ''];
    return {
      type,
      status: want,
      reason,
      message,
      lastHeartbeatTime: ts,
      lastTransitionTime: prev?.status === want ? prev.lastTransitionTime ?? ts : ts,
    };
  });
  next.status = { ...(next.status ?? {}), conditions };
  const taints: Taint[] = (next.spec?.taints ?? []).filter((t) => t.key !== UNREACHABLE && t.key !== NOT_READY);
  next.spec = { ...(next.spec ?? {}) };
  if (taints.length) next.spec.taints = taints;
  else delete next.spec.taints;
  return next;
}
