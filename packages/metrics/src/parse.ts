/**
 * A parser for the Prometheus text exposition format (version 0.0.4, as prom-client and the sidecar write it)
 * and PromQL's histogram_quantile, so the operator can gate rollouts on pods' own /metrics without Prometheus.
 */

export type FamilyType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name, e.g. `x_bucket` inside family `x`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** Milliseconds since the epoch when the exposition carries one. */
  readonly timestamp?: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly type: FamilyType;
  readonly help: string;
  readonly samples: Sample[];
}

/** One cumulative histogram bucket: `count` observations were <= `upperBound`. */
export interface Bucket {
  readonly upperBound: number;
  readonly count: number;
}

/** A line of the exposition that is not valid text format; `line` is 1-based. */
export class ExpositionParseError extends Error {
  constructor(
    readonly line: number,
    detail: string,
  ) {
    super(`metrics exposition line ${line}: ${detail}`);
    this.name = 'ExpositionParseError';
  }
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/**
 * Parses a float as Go's strconv.ParseFloat does for Prometheus: NaN/Inf/Infinity in any case (prom-client
 * writes `Nan`), optional sign, exponents; throws on anything else.
 */
export function parseSampleValue(text: string): number {
  switch (text.toLowerCase()) {
    case 'nan':
      return Number.NaN;
    case '+inf':
    case 'inf':
    case '+infinity':
    case 'infinity':
      return Number.POSITIVE_INFINITY;
    case '-inf':
    case '-infinity':
      return Number.NEGATIVE_INFINITY;
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`"${text}" is not a number`);
  return Number(text);
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
}

/** The family a sample name belongs to, given the declared types (histogram/summary suffixes fold in). */
function familyOf(sampleName: string, types: ReadonlyMap<string, FamilyType>): string {
  for (const [suffix, kinds] of [
    ['_bucket', ['histogram']],
    ['_sum', ['histogram', 'summary']],
    ['_count', ['histogram', 'summary']],
  ] as const) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    const t = types.get(base);
    if (t && (kinds as readonly string[]).includes(t)) return base;
  }
  return sampleName;
}

interface Cursor {
  s: string;
  i: number;
  line: number;
}

function fail(c: Cursor, detail: string): never {
  throw new ExpositionParseError(c.line, detail);
}

function skipBlanks(c: Cursor): void {
  while (c.s[c.i] === ' ' || c.s[c.i] === '\t') c.i++;
}

function readLabels(c: Cursor): Record<string, string> {
  const labels: Record<string, string> = {};
  c.i++; // '{'
  for (;;) {
    skipBlanks(c);
    if (c.s[c.i] === '}') {
      c.i++;
      return labels;
    }
    const m = LABEL_RE.exec(c.s.slice(c.i));
    if (!m) fail(c, `expected a label name at column ${c.i + 1}`);
    const name = m[0];
    c.i += name.length;
    skipBlanks(c);
    if (c.s[c.i] !== '=') fail(c, `expected '=' after label ${name}`);
    c.i++;
    skipBlanks(c);
    if (c.s[c.i] !== '"') fail(c, `expected '"' to open the value of label ${name}`);
    c.i++;
    let value = '';
    for (;;) {
      const ch = c.s[c.i];
      if (ch === undefined) fail(c, `unterminated value of label ${name}`);
      c.i++;
      if (ch === '"') break;
      if (ch === '\\') {
        const esc = c.s[c.i++];
        if (esc === 'n') value += '\n';
        else if (esc === '\\' || esc === '"') value += esc;
        else fail(c, `invalid escape \\${esc ?? ''} in label ${name}`);
      } else value += ch;
    }
    if (Object.hasOwn(labels, name)) fail(c, `label ${name} appears twice`);
    labels[name] = value;
    skipBlanks(c);
    if (c.s[c.i] === ',') c.i++;
    else if (c.s[c.i] !== '}') fail(c, `expected ',' or '}' after label ${name}`);
  }
}

/**
 * Parses a text exposition into families in order of first appearance. `_bucket`/`_sum`/`_count` samples join
 * their declared histogram (or summary) family; samples with no `# TYPE` form untyped families of their own.
 */
