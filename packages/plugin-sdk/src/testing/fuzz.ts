/** Seeded generators of arbitrary values and broken nodes, for totality tests. */
import type { NodeInfo } from '../node.js';

/** A small, fast, seeded PRNG (mulberry32) returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Keys and values that real nodes carry, so random objects often reach deep into a plugin's parsing.
const KEYS = [
  'metadata', 'name', 'labels', 'annotations', 'spec', 'taints', 'status', 'capacity', 'allocatable', 'nodeInfo',
  'conditions', 'architecture', 'kernelVersion', 'osImage', 'operatingSystem', 'type', 'key', 'effect', 'value',
  'kubernetes.io/arch', 'kubernetes.io/os', 'nvidia.com/gpu', 'nvidia.com/gpu.product', 'nvidia.com/gpu.count',
  'nvidia.com/gpu.memory', 'nvidia.com/gpu.present', 'feature.node.kubernetes.io/pci-10de.present', 'amd.com/gpu',
  'gpu.intel.com/i915', 'gpu.intel.com/xe', 'npu.intel.com/accel', 'qualcomm.com/qaic', 'slmops.io/accelerator',
  'cpu', 'memory', '__proto__', 'constructor', 'toString', '',
];
const STRINGS = [
  '', 'true', 'false', '0', '1', '-1', '8', '2.5', '500m', '16Gi', '1e3', 'NaN', 'Infinity', 'amd64', 'arm64',
  'aarch64', 'x86_64', 'linux', 'windows', '5.15.148-tegra', 'NVIDIA-A10G', 'Orin', 'qualcomm', 'nvidia', 'ü🙂',
  ' ', 'a'.repeat(300), 'Ready', 'True', 'NoSchedule',
];

/** An arbitrary JSON-like value (plus undefined, NaN, infinities, -0) of bounded depth. */
export function garbageValue(random: () => number, depth: number): unknown {
  const r = random();
  if (depth <= 0 || r < 0.35) {
    const leaves: unknown[] = [null, undefined, true, false, 0, -0, -1, 1, 3.7, NaN, Infinity, -Infinity, 2 ** 53, STRINGS[Math.floor(random() * STRINGS.length)]];
    return leaves[Math.floor(random() * leaves.length)];
  }
  if (r < 0.5) return Array.from({ length: Math.floor(random() * 4) }, () => garbageValue(random, depth - 1));
  const out: Record<string, unknown> = {};
  const n = Math.floor(random() * 6);
  for (let i = 0; i < n; i++) {
    const key = KEYS[Math.floor(random() * KEYS.length)]!;
    if (key === '__proto__') continue;
    out[key] = garbageValue(random, depth - 1);
  }
  return out;
}

/** A deep copy of the node with one to three random paths replaced by garbage or deleted. */
export function mutateNode(node: NodeInfo, random: () => number): unknown {
  const copy = structuredClone(node) as unknown as Record<string, unknown>;
  const edits = 1 + Math.floor(random() * 3);
  for (let e = 0; e < edits; e++) {
    let target: Record<string, unknown> = copy;
    for (let depth = 0; depth < 6; depth++) {
      const keys = Object.keys(target);
      if (keys.length === 0) break;
      const key = keys[Math.floor(random() * keys.length)]!;
      const next = target[key];
      if (typeof next === 'object' && next !== null && random() < 0.7) {
        target = next as Record<string, unknown>;
        continue;
      }
      if (random() < 0.3) delete target[key];
      else target[key] = garbageValue(random, 2);
      break;
    }
  }
  return copy;
}
