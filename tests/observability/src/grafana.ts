/** A small typed model of the Grafana dashboard JSON (schemaVersion 39) that the SLMOps dashboards are built from. */

export const SCHEMA_VERSION = 39;
/** Every panel and query reads the dashboard's `datasource` variable; no datasource UID is ever written down. */
export const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;
export const GENERATED_BANNER =
  'Generated from the SLMOps metric catalogue by tests/observability (npm run generate -w @slmops/observability-tests); do not edit by hand.';

export interface Target {
  expr: string;
  legendFormat: string;
  /** Table panels show the latest value only. */
  instant?: boolean;
}

export interface PanelSpec {
  title: string;
  description: string;
  type?: 'timeseries' | 'stat' | 'table' | 'bargauge';
  /** Grafana unit id: s, percentunit, percent, bytes, watt, joule, celsius, reqps, short, none, rotmhz, … */
  unit: string;
  targets: Target[];
  /** Grid width (24 = full row); default 12. */
  w?: number;
  h?: number;
  stack?: boolean;
}

export interface VariableSpec {
  name: string;
  label: string;
  /** A Grafana Prometheus variable query, e.g. label_values(slmops_model_info, namespace). */
  query: string;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: VariableSpec[];
  panels: PanelSpec[];
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Lays panels out left to right, top to bottom, with ids 1..n in order. */
function panels(specs: readonly PanelSpec[]): Json[] {
  let x = 0;
  let y = 0;
  let rowH = 0;
  return specs.map((p, i) => {
    const w = p.w ?? 12;
    const h = p.h ?? 8;
    if (x + w > 24) {
      x = 0;
      y += rowH;
      rowH = 0;
    }
    const gridPos = { h, w, x, y };
    x += w;
    rowH = Math.max(rowH, h);
    const type = p.type ?? 'timeseries';
    const custom: Record<string, Json> =
      type === 'timeseries' ? { drawStyle: 'line', lineWidth: 1, fillOpacity: p.stack ? 30 : 10, showPoints: 'never', spanNulls: false, stacking: { mode: p.stack ? 'normal' : 'none', group: 'A' } } : {};
    const options: Record<string, Json> =
      type === 'timeseries'
        ? { legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['lastNotNull', 'max'] }, tooltip: { mode: 'multi', sort: 'desc' } }
        : type === 'table'
          ? { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], countRows: false } }
          : { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, orientation: 'auto', textMode: 'auto', colorMode: 'value', graphMode: 'area', justifyMode: 'auto' };
    return {
      id: i + 1,
      type,
      title: p.title,
      description: p.description,
      datasource: { ...DATASOURCE },
      gridPos,
      fieldConfig: { defaults: { unit: p.unit, custom, color: { mode: 'palette-classic' }, thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] } }, overrides: [] },
      options,
      targets: p.targets.map((t, j) => ({
        datasource: { ...DATASOURCE },
        refId: String.fromCharCode(65 + j),
        expr: t.expr,
        legendFormat: t.legendFormat,
        editorMode: 'code',
        range: !t.instant && type === 'timeseries',
        instant: Boolean(t.instant) || type !== 'timeseries',
        ...(type === 'table' ? { format: 'table' } : {}),
      })),
    };
  });
}

/** The dashboard JSON Grafana imports (and the chart's sidecar-discovered ConfigMaps carry). */
export function renderDashboard(d: DashboardSpec): Json {
  return {
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    description: `${d.description} ${GENERATED_BANNER}`,
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    id: null,
    links: [],
    panels: panels(d.panels),
    refresh: '30s',
    schemaVersion: SCHEMA_VERSION,
    tags: d.tags,
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, includeAll: false, multi: false, options: [], refresh: 1, regex: '', skipUrlSync: false },
        ...d.variables.map(
          (v): Json => ({
            name: v.name,
            label: v.label,
            type: 'query',
            datasource: { ...DATASOURCE },
            definition: v.query,
            query: { query: v.query, refId: 'PrometheusVariableQueryEditor-VariableQuery', qryType: 1 },
            current: {},
            hide: 0,
            includeAll: true,
            allValue: '.*',
            multi: true,
            options: [],
            refresh: 2,
            regex: '',
            skipUrlSync: false,
            sort: 1,
          }),
        ),
      ],
    },
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: '',
    title: d.title,
    uid: d.uid,
    version: 1,
    weekStart: '',
  };
}
