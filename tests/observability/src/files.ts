/** The generated chart files, path (relative to charts/slmops) -> text; generate.ts writes them, a test compares. */
import { stringify } from 'yaml';
import { alertRules } from './alerts.js';
import { dashboards } from './dashboards.js';
import { GENERATED_BANNER, renderDashboard } from './grafana.js';

export const RULES_FILE = 'alerts/slmops-rules.yaml';

export function renderFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(dashboards)) out[`dashboards/${name}.json`] = `${JSON.stringify(renderDashboard(spec), null, 2)}\n`;
  out[RULES_FILE] = `# ${GENERATED_BANNER}\n# Rule groups: a Prometheus rules file as is, or the spec of a PrometheusRule.\n${stringify(alertRules, { lineWidth: 0 })}`;
  return out;
}
