export { alertRules, type AlertRule, type RuleGroups } from './alerts.js';
export { dashboards } from './dashboards.js';
export { type PanelExpr, type Substitutions, panelExpressions, recordingRules, substitute } from './expressions.js';
export { RULES_FILE, renderFiles } from './files.js';
export { DATASOURCE, GENERATED_BANNER, type Json, SCHEMA_VERSION, renderDashboard } from './grafana.js';
export * from './processes.js';
