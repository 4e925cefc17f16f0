/** Pure formatting shared by the subcommands: kubectl's ages, tables, and the SLMDeployment columns. */
import type { SLMDeploymentSpec, SLMDeploymentStatus } from '@slmops/api';
import type { KubeObject } from '@slmops/kube';
import { stringify } from 'yaml';

/** An SLMDeployment as read from the API: spec defaulted by the CRD, status whatever the operator wrote. */
export interface SlmdObject extends KubeObject {
  spec: Partial<SLMDeploymentSpec> & { model?: Partial<SLMDeploymentSpec['model']> };
  status?: SLMDeploymentStatus;
}

export const NONE = '<none>';

/** kubectl's HumanDuration (k8s.io/apimachinery/pkg/util/duration): "45s", "3m20s", "5h12m", "3d4h", "2y30d". */
export function humanDuration(ms: number): string {
  const s = Math.trunc(ms / 1000);
  if (s < -1) return '<invalid>';
  if (s < 0) return '0s';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(s / 3600);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${h % 24}h`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24)}d`;
  const y = Math.floor(h / (24 * 365));
  if (h < 24 * 365 * 8) return Math.floor(h / 24) % 365 === 0 ? `${y}y` : `${y}y${Math.floor(h / 24) % 365}d`;
  return `${y}y`;
}

/** Age of an RFC 3339 timestamp at `now`, or <unknown>. */
export function age(timestamp: string | undefined, now: Date): string {
  const t = timestamp ? Date.parse(timestamp) : Number.NaN;
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now.getTime() - t);
}

/** Left-aligned columns separated by three spaces, as kubectl's tabwriter prints them. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const shortDigest = (d: string) => (d.startsWith('sha256:') ? d.slice(0, 'sha256:'.length + 12) : d.slice(0, 19));

export const readyCondition = (o: SlmdObject) => o.status?.conditions?.find((c) => c.type === 'Ready');

/** "2/3": the wave the rollout is in (as the operator numbers it) of the waves in the spec. */
export function waveText(o: SlmdObject): string {
  const w = o.status?.rollout?.wave;
  if (w === undefined) return NONE;
  const total = o.spec.rollout?.waves?.length;
  return total ? `${w}/${total}` : String(w);
}

/** Columns of `get`: NAME MODEL VERSION READY UPDATED PHASE AGE, then WAVE DIGESTS PLACEMENTS with -o wide. */
export function slmdRow(o: SlmdObject, now: Date, wide: boolean): string[] {
  const nodes = o.status?.nodes;
  const row = [
    o.metadata.name,
    o.spec.model?.name ?? NONE,
    o.spec.model?.version ?? NONE,
    nodes ? `${nodes.ready}/${nodes.desired}` : (readyCondition(o)?.status ?? NONE),
    nodes ? String(nodes.updated) : NONE,
    o.status?.rollout?.phase ?? NONE,
    age(o.metadata.creationTimestamp, now),
  ];
  if (!wide) return row;
  const digests = o.status?.servedDigests?.map((d) => `${shortDigest(d.digest)}=${d.count}`).join(',');
  const placements = o.status?.placements?.map((p) => `${p.plugin}/${p.executionProvider}/${p.precision}=${p.nodes}`).join(',');
  return [...row, waveText(o), digests || NONE, placements || NONE];
}

export const GET_HEADER = ['NAME', 'MODEL', 'VERSION', 'READY', 'UPDATED', 'PHASE', 'AGE'] as const;
export const WIDE_HEADER = [...GET_HEADER, 'WAVE', 'DIGESTS', 'PLACEMENTS'] as const;

/** The `get` table for a list of objects; NAMESPACE comes first across namespaces. */
export function slmdTable(items: readonly SlmdObject[], now: Date, opts: { wide: boolean; withNamespace: boolean }): string {
  const header = [...(opts.withNamespace ? ['NAMESPACE'] : []), ...(opts.wide ? WIDE_HEADER : GET_HEADER)];
  const rows = items.map((o) => [...(opts.withNamespace ? [o.metadata.namespace ?? ''] : []), ...slmdRow(o, now, opts.wide)]);
  return table(header, rows);
}

/** -o json / -o yaml of one object, or a v1 List of several (as kubectl prints them). */
export function serialize(value: KubeObject | readonly KubeObject[], format: 'json' | 'yaml'): string {
  const doc = Array.isArray(value) ? { apiVersion: 'v1', kind: 'List', items: value, metadata: { resourceVersion: '' } } : value;
  return format === 'json' ? JSON.stringify(doc, null, 4) : stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false }).trimEnd();
}

/** kubectl's `-o name`: resource.group/name. */
export const objectName = (o: KubeObject) => `slmdeployment.slmops.io/${o.metadata.name}`;
