/** Pure desired state: node classes of an SLMDeployment and every child object the operator applies. */
import type { SLMDeploymentSpec } from '@slmops/api';
import type { KubeObject } from '@slmops/kube';
import { InvalidPodPatchError, UnknownPluginError, type PluginHost, type UnplacedNode } from '@slmops/plugin-sdk';
import { asNodeInfo, matchesSelector, untoleratedTaint } from './observe.js';
import {
  autoscaler,
  daemonSet,
  denyEgressPolicy,
  deployment,
  disruptionBudget,
  podTemplate,
  securitySettingsOf,
  service,
  servingConfigMap,
  type Owner,
  type PlannedClass,
  type RevisionSpec,
} from './render.js';

export * from './names.js';
export * from './observe.js';
export * from './render.js';

/** A spec problem found while planning (unknown plugin, invalid override), naming the field. */
export class SpecError extends Error {
  override readonly name = 'SpecError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export interface FleetPlan {
  /** Node classes with at least one placed node, sorted by key; each class's nodes are sorted. */
  classes: PlannedClass[];
  /** Nodes that match the placement but that no class can run on, with the reason; sorted by node. */
  unplaced: UnplacedNode[];
  warnings: string[];
}

/**
 * Pure: nodes matching placement.nodeSelector, grouped by the first plugin of spec.hardware.plugins that detects
 * them (cpu last), each class planned by its plugin; nodes whose taints the pods do not tolerate, or that the
 * plugin's node selector excludes, are unplaced. Throws SpecError for unknown plugins or invalid overrides.
 */
export function planFleet(spec: SLMDeploymentSpec, nodes: readonly KubeObject[], host: PluginHost): FleetPlan {
  const selected = nodes.filter((n) => matchesSelector(n.metadata.labels ?? {}, spec.placement.nodeSelector));
  const byName = new Map(selected.map((n) => [n.metadata.name, n]));
  let classification;
  try {
    classification = host.classify(selected.map(asNodeInfo), { plugins: spec.hardware.plugins, ...(spec.hardware.overrides ? { overrides: spec.hardware.overrides } : {}) });
  } catch (e) {
    if (e instanceof UnknownPluginError) throw new SpecError('spec.hardware.plugins', e.message);
    throw e;
  }
  const unplaced = [...classification.unplaced];
  const classes: PlannedClass[] = [];
  for (const nodeClass of classification.classes) {
    const plan = planClassOrThrow(host, nodeClass, spec);
    const tolerations = [...(spec.placement.tolerations ?? []), ...plan.patch.tolerations];
    const placed: string[] = [];
    for (const name of nodeClass.nodes) {
      const node = byName.get(name)!;
      const labels = node.metadata.labels ?? {};
      const missing = Object.entries(plan.patch.nodeSelector).find(([k, v]) => labels[k] !== v);
      const taint = untoleratedTaint(node, tolerations);
      if (missing) unplaced.push({ node: name, reason: `plugin ${plan.plugin} selects ${missing[0]}=${missing[1]}, which the node lacks` });
      else if (taint) unplaced.push({ node: name, reason: `taint ${taint} is not tolerated by spec.placement.tolerations or plugin ${plan.plugin}` });
      else placed.push(name);
    }
    if (placed.length) classes.push({ nodeClass: { ...nodeClass, nodes: placed }, plan });
  }
  unplaced.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return { classes, unplaced, warnings: classification.warnings };
}

function planClassOrThrow(host: PluginHost, nodeClass: PlannedClass['nodeClass'], spec: Pick<SLMDeploymentSpec, 'model' | 'serving'>) {
  try {
    return host.planClass(nodeClass, { precisions: spec.model.precisions, ...(spec.serving.resources ? { resources: spec.serving.resources } : {}) });
  } catch (e) {
    if (e instanceof InvalidPodPatchError) throw new SpecError(nodeClass.overrideIndex !== undefined ? `spec.hardware.overrides[${nodeClass.overrideIndex}]` : 'spec.serving.resources', e.message);
    if (e instanceof UnknownPluginError) throw new SpecError('spec.hardware.plugins', e.message);
    throw e;
  }
}

/** The same classes planned for another revision's spec (a rollback target): its precisions and resources. */
export function replanClasses(classes: readonly PlannedClass[], rev: RevisionSpec, host: PluginHost): PlannedClass[] {
  return classes.map((c) => ({ nodeClass: c.nodeClass, plan: planClassOrThrow(host, c.nodeClass, rev) }));
}

