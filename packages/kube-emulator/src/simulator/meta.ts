/**
 * Small pure helpers shared by the simulated controllers: label selectors, node eligibility (node selector,
 * required node affinity, taints against tolerations), pod readiness and availability, template hashing.
 */
import type {
  KubeObject,
  LabelSelector,
  Node,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  OwnerReference,
  Pod,
  PodSpec,
  PodTemplateSpec,
  Taint,
  Toleration,
} from './types.js';

/** True when `labels` satisfy `selector` (matchLabels AND matchExpressions); an empty selector matches all. */
export function matchesLabelSelector(selector: LabelSelector | undefined, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const req of selector?.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, req.key);
    const value = l[req.key];
    switch (req.operator) {
      case 'In':
        if (!has || !(req.values ?? []).includes(value as string)) return false;
        break;
      case 'NotIn':
        if (has && (req.values ?? []).includes(value as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        throw new Error(`label selector: unsupported operator ${JSON.stringify((req as { operator: unknown }).operator)} for key ${req.key}`);
    }
  }
  return true;
}

function matchNodeRequirement(req: NodeSelectorRequirement, value: string | undefined): boolean {
  switch (req.operator) {
    case 'In':
      return value !== undefined && (req.values ?? []).includes(value);
    case 'NotIn':
      return value === undefined || !(req.values ?? []).includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      const bound = Number((req.values ?? [])[0]);
      const n = Number(value);
      if (value === undefined || !Number.isInteger(n) || !Number.isInteger(bound)) return false;
      return req.operator === 'Gt' ? n > bound : n < bound;
    }
    default:
      throw new Error(`node selector: unsupported operator ${JSON.stringify((req as { operator: unknown }).operator)} for key ${req.key}`);
  }
}

function matchNodeSelectorTerm(term: NodeSelectorTerm, node: Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  // An empty term matches nothing, as in the scheduler.
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata.labels ?? {};
  for (const req of exprs) if (!matchNodeRequirement(req, labels[req.key])) return false;
  for (const req of fields) {
    if (req.key !== 'metadata.name') throw new Error(`node selector: matchFields key ${req.key} is not supported (only metadata.name)`);
    if (!matchNodeRequirement(req, node.metadata.name)) return false;
  }
  return true;
}

/** True when the node satisfies the pod's `nodeSelector` and required node affinity (terms are ORed). */
export function nodeMatchesPodSpec(spec: PodSpec, node: Node): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) if (labels[k] !== v) return false;
  const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms && !terms.some((t) => matchNodeSelectorTerm(t, node))) return false;
  return true;
}

/** Toleration semantics of the scheduler: empty key with Exists tolerates everything; empty effect matches all. */
export function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (!toleration.key) return toleration.operator === 'Exists';
  if (toleration.key !== taint.key) return false;
  if (toleration.operator === 'Exists') return true;
  return (toleration.value ?? '') === (taint.value ?? '');
}

/** The node's taints with the given effects that none of the tolerations tolerate. */
export function untoleratedTaints(tolerations: readonly Toleration[] | undefined, node: Node, effects: Taint['effect'][]): Taint[] {
  return (node.spec?.taints ?? []).filter((t) => effects.includes(t.effect) && !(tolerations ?? []).some((tol) => tolerates(tol, t)));
}

/** The node's Ready condition status, 'Unknown' when the node has none. */
export function nodeReadyStatus(node: Node): 'True' | 'False' | 'Unknown' {
  return node.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
}

export function isNodeReady(node: Node): boolean {
  return nodeReadyStatus(node) === 'True';
}

export function podCondition(pod: Pod, type: string) {
  return pod.status?.conditions?.find((c) => c.type === type);
}

export function isPodReady(pod: Pod): boolean {
  return podCondition(pod, 'Ready')?.status === 'True';
}

export function isTerminating(obj: KubeObject): boolean {
  return obj.metadata.deletionTimestamp !== undefined && obj.metadata.deletionTimestamp !== null;
}

/** Available = Ready for at least `minReadySeconds` (measured from the Ready condition's lastTransitionTime). */
export function isPodAvailable(pod: Pod, minReadySeconds: number, now: number): boolean {
  const ready = podCondition(pod, 'Ready');
  if (ready?.status !== 'True') return false;
  if (minReadySeconds <= 0) return true;
  const since = ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : NaN;
  return Number.isFinite(since) && since + minReadySeconds * 1000 <= now;
}

/** Whole-second time in the RFC 3339 form the API server writes. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The controller owner reference of `obj`, if any. */
export function controllerOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

export function controllerRef(owner: KubeObject, kind: string, apiVersion: string): OwnerReference {
  if (!owner.metadata.uid || !owner.metadata.name) throw new Error(`${kind} has no metadata.uid/name yet; cannot own objects`);
  return { apiVersion, kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true };
}

/** Resolves an int-or-percent (maxSurge, maxUnavailable) against `total`; percents round up or down as asked. */
export function resolveIntOrPercent(value: number | string | undefined, total: number, roundUp: boolean, fallback: number | string): number {
  const v = value ?? fallback;
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0) throw new Error(`int-or-percent ${v} must be a non-negative integer`);
    return v;
  }
  const m = /^(\d+)%$/.exec(v);
  if (!m) {
    if (/^\d+$/.test(v)) return Number(v);
    throw new Error(`int-or-percent ${JSON.stringify(v)} must be an integer or a percentage like "25%"`);
  }
  const raw = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(raw) : Math.floor(raw);
}

/** Canonical JSON (sorted keys) so equal templates hash and compare equal regardless of key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

// The alphabet Kubernetes' rand.SafeEncodeString uses, so hashes look like real ones (no vowels, no 0/1/3).
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * Hash of a pod template plus collision count, encoded like Kubernetes' controller.ComputeHash (FNV-1a 32-bit,
 * decimal, safe-encoded). The bytes hashed differ from Go's deep hash, so values differ from a real cluster's.
 */
export function computeTemplateHash(template: PodTemplateSpec, collisionCount?: number): string {
  let h = 0x811c9dc5;
  const input = canonicalJson(template) + (collisionCount ? `#${collisionCount}` : '');
  for (let i = 0; i < input.length; i++) {
    h ^= input.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
    const hi = input.charCodeAt(i) >> 8;
    if (hi) {
      h ^= hi;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  const decimal = String(h >>> 0);
  let out = '';
  for (const ch of decimal) out += SAFE_ALPHABET[ch.charCodeAt(0) % SAFE_ALPHABET.length];
  return out;
}


/** Structural equality of JSON values (key order ignored, `undefined` members absent): the store's own. */
export { deepEqual as jsonEqual } from '../server/util.js';

/** A deep copy of plain JSON data. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}
