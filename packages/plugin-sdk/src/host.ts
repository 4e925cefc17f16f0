// How apps drive plugins: registration, lookup by name, node classification and per-class planning.
// Facets combine as follows: detect is "first" (the first plugin in preference order that detects a node serves
// it); schedule, executionProviders and precisions come from that one plugin only; plugins never chain.
import type { Precision } from '@slmops/api';
import { readNode, type NodeInfo } from './node.js';
import { selectPrecision, type PrecisionChoice } from './precision.js';
import type { DeviceInfo, Detection, EPConfig, HardwarePlugin, PodPatch, ResourceRequirementsInput } from './public-api.js';
import { applyOverride, type HardwareOverride } from './schedule.js';
import { isDnsLabel, validatePodPatch, type PatchError } from './validate.js';

/** The plugin every node falls back to when no preferred plugin detects it. */
export const FALLBACK_PLUGIN = 'cpu';

export class UnknownPluginError extends Error {
  override readonly name = 'UnknownPluginError';
  constructor(
    readonly plugin: string,
    readonly known: readonly string[],
  ) {
    super(`unknown hardware plugin "${plugin}"; known plugins: ${known.length ? known.join(', ') : '(none registered)'}`);
  }
}

export class InvalidPluginError extends Error {
  override readonly name = 'InvalidPluginError';
}