/** Replicated mode serves from one class: the most preferred plugin's, then the largest, then by key. */
export function replicatedClass(classes: readonly PlannedClass[], host: PluginHost, plugins: readonly string[]): PlannedClass | undefined {
  const order = host.preference(plugins).map((p) => p.name);
  return [...classes].sort(
    (a, b) =>
      order.indexOf(a.plan.plugin) - order.indexOf(b.plan.plugin) ||
      b.nodeClass.nodes.length - a.nodeClass.nodes.length ||
      (a.nodeClass.key < b.nodeClass.key ? -1 : a.nodeClass.key > b.nodeClass.key ? 1 : 0),
  )[0];
}

/**
 * Replicated mode when no node can be placed: the Deployment is rendered anyway with the preference list's last
 * plugin (the fallback, cpu) on no particular device, so its pods go Pending until a node matches
 * spec.placement.nodeSelector, as any Deployment's would; the status says why (NoMatchingNodes).
 */
export function unplacedReplicatedClass(spec: Pick<SLMDeploymentSpec, 'hardware' | 'model' | 'serving'>, host: PluginHost): PlannedClass {
  const plugin = host.preference(spec.hardware.plugins).at(-1)!;
  const nodeClass: PlannedClass['nodeClass'] = {
    key: plugin.name,
    plugin: plugin.name,
    device: { kind: 'cpu', vendor: 'generic', count: 0, arch: '', attributes: {} },
    evidence: ['no node matches the placement yet'],
    nodes: [],
  };
  return { nodeClass, plan: planClassOrThrow(host, nodeClass, spec) };
}

export interface RenderedRevision {
  rev: RevisionSpec;
  revision: string;
  classes: PlannedClass[];
}

export interface ChildrenInput {
  owner: Owner;
  spec: SLMDeploymentSpec;
  /** What the main workload serves (Fleet DaemonSets, Replicated stable Deployment). */
  main: RenderedRevision;
  /** Replicated: the canary's revision and replicas (omitted or 0 replicas: no canary). */
  canary?: { revision: RenderedRevision; replicas: number };
  /** Replicated: the class the Deployments run on. */
  replicatedClass?: PlannedClass;
  /** Replicated: total replicas (stable + canary). */
  replicas?: number;
}

/**
 * Pure: every child to apply, in a fixed order (ConfigMap, Service, NetworkPolicy, PDB, workloads, HPA), each
 * with a controller owner reference. Byte-identical for the same input. Security settings come from the live
 * spec whatever revision the workloads render: a rollback restores a model, never a looser policy.
 */
export function renderChildren(input: ChildrenInput): KubeObject[] {
  const { owner, spec, main } = input;
  const security = securitySettingsOf(spec);
  const out: KubeObject[] = [servingConfigMap(owner, main.rev, main.revision, security), service(owner, main.rev)];
  if (security.privacy.egress === 'Deny') out.push(denyEgressPolicy(owner));
  out.push(disruptionBudget(owner, spec.placement.mode));
  if (spec.placement.mode === 'Fleet') {
    for (const cls of main.classes) {
      const { template } = podTemplate({ owner, rev: main.rev, revision: main.revision, cls, placement: spec.placement, security });
      out.push(daemonSet(owner, cls.nodeClass.key, template, cls.nodeClass.nodes));
    }
  } else if (input.replicatedClass) {
    const total = input.replicas ?? 0;
    const canary = input.canary && input.canary.replicas > 0 ? input.canary : undefined;
    const stableCls = main.classes.find((c) => c.nodeClass.key === input.replicatedClass!.nodeClass.key) ?? input.replicatedClass;
    const stable = podTemplate({ owner, rev: main.rev, revision: main.revision, cls: stableCls, placement: spec.placement, track: 'stable', security });
    out.push(deployment(owner, 'stable', stable.template, Math.max(0, total - (canary?.replicas ?? 0))));
    if (canary) {
      const cls = canary.revision.classes.find((c) => c.nodeClass.key === input.replicatedClass!.nodeClass.key) ?? input.replicatedClass;
      const t = podTemplate({ owner, rev: canary.revision.rev, revision: canary.revision.revision, cls, placement: spec.placement, track: 'canary', security });
      out.push(deployment(owner, 'canary', t.template, canary.replicas));
    }
    if (spec.autoscaling) out.push(autoscaler(owner, spec.autoscaling));
  }
  return out;
}
