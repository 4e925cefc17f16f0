/**
 * An in-process implementation of MetricsRegistryPort: it checks families the way Prometheus would and renders
 * the text exposition format. Tests and the standalone exporter use it; prom-client adapters mirror its checks.
 */
import type { MetricFamily, MetricSample, MetricsRegistryPort } from './public-api.js';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export interface CollectedFamily {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: MetricSample[];
}

export interface SampleRegistry extends MetricsRegistryPort {
  /** Registered family names, in registration order. */
  names(): string[];
  /** Calls every family's collect() and checks the samples; a family whose collect throws is reported as an error. */
  collect(): Promise<CollectedFamily[]>;
  /** Prometheus text exposition format (version 0.0.4). */
  render(): Promise<string>;
}

/** Throws when a family definition would be rejected by a Prometheus client registry. */
export function checkMetricFamily(family: MetricFamily, type: 'gauge' | 'counter'): void {
  if (!METRIC_NAME.test(family.name)) throw new Error(`metric name "${family.name}" is not a valid Prometheus name`);
  if (type === 'counter' && !family.name.endsWith('_total')) throw new Error(`counter "${family.name}" must end in _total`);
  if (!family.help) throw new Error(`metric ${family.name}: help must not be empty`);
  for (const l of family.labelNames ?? []) {
    if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new Error(`metric ${family.name}: label name "${l}" is invalid`);
  }
}

function checkSamples(family: MetricFamily, type: 'gauge' | 'counter', samples: readonly MetricSample[]): void {
  const allowed = new Set(family.labelNames ?? []);
  const seen = new Set<string>();
  for (const s of samples) {
    if (typeof s.value !== 'number' || Number.isNaN(s.value)) throw new Error(`metric ${family.name}: sample value ${String(s.value)} is not a number`);
    if (type === 'counter' && s.value < 0) throw new Error(`metric ${family.name}: counter value ${s.value} is negative`);
    const labels = s.labels ?? {};
    for (const k of Object.keys(labels)) if (!allowed.has(k)) throw new Error(`metric ${family.name}: label "${k}" is not declared in labelNames`);
    const id = JSON.stringify(Object.entries(labels).sort());
    if (seen.has(id)) throw new Error(`metric ${family.name}: duplicate sample for labels ${id}`);
    seen.add(id);
  }
}

const escapeHelp = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const formatValue = (v: number): string => (v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));

export function createSampleRegistry(): SampleRegistry {
  const families = new Map<string, { family: MetricFamily; type: 'gauge' | 'counter' }>();
  const add = (type: 'gauge' | 'counter') => (family: MetricFamily) => {
    checkMetricFamily(family, type);
    if (families.has(family.name)) throw new Error(`metric ${family.name} is already registered`);
    families.set(family.name, { family, type });
  };
  const collect = async (): Promise<CollectedFamily[]> => {
    const out: CollectedFamily[] = [];
    for (const { family, type } of families.values()) {
      const samples = [...(await family.collect())];
      checkSamples(family, type, samples);
      out.push({ name: family.name, help: family.help, type, samples });
    }
    return out;
  };
  return {
    gauge: add('gauge'),
    counter: add('counter'),
    names: () => [...families.keys()],
    collect,
    async render() {
      const lines: string[] = [];
      for (const f of await collect()) {
        lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
        for (const s of f.samples) {
          const labels = Object.entries(s.labels ?? {});
          const l = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
          lines.push(`${f.name}${l} ${formatValue(s.value)}`);
        }
      }
      return lines.length ? `${lines.join('\n')}\n` : '';
    },
  };
}
