/** The PromQL of every dashboard panel and variable, with Grafana's variables replaced by concrete values. */
import type { Json } from './grafana.js';

export interface PanelExpr {
  dashboard: string;
  panelId: number;
  title: string;
  refId: string;
  /** As written in the dashboard, with $variables. */
  raw: string;
}

/** Values for Grafana's variables; "All" of a multi-value variable is `.*` (the variables' allValue). */
export interface Substitutions {
  rateInterval: string;
  range: string;
  values?: Record<string, string>;
}

export function panelExpressions(dashboard: Json): PanelExpr[] {
  const d = dashboard as { uid: string; panels: Array<{ id: number; title: string; targets: Array<{ refId: string; expr: string }> }> };
  return d.panels.flatMap((p) => p.targets.map((t) => ({ dashboard: d.uid, panelId: p.id, title: p.title, refId: t.refId, raw: t.expr })));
}

/** Replaces $__rate_interval, $__range and $name / ${name}; throws naming any variable left unknown. */
export function substitute(expr: string, s: Substitutions): string {
  const out = expr
    .replaceAll('$__rate_interval', s.rateInterval)
    .replaceAll('$__range', s.range)
    .replace(/\$\{?([A-Za-z_]\w*)\}?/g, (m, name: string) => s.values?.[name] ?? (name.startsWith('__') ? m : '.*'));
  const left = /\$\{?\w+/.exec(out);
  if (left) throw new Error(`expression still has ${left[0]} after substitution: ${expr}`);
  return out;
}

/** A rules file with one recording rule per panel expression, so `promtool check rules` parses every query. */
export function recordingRules(dashboards: readonly Json[], s: Substitutions): { groups: Array<{ name: string; rules: Array<{ record: string; expr: string }> }> } {
  return {
    groups: dashboards.map((d) => {
      const uid = (d as { uid: string }).uid;
      return {
        name: `dashboard-${uid}`,
        rules: panelExpressions(d).map((e) => ({ record: `slmops_dashboard:${uid.replaceAll('-', '_')}:panel${e.panelId}_${e.refId}`, expr: substitute(e.raw, s) })),
      };
    }),
  };
}
