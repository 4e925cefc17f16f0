/**
 * The conformance suite every hardware plugin runs from its own tests:
 *   describeHardwarePluginConformance(() => nvidia());
 * It registers a vitest `describe` block; vitest is a peer dependency of this entry point only.
 */
import { describe, expect, it } from 'vitest';
import type { Precision } from '@slmops/api';
import type { NodeInfo } from '../node.js';
import type { DeviceInfo, Detection, HardwarePlugin, HostContext, ProbeContext, ScheduleRequest } from '../public-api.js';
import { PROVIDER_DISPLAY_NAMES } from '../providers.js';
import { createSampleRegistry } from '../metrics.js';
import { isDnsLabel, validatePodPatch } from '../validate.js';
import { garbageValue, mulberry32, mutateNode } from './fuzz.js';
import { nodeFactories } from './nodes.js';

export interface ConformanceOptions {
  /** Nodes the plugin must detect, beyond the suite's own realistic catalogue. */
  detects?: readonly NodeInfo[];
  /** Nodes the plugin must not detect. */
  ignores?: readonly NodeInfo[];
  /** Seed of the fuzzer; fixed by default so failures reproduce. */
  seed?: number;
  /** Arbitrary objects and mutated realistic nodes fed to detect(); default 400. */
  fuzzRuns?: number;
}

const PRECISIONS: readonly Precision[] = ['fp32', 'fp16', 'int8', 'int4'];
const DEVICE_KINDS = new Set(['cpu', 'gpu', 'igpu', 'npu']);
const KNOWN_PROVIDERS = new Set(Object.keys(PROVIDER_DISPLAY_NAMES));

const RESOURCE_CASES: ReadonlyArray<ScheduleRequest['resources']> = [
  undefined,
  { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '4Gi' } },
  { requests: { cpu: 1, memory: '512Mi' } },
  { limits: { cpu: '3500m' } },
];

/** Problems with a detection's shape; [] when it is well formed. */
export function detectionProblems(d: Detection, pluginName: string): string[] {
  const problems: string[] = [];
  if (d.plugin !== pluginName) problems.push(`plugin is "${d.plugin}", expected "${pluginName}"`);
  if (!Array.isArray(d.evidence) || d.evidence.length === 0 || d.evidence.some((e) => typeof e !== 'string')) problems.push('evidence must be a non-empty string list');
  if (d.variant !== undefined && !isDnsLabel(d.variant)) problems.push(`variant "${d.variant}" is not a DNS label`);
  problems.push(...deviceProblems(d.device));
  if (JSON.stringify(JSON.parse(JSON.stringify(d))) !== JSON.stringify(d)) problems.push('detection is not JSON-serialisable');
  return problems;
}