export function parseExposition(text: string): MetricFamily[] {
  const types = new Map<string, FamilyType>();
  const helps = new Map<string, string>();
  const lines = text.split('\n');
  // First pass for TYPE lines, so a family's samples fold in even if TYPE came after HELP.
  lines.forEach((raw, idx) => {
    const m = /^#\s*TYPE\s+(\S+)\s+(\S+)\s*$/.exec(raw.trim());
    if (!m) return;
    const [, name, type] = m as unknown as [string, string, string];
    if (!TYPES.has(type)) throw new ExpositionParseError(idx + 1, `unknown metric type "${type}" for ${name}`);
    if (types.has(name)) throw new ExpositionParseError(idx + 1, `second TYPE line for ${name}`);
    types.set(name, type as FamilyType);
  });
  const families = new Map<string, { name: string; samples: Sample[] }>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, samples: [] }));
    return f;
  };
  lines.forEach((raw, idx) => {
    const line = raw.replace(/\r$/, '');
    const c: Cursor = { s: line, i: 0, line: idx + 1 };
    skipBlanks(c);
    if (c.i >= line.length) return;
    if (line[c.i] === '#') {
      const help = /^#\s*HELP\s+(\S+)(?:[ \t](.*))?$/.exec(line.slice(c.i));
      if (help) {
        helps.set(help[1]!, unescapeHelp(help[2] ?? ''));
        family(help[1]!);
      } else {
        const type = /^#\s*TYPE\s+(\S+)/.exec(line.slice(c.i));
        if (type) family(type[1]!);
      }
      return; // other comments (and OpenMetrics' # EOF) carry no samples
    }
    const nm = NAME_RE.exec(line.slice(c.i));
    if (!nm) fail(c, `expected a metric name, got "${line.slice(c.i, c.i + 20)}"`);
    const name = nm[0];
    c.i += name.length;
    skipBlanks(c);
    const labels = line[c.i] === '{' ? readLabels(c) : {};
    skipBlanks(c);
    const rest = line.slice(c.i).trim().split(/[ \t]+/);
    if (rest.length === 0 || rest[0] === '') fail(c, `sample ${name} has no value`);
    if (rest.length > 2) fail(c, `unexpected text after the sample of ${name}`);
    let value: number;
    let timestamp: number | undefined;
    try {
      value = parseSampleValue(rest[0]!);
      if (rest[1] !== undefined) {
        if (!/^-?\d+$/.test(rest[1])) throw new Error(`timestamp "${rest[1]}" is not an integer`);
        timestamp = Number(rest[1]);
      }
    } catch (e) {
      fail(c, `sample ${name}: ${(e as Error).message}`);
    }
    const sample: Sample = timestamp === undefined ? { name, labels, value } : { name, labels, value, timestamp };
    family(familyOf(name, types)).samples.push(sample);
  });
  return [...families.values()].map((f) => ({
    name: f.name,
    type: types.get(f.name) ?? 'untyped',
    help: helps.get(f.name) ?? '',
    samples: f.samples,
  }));
}

/** True when every `match` label is present in `labels` with the same value. */
export function labelsMatch(labels: Readonly<Record<string, string>>, match: Readonly<Record<string, string>> = {}): boolean {
  return Object.entries(match).every(([k, v]) => labels[k] === v);
}

/** Sum of the values of samples named `sampleName` whose labels include `match` (0 when none). */
export function sumSamples(families: readonly MetricFamily[], sampleName: string, match?: Readonly<Record<string, string>>): number {
  let total = 0;
  for (const f of families)
    for (const s of f.samples) if (s.name === sampleName && labelsMatch(s.labels, match)) total += s.value;
  return total;
}

/**
 * The cumulative buckets of histogram family `name`, summed across all label sets matching `match` per `le`
 * (PromQL `sum by (le)`), sorted by upper bound. Empty when the family is absent.
 */
export function histogramBuckets(families: readonly MetricFamily[], name: string, match?: Readonly<Record<string, string>>): Bucket[] {
  const byLe = new Map<number, number>();
  for (const f of families) {
    if (f.name !== name) continue;
    for (const s of f.samples) {
      if (s.name !== `${name}_bucket` || !labelsMatch(s.labels, match)) continue;
      const le = s.labels['le'];
      if (le === undefined) continue;
      const bound = parseSampleValue(le);
      byLe.set(bound, (byLe.get(bound) ?? 0) + s.value);
    }
  }
  return [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([upperBound, count]) => ({ upperBound, count }));
}

/** Adds two bucket lists per upper bound (e.g. the same histogram from two pods). */
export function mergeBuckets(a: readonly Bucket[], b: readonly Bucket[]): Bucket[] {
  const byLe = new Map<number, number>();
  for (const x of [...a, ...b]) byLe.set(x.upperBound, (byLe.get(x.upperBound) ?? 0) + x.count);
  return [...byLe.entries()].sort((x, y) => x[0] - y[0]).map(([upperBound, count]) => ({ upperBound, count }));
}

/**
 * PromQL histogram_quantile over cumulative buckets (promql/quantile.go bucketQuantile): NaN without a +Inf
 * bucket, with fewer than two buckets or no observations; -Inf/+Inf for q < 0 / q > 1; linear interpolation
 * inside the bucket holding the rank; the highest finite bound when the rank falls in the +Inf bucket.
 */
export function histogramQuantile(buckets: readonly Bucket[], q: number): number {
  if (Number.isNaN(q)) return Number.NaN;
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  const sorted = [...buckets].sort((a, b) => a.upperBound - b.upperBound);
  // Coalesce equal bounds and force monotonic counts, as Prometheus does for scrape races.
  const bs: { upperBound: number; count: number }[] = [];
  for (const b of sorted) {
    const last = bs.at(-1);
    if (last && last.upperBound === b.upperBound) last.count += b.count;
    else bs.push({ upperBound: b.upperBound, count: b.count });
  }
  if (bs.length === 0 || bs.at(-1)!.upperBound !== Number.POSITIVE_INFINITY) return Number.NaN;
  let max = Number.NEGATIVE_INFINITY;
  for (const b of bs) {
    if (b.count > max) max = b.count;
    else b.count = max;
  }
  if (bs.length < 2) return Number.NaN;
  const observations = bs.at(-1)!.count;
  if (!(observations > 0)) return Number.NaN;
  let rank = q * observations;
  let idx = bs.findIndex((b) => b.count >= rank);
  if (idx < 0) idx = bs.length - 1;
  if (idx === bs.length - 1) return bs[bs.length - 2]!.upperBound;
  if (idx === 0 && bs[0]!.upperBound <= 0) return bs[0]!.upperBound;
  let start = 0;
  const end = bs[idx]!.upperBound;
  let count = bs[idx]!.count;
  if (idx > 0) {
    start = bs[idx - 1]!.upperBound;
    count -= bs[idx - 1]!.count;
    rank -= bs[idx - 1]!.count;
  }
  return start + (end - start) * (rank / count);
}
