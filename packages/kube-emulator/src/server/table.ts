/**
 * meta.k8s.io/v1 Table conversion, as `kubectl get` asks for it: custom resources use their CRD's
 * additionalPrinterColumns, built-in kinds the columns kube-apiserver prints for them.
 */
import type { PrinterColumn } from '@slmops/api';
import { jsonPath } from './jsonpath.js';
import type { ResourceType } from './registry.js';
import type { KubeObject } from './types.js';
import { isPlainObject } from './types.js';
import { humanDuration } from './util.js';

export interface TableColumn {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface TableRow {
  cells: unknown[];
  object: unknown;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: TableColumn[];
  rows: TableRow[];
}

type Cell = (o: KubeObject, now: number) => unknown;
interface Column {
  def: TableColumn;
  cell: Cell;
}

const NAME: Column = {
  def: { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace. More info: http://kubernetes.io/docs/user-guide/identifiers#names', priority: 0 },
  cell: (o) => o.metadata.name,
};
const age = (o: KubeObject, now: number) => (o.metadata.creationTimestamp ? humanDuration(now - Date.parse(o.metadata.creationTimestamp)) : '<unknown>');
const AGE: Column = { def: { name: 'Age', type: 'string', format: '', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.', priority: 0 }, cell: age };

const col = (name: string, cell: Cell, priority = 0, type = 'string'): Column => ({ def: { name, type, format: '', description: '', priority }, cell });
const get = (o: unknown, path: string): unknown => jsonPath(o, path)[0];
const num = (o: unknown, path: string) => (typeof get(o, path) === 'number' ? (get(o, path) as number) : 0);

function podReady(o: KubeObject): string {
  const statuses = (get(o, '.status.containerStatuses') as { ready?: boolean }[] | undefined) ?? [];
  const total = ((get(o, '.spec.containers') as unknown[] | undefined) ?? []).length;
  return `${statuses.filter((s) => s.ready).length}/${total}`;
}

function podStatus(o: KubeObject): string {
  if (o.metadata.deletionTimestamp) return 'Terminating';
  const waiting = ((get(o, '.status.containerStatuses') as { state?: { waiting?: { reason?: string } } }[] | undefined) ?? []).find((s) => s.state?.waiting?.reason);
  return waiting?.state?.waiting?.reason ?? (get(o, '.status.reason') as string | undefined) ?? (get(o, '.status.phase') as string | undefined) ?? 'Unknown';
}

function nodeStatus(o: KubeObject): string {
  const ready = jsonPath(o, '.status.conditions[?(@.type=="Ready")].status')[0];
  const s = ready === 'True' ? 'Ready' : ready === undefined ? 'Unknown' : 'NotReady';
  return get(o, '.spec.unschedulable') === true ? `${s},SchedulingDisabled` : s;
}

function nodeRoles(o: KubeObject): string {
  const roles = Object.keys(o.metadata.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length));
  return roles.length > 0 ? roles.sort().join(',') : '<none>';
}

const containers = (o: unknown, path: string, field: 'name' | 'image') => ((get(o, path) as Record<string, string>[] | undefined) ?? []).map((c) => c[field]).join(',');

function selectorText(o: unknown, path: string): string {
  const sel = get(o, path);
  if (!isPlainObject(sel)) return '<none>';
  const labels = Object.entries((sel['matchLabels'] as Record<string, string> | undefined) ?? {}).map(([k, v]) => `${k}=${v}`);
  return labels.length > 0 ? labels.join(',') : '<none>';
}

function servicePorts(o: KubeObject): string {
  const ports = (get(o, '.spec.ports') as { port: number; protocol?: string; nodePort?: number }[] | undefined) ?? [];
  return ports.length === 0 ? '<none>' : ports.map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',');
}

const builtinColumns: Record<string, Column[]> = {
  Pod: [
    NAME,
    col('Ready', podReady),
    col('Status', podStatus),
    col('Restarts', (o) => ((get(o, '.status.containerStatuses') as { restartCount?: number }[] | undefined) ?? []).reduce((n, s) => n + (s.restartCount ?? 0), 0), 0, 'string'),
    AGE,
    col('IP', (o) => get(o, '.status.podIP') ?? '<none>', 1),
    col('Node', (o) => get(o, '.spec.nodeName') ?? '<none>', 1),
    col('Nominated Node', (o) => get(o, '.status.nominatedNodeName') ?? '<none>', 1),
    col('Readiness Gates', () => '<none>', 1),
  ],
  Node: [NAME, col('Status', nodeStatus), col('Roles', nodeRoles), AGE, col('Version', (o) => get(o, '.status.nodeInfo.kubeletVersion') ?? ''), col('Internal-IP', (o) => jsonPath(o, '.status.addresses[?(@.type=="InternalIP")].address')[0] ?? '<none>', 1), col('OS-Image', (o) => get(o, '.status.nodeInfo.osImage') ?? '<unknown>', 1)],
  Namespace: [NAME, col('Status', (o) => get(o, '.status.phase') ?? ''), AGE],
  Deployment: [
    NAME,
    col('Ready', (o) => `${num(o, '.status.readyReplicas')}/${num(o, '.spec.replicas')}`),
    col('Up-to-date', (o) => num(o, '.status.updatedReplicas'), 0, 'integer'),
    col('Available', (o) => num(o, '.status.availableReplicas'), 0, 'integer'),
    AGE,
    col('Containers', (o) => containers(o, '.spec.template.spec.containers', 'name'), 1),
    col('Images', (o) => containers(o, '.spec.template.spec.containers', 'image'), 1),
    col('Selector', (o) => selectorText(o, '.spec.selector'), 1),
  ],
  ReplicaSet: [
    NAME,
    col('Desired', (o) => num(o, '.spec.replicas'), 0, 'integer'),
    col('Current', (o) => num(o, '.status.replicas'), 0, 'integer'),
    col('Ready', (o) => num(o, '.status.readyReplicas'), 0, 'integer'),
    AGE,
    col('Containers', (o) => containers(o, '.spec.template.spec.containers', 'name'), 1),
    col('Images', (o) => containers(o, '.spec.template.spec.containers', 'image'), 1),
    col('Selector', (o) => selectorText(o, '.spec.selector'), 1),
  ],
  DaemonSet: [
    NAME,
    col('Desired', (o) => num(o, '.status.desiredNumberScheduled'), 0, 'integer'),
    col('Current', (o) => num(o, '.status.currentNumberScheduled'), 0, 'integer'),
    col('Ready', (o) => num(o, '.status.numberReady'), 0, 'integer'),
    col('Up-to-date', (o) => num(o, '.status.updatedNumberScheduled'), 0, 'integer'),
    col('Available', (o) => num(o, '.status.numberAvailable'), 0, 'integer'),
    col('Node Selector', (o) => Object.entries((get(o, '.spec.template.spec.nodeSelector') as Record<string, string> | undefined) ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>'),
    AGE,
  ],
  Service: [NAME, col('Type', (o) => get(o, '.spec.type')), col('Cluster-IP', (o) => get(o, '.spec.clusterIP') ?? '<none>'), col('External-IP', () => '<none>'), col('Port(s)', servicePorts), AGE],
  ConfigMap: [NAME, col('Data', (o) => Object.keys((o['data'] as object | undefined) ?? {}).length + Object.keys((o['binaryData'] as object | undefined) ?? {}).length, 0, 'integer'), AGE],
  Secret: [NAME, col('Type', (o) => o['type']), col('Data', (o) => Object.keys((o['data'] as object | undefined) ?? {}).length, 0, 'integer'), AGE],
  Event: [
    col('Last Seen', (o, now) => {
      const t = (o['lastTimestamp'] ?? o['eventTime'] ?? o.metadata.creationTimestamp) as string | undefined;
      return t ? humanDuration(now - Date.parse(t)) : '<unknown>';
    }),
    col('Type', (o) => o['type']),
    col('Reason', (o) => o['reason']),
    col('Object', (o) => `${String(get(o, '.involvedObject.kind') ?? '').toLowerCase()}/${String(get(o, '.involvedObject.name') ?? '')}`),
    col('Message', (o) => o['message']),
  ],
  CustomResourceDefinition: [NAME, col('Created At', (o) => o.metadata.creationTimestamp, 0, 'date')],
  Lease: [NAME, col('Holder', (o) => get(o, '.spec.holderIdentity') ?? ''), AGE],
};

/** A printer-column cell from a JSONPath result, typed as the API server's table convertor does. */
function customCell(c: PrinterColumn, o: KubeObject, now: number): unknown {
  let results: unknown[];
  try {
    results = jsonPath(o, c.jsonPath);
  } catch {
    return null;
  }
  const v = results[0];
  if (v === undefined || v === null) return null;
  switch (c.type) {
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v) ? v : null;
    case 'number':
      return typeof v === 'number' ? v : null;
    case 'boolean':
      return typeof v === 'boolean' ? v : null;
    case 'date':
      return typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? humanDuration(now - Date.parse(v)) : null;
    default:
      return typeof v === 'string' ? v : JSON.stringify(v);
  }
}

function columnsFor(t: ResourceType): Column[] {
  if (t.custom) {
    const printer = t.printerColumns ?? [];
    if (printer.length === 0) return [NAME, { def: { ...AGE.def, type: 'date' }, cell: age }];
    return [
      NAME,
      ...printer.map((c) => ({
        def: { name: c.name, type: c.type, format: '', description: c.description ?? '', priority: c.priority ?? 0 },
        cell: (o: KubeObject, now: number) => customCell(c, o, now),
      })),
    ];
  }
  return builtinColumns[t.kind] ?? [NAME, AGE];
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

function rowObject(o: KubeObject, include: IncludeObject): unknown {
  if (include === 'None') return null;
  if (include === 'Object') return o;
  const { managedFields: _m, ...metadata } = o.metadata;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata };
}

/** The Table for a list (or one object); `withColumns` false leaves column definitions out (later watch events). */
export function toTable(t: ResourceType, objects: readonly KubeObject[], meta: Table['metadata'], now: number, include: IncludeObject = 'Metadata', withColumns = true): Table {
  const columns = columnsFor(t);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: meta,
    columnDefinitions: withColumns ? columns.map((c) => c.def) : [],
    rows: objects.map((o) => ({ cells: columns.map((c) => c.cell(o, now) ?? null), object: rowObject(o, include) })),
  };
}