function deviceProblems(device: DeviceInfo): string[] {
  const problems: string[] = [];
  if (!DEVICE_KINDS.has(device.kind)) problems.push(`device.kind "${String(device.kind)}" is not cpu, gpu, igpu or npu`);
  if (typeof device.vendor !== 'string' || !device.vendor) problems.push('device.vendor must be a non-empty string');
  if (!Number.isFinite(device.count) || device.count < 0) problems.push(`device.count ${device.count} must be a finite number >= 0`);
  if (typeof device.arch !== 'string') problems.push('device.arch must be a string');
  if (device.memoryMiB !== undefined && !(Number.isFinite(device.memoryMiB) && device.memoryMiB >= 0)) problems.push('device.memoryMiB must be finite and >= 0');
  for (const [k, v] of Object.entries(device.attributes ?? {})) if (typeof v !== 'string') problems.push(`device.attributes.${k} must be a string`);
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const frozenCopy = <T>(value: T): T => deepFreeze(structuredClone(value));

/** A host with nothing on it: no files, no programs. */
export const emptyHostContext = (): HostContext => ({
  readFile: async () => undefined,
  readDir: async () => [],
  exec: async () => ({ exitCode: null, stdout: '', stderr: '', error: 'ENOENT' }),
});

/** Registers the conformance tests for the plugin the factory returns. */
export function describeHardwarePluginConformance(factory: () => HardwarePlugin, options: ConformanceOptions = {}): void {
  const seed = options.seed ?? 0x5eed;
  const fuzzRuns = options.fuzzRuns ?? 400;
  const catalogue: NodeInfo[] = [...Object.values(nodeFactories).map((make) => make()), ...(options.detects ?? [])];
  const name = factory().name;

  const detections = (plugin: HardwarePlugin): Detection[] =>
    catalogue.map((n) => plugin.detect(frozenCopy(n))).filter((d): d is Detection => d !== null);

  describe(`hardware plugin conformance: ${name}`, () => {
    it('has a DNS-label name, the same from every factory call', () => {
      expect(isDnsLabel(name), `name "${name}"`).toBe(true);
      expect(factory().name).toBe(name);
    });

    it('declares its precisions, best first, without duplicates', () => {
      const { precisions } = factory();
      expect(precisions.length).toBeGreaterThan(0);
      for (const p of precisions) expect(PRECISIONS).toContain(p);
      expect(new Set(precisions).size).toBe(precisions.length);
    });

    it(`detect() is total: ${fuzzRuns} arbitrary objects and mutated nodes (seed ${seed})`, () => {
      const plugin = factory();
      const random = mulberry32(seed);
      for (let i = 0; i < fuzzRuns; i++) {
        const input = i % 2 === 0 ? garbageValue(random, 4) : mutateNode(catalogue[i % catalogue.length]!, random);
        let result: Detection | null = null;
        expect(() => {
          result = plugin.detect(input as NodeInfo);
        }, `fuzz case ${i}: ${JSON.stringify(input)?.slice(0, 300)}`).not.toThrow();
        if (result !== null) expect(detectionProblems(result, name), `fuzz case ${i}`).toEqual([]);
      }
    });

    it('detect() is deterministic, well formed and leaves the node untouched', () => {
      const a = factory();
      const b = factory();
      for (const node of catalogue) {
        const frozen = frozenCopy(node);
        const first = a.detect(frozen);
        expect(b.detect(frozen), `node ${node.metadata.name}`).toEqual(first);
        expect(a.detect(frozenCopy(node))).toEqual(first);
        if (first) expect(detectionProblems(first, name), `node ${node.metadata.name}`).toEqual([]);
      }
    });

    it('detects at least one realistic node, every required node, and none of the excluded ones', () => {
      const plugin = factory();
      expect(detections(plugin).length, 'no realistic node detected').toBeGreaterThan(0);
      for (const node of options.detects ?? []) expect(plugin.detect(frozenCopy(node)), `should detect ${node.metadata.name}`).not.toBeNull();
      for (const node of options.ignores ?? []) expect(plugin.detect(frozenCopy(node)), `should ignore ${node.metadata.name}`).toBeNull();
    });

    it('schedule() returns schema-valid, deterministic patches for every detected device and precision', () => {
      const a = factory();
      const b = factory();
      let checked = 0;
      for (const detection of detections(a)) {
        for (const precision of PRECISIONS) {
          for (const resources of RESOURCE_CASES) {
            for (const devicesPerPod of [undefined, 2]) {
              const request = frozenCopy({ device: detection.device, precision, ...(resources ? { resources } : {}), ...(devicesPerPod ? { devicesPerPod } : {}) });
              const patch = a.schedule(request);
              expect(validatePodPatch(patch), `${detection.device.product ?? detection.device.kind} ${precision} ${JSON.stringify(resources)}`).toEqual([]);
              expect(b.schedule(request)).toEqual(patch);
              expect(patch.env.map((e) => e.name)).toEqual([...patch.env.map((e) => e.name)].sort());
              checked++;
            }
          }
        }
      }
      expect(checked).toBeGreaterThan(0);
    });

    it('schedule() keeps the requested base resources', () => {
      const plugin = factory();
      for (const detection of detections(plugin)) {
        const patch = plugin.schedule({ device: detection.device, precision: plugin.precisions[0]!, resources: { requests: { memory: '1Gi' }, limits: { memory: '3Gi' } } });
        expect(patch.resources.requests?.memory).toBe('1Gi');
        expect(patch.resources.limits?.memory).toBe('3Gi');
      }
    });

    it('executionProviders() lists known providers once each, in priority order, ending in cpu', () => {
      const plugin = factory();
      const random = mulberry32(seed + 1);
      const devices = [...detections(plugin).map((d) => d.device), ...Array.from({ length: 20 }, () => randomDevice(random))];
      for (const device of devices) {
        const chain = plugin.executionProviders(frozenCopy(device));
        const names = chain.map((ep) => ep.name);
        expect(names.at(-1), JSON.stringify(device)).toBe('cpu');
        expect(names.filter((n) => n === 'cpu')).toHaveLength(1);
        expect(new Set(names).size).toBe(names.length);
        for (const n of names) expect(KNOWN_PROVIDERS.has(n), `provider "${n}"`).toBe(true);
        expect(plugin.executionProviders(frozenCopy(device))).toEqual(chain);
      }
    });

    it('probe(), when present, reports every provider of the chain and claims no accelerator on a bare host', async () => {
      const plugin = factory();
      if (!plugin.probe) {
        expect(plugin.probe).toBeUndefined();
        return;
      }
      const device = detections(plugin)[0]!.device;
      const chain = plugin.executionProviders(device).map((ep) => ep.name);
      const ctx: ProbeContext = { ...emptyHostContext(), availableProviders: [...KNOWN_PROVIDERS] };
      const result = await plugin.probe(ctx);
      expect(result.providers.map((p) => p.name)).toEqual(chain);
      for (const p of result.providers) {
        expect(p.available, `${p.name}: ${p.reason}`).toBe(p.name === 'cpu');
        expect(p.reason.length).toBeGreaterThan(0);
      }
    });

    it('collectors(), when present, register valid families and collect on a bare host without throwing', async () => {
      const plugin = factory();
      if (!plugin.collectors) {
        expect(plugin.collectors).toBeUndefined();
        return;
      }
      const registry = createSampleRegistry();
      await plugin.collectors(registry, emptyHostContext());
      const families = await registry.collect();
      for (const f of families) for (const s of f.samples) expect(Number.isFinite(s.value), `${f.name}`).toBe(true);
    });
  });
}

function randomDevice(random: () => number): DeviceInfo {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  return {
    kind: pick(['cpu', 'gpu', 'igpu', 'npu'] as const),
    vendor: pick(['nvidia', 'intel', 'amd', 'qualcomm', 'generic', 'unknown']),
    count: pick([0, 1, 2, 8]),
    arch: pick(['amd64', 'arm64', '', 'riscv64']),
    ...(random() < 0.5 ? { product: pick(['NVIDIA-A10G', 'Orin', 'AMD_Instinct_MI210', '']) } : {}),
    ...(random() < 0.5 ? { resourceName: pick(['nvidia.com/gpu', 'amd.com/gpu', 'gpu.intel.com/xe']) } : {}),
    attributes: random() < 0.5 ? {} : { kmd: pick(['i915', 'xe']), tegra: pick(['true', 'false']) },
  };
}
