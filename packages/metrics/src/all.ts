import { type MetricDefinition, servingMetrics } from './catalogue.js';
import { nodeMetrics } from './node-catalogue.js';
import { operatorMetrics } from './operator-catalogue.js';

/** Every definition of the catalogue, for uniqueness checks, docs and dashboards. */
export const catalogue: readonly MetricDefinition[] = [
  ...Object.values(servingMetrics),
  ...Object.values(operatorMetrics),
  ...Object.values(nodeMetrics),
];
