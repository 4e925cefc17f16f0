/** The JSONPath subset printer columns use: `.a.b`, `['a']`, `[0]`, `[*]`, `[?(@.type=="Ready")]`. */

type Step = { kind: 'field'; name: string } | { kind: 'index'; index: number } | { kind: 'all' } | { kind: 'filter'; path: string[]; op: '==' | '!='; value: unknown };

const cache = new Map<string, Step[]>();

function parse(expr: string): Step[] {
  const cached = cache.get(expr);
  if (cached) return cached;
  const steps: Step[] = [];
  let s = expr.trim().replace(/^\{(.*)\}$/, '$1').replace(/^\$/, '');
  while (s.length > 0) {
    let m: RegExpMatchArray | null;
    if ((m = s.match(/^\.([A-Za-z0-9_\-$/]+)/))) steps.push({ kind: 'field', name: m[1]! });
    else if ((m = s.match(/^\[['"]([^'"]+)['"]\]/))) steps.push({ kind: 'field', name: m[1]! });
    else if ((m = s.match(/^\[(\d+)\]/))) steps.push({ kind: 'index', index: Number(m[1]) });
    else if ((m = s.match(/^\[\*\]/))) steps.push({ kind: 'all' });
    else if ((m = s.match(/^\[\?\(@((?:\.[A-Za-z0-9_\-]+)+)\s*(==|!=)\s*("[^"]*"|'[^']*'|[^)\s]+)\s*\)\]/))) {
      const raw = m[3]!;
      const value = /^['"]/.test(raw) ? raw.slice(1, -1) : raw === 'true' ? true : raw === 'false' ? false : Number.isNaN(Number(raw)) ? raw : Number(raw);
      steps.push({ kind: 'filter', path: m[1]!.slice(1).split('.'), op: m[2] as '==' | '!=', value });
    } else throw new Error(`unsupported JSONPath ${JSON.stringify(expr)} at ${JSON.stringify(s)}`);
    s = s.slice(m[0].length);
  }
  cache.set(expr, steps);
  return steps;
}

/** Every value the path selects (an empty list when nothing matches). */
export function jsonPath(obj: unknown, expr: string): unknown[] {
  let cur: unknown[] = [obj];
  for (const step of parse(expr)) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (v === null || typeof v !== 'object') continue;
      if (step.kind === 'field') {
        const child = (v as Record<string, unknown>)[step.name];
        if (child !== undefined) next.push(child);
      } else if (!Array.isArray(v)) {
        if (step.kind === 'all') next.push(...Object.values(v));
      } else if (step.kind === 'index') {
        if (step.index < v.length) next.push(v[step.index]);
      } else if (step.kind === 'all') next.push(...v);
      else {
        for (const item of v) {
          let x: unknown = item;
          for (const p of step.path) x = x !== null && typeof x === 'object' ? (x as Record<string, unknown>)[p] : undefined;
          if ((x === step.value) === (step.op === '==')) next.push(item);
        }
      }
    }
    cur = next;
  }
  return cur;
}