export class InvalidPodPatchError extends Error {
  override readonly name = 'InvalidPodPatchError';
  constructor(
    readonly nodeClass: string,
    readonly errors: readonly PatchError[],
  ) {
    super(`pod patch for node class ${nodeClass} is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  }
}

export interface ClassifyOptions {
  /** `spec.hardware.plugins`, in preference order; the fallback plugin is appended when missing. */
  plugins: readonly string[];
  /** `spec.hardware.overrides`; the first whose match.labels all equal the node's labels applies. */
  overrides?: readonly HardwareOverride[];
}

/** Nodes served the same way: same plugin, same variant, same override. */
export interface NodeClass {
  /** DNS label: plugin, then variant, then "o<override index>", joined by "-" (e.g. "intel-xe-o1"). */
  key: string;
  plugin: string;
  variant?: string;
  overrideIndex?: number;
  override?: HardwareOverride;
  /** The device of the class's first node by name. */
  device: DeviceInfo;
  evidence: string[];
  /** Node names, sorted. */
  nodes: string[];
}

export interface UnplacedNode {
  node: string;
  reason: string;
}

export interface Classification {
  /** Sorted by key. */
  classes: NodeClass[];
  /** Nodes no plugin serves, with the reason; sorted by node name. */
  unplaced: UnplacedNode[];
  /** Plugins that threw from detect (a conformance failure), one line each. */
  warnings: string[];
}

export interface ClassPlanRequest {
  /** `spec.model.precisions`. */
  precisions: readonly Precision[];
  /** `spec.serving.resources`. */
  resources?: ResourceRequirementsInput;
  devicesPerPod?: number;
}

/** Everything the operator needs to render one node class's workload. */
export interface ClassPlan {
  plugin: string;
  precision: PrecisionChoice;
  patch: PodPatch;
  /** The chain the sidecar will try, ending in cpu. */
  executionProviders: EPConfig[];
}

export interface PluginHost {
  /** Registered plugin names, in registration order. */
  readonly names: readonly string[];
  has(name: string): boolean;
  /** The plugin called `name`; throws UnknownPluginError listing the known plugins. */
  resolve(name: string): HardwarePlugin;
  /** Resolves a preference list and appends the fallback plugin when it is registered and not listed. */
  preference(plugins: readonly string[]): HardwarePlugin[];
  /** The detection of the first plugin in preference order that detects the node, or null. */
  detect(node: NodeInfo, plugins: readonly string[]): Detection | null;
  /** Pure: groups nodes into node classes. Throws UnknownPluginError for an unknown name in options.plugins. */
  classify(nodes: readonly NodeInfo[], options: ClassifyOptions): Classification;
  /** Pure: precision, validated pod patch (override applied) and provider chain for a class. */
  planClass(nodeClass: NodeClass, request: ClassPlanRequest): ClassPlan;
}

function checkPlugin(plugin: HardwarePlugin, index: number): void {
  const where = `plugin #${index}${typeof plugin?.name === 'string' ? ` (${plugin.name})` : ''}`;
  if (typeof plugin !== 'object' || plugin === null) throw new InvalidPluginError(`${where} is not an object`);
  if (typeof plugin.name !== 'string' || !isDnsLabel(plugin.name)) throw new InvalidPluginError(`${where}: name must be a DNS label`);
  for (const fn of ['detect', 'schedule', 'executionProviders'] as const) {
    if (typeof plugin[fn] !== 'function') throw new InvalidPluginError(`${where}: ${fn} must be a function`);
  }
  if (!Array.isArray(plugin.precisions) || plugin.precisions.length === 0) throw new InvalidPluginError(`${where}: precisions must be a non-empty array`);
}

const matches = (labels: Readonly<Record<string, string>>, selector: Readonly<Record<string, string>>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Builds a host over an explicit plugin list; throws on malformed plugins and duplicate names. */
export function createPluginHost(plugins: readonly HardwarePlugin[], options: { fallback?: string } = {}): PluginHost {
  const fallback = options.fallback ?? FALLBACK_PLUGIN;
  const byName = new Map<string, HardwarePlugin>();
  plugins.forEach((plugin, i) => {
    checkPlugin(plugin, i);
    if (byName.has(plugin.name)) throw new InvalidPluginError(`duplicate hardware plugin name "${plugin.name}" (plugin #${i})`);
    byName.set(plugin.name, plugin);
  });
  const names = [...byName.keys()];

  const resolve = (name: string): HardwarePlugin => {
    const plugin = byName.get(name);
    if (!plugin) throw new UnknownPluginError(name, names);
    return plugin;
  };

  const preference = (wanted: readonly string[]): HardwarePlugin[] => {
    const list = [...new Set(wanted)].map(resolve);
    if (!wanted.includes(fallback) && byName.has(fallback)) list.push(byName.get(fallback)!);
    return list;
  };

  const detectWith = (list: readonly HardwarePlugin[], node: NodeInfo, warnings: string[]): Detection | null => {
    for (const plugin of list) {
      try {
        const d = plugin.detect(node);
        if (d) return { ...d, plugin: plugin.name };
      } catch (error) {
        warnings.push(`plugin ${plugin.name} threw from detect on node ${readNode(node).name || '(unnamed)'}: ${(error as Error).message}`);
      }
    }
    return null;
  };

  const classify = (nodes: readonly NodeInfo[], opts: ClassifyOptions): Classification => {
    const list = preference(opts.plugins);
    const overrides = opts.overrides ?? [];
    const warnings: string[] = [];
    const unplaced: UnplacedNode[] = [];
    const classes = new Map<string, NodeClass & { first: string }>();
    const seen = new Set<string>();
    for (const node of nodes) {
      const facts = readNode(node);
      if (!facts.name) {
        unplaced.push({ node: '', reason: 'node has no metadata.name' });
        continue;
      }
      if (seen.has(facts.name)) continue;
      seen.add(facts.name);
      const detection = detectWith(list, node, warnings);
      if (!detection) {
        const tried = list.map((p) => p.name).join(', ');
        const why = byName.has(fallback) ? '' : `; the fallback plugin ${fallback} is not registered`;
        unplaced.push({ node: facts.name, reason: `no plugin of [${tried}] serves this node (os "${facts.os || 'unknown'}", arch "${facts.arch || 'unknown'}")${why}` });
        continue;
      }
      const overrideIndex = overrides.findIndex((o) => matches(facts.labels, o.match.labels));
      const variant = detection.variant !== undefined && isDnsLabel(detection.variant) ? detection.variant : undefined;
      const key = [detection.plugin, variant, overrideIndex >= 0 ? `o${overrideIndex}` : undefined].filter(Boolean).join('-');
      const existing = classes.get(key);
      if (existing) {
        existing.nodes.push(facts.name);
        if (facts.name < existing.first) Object.assign(existing, { first: facts.name, device: detection.device, evidence: detection.evidence });
        continue;
      }
      classes.set(key, {
        key,
        plugin: detection.plugin,
        ...(variant ? { variant } : {}),
        ...(overrideIndex >= 0 ? { overrideIndex, override: overrides[overrideIndex] } : {}),
        device: detection.device,
        evidence: detection.evidence,
        nodes: [facts.name],
        first: facts.name,
      });
    }
    const sorted = [...classes.values()]
      .map(({ first: _first, ...c }) => ({ ...c, nodes: [...c.nodes].sort() }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    unplaced.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    return { classes: sorted, unplaced, warnings };
  };

  const planClass = (nodeClass: NodeClass, request: ClassPlanRequest): ClassPlan => {
    const plugin = resolve(nodeClass.plugin);
    const precision = selectPrecision(request.precisions, plugin.precisions, nodeClass.override?.precision);
    const base = plugin.schedule({
      device: nodeClass.device,
      precision: precision.precision,
      ...(request.resources ? { resources: request.resources } : {}),
      ...(request.devicesPerPod !== undefined ? { devicesPerPod: request.devicesPerPod } : {}),
    });
    const patch = applyOverride(base, nodeClass.override);
    const errors = validatePodPatch(patch);
    if (errors.length) throw new InvalidPodPatchError(nodeClass.key, errors);
    return { plugin: plugin.name, precision, patch, executionProviders: plugin.executionProviders(nodeClass.device) };
  };

  return {
    names,
    has: (name) => byName.has(name),
    resolve,
    preference,
    detect: (node, wanted) => detectWith(preference(wanted), node, []),
    classify,
    planClass,
  };
}
