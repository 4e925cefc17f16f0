/** Label and field selector matching for the fake (the API server does this for the real client). */

type Requirement =
  | { key: string; op: 'exists' | 'notexists' }
  | { key: string; op: 'in' | 'notin'; values: string[] };

/** Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h`; throws a 400-worthy message on bad syntax. */
export function parseLabelSelector(selector: string): Requirement[] {
  const out: Requirement[] = [];
  // Split on commas outside parentheses.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  for (const raw of parts) {
    const part = raw.trim();
    if (part === '') continue;
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      out.push({ key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '') });
    } else if ((m = part.match(/^([^\s!=]+)\s*(==|=|!=)\s*([^\s!=]*)$/))) {
      out.push({ key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] });
    } else if ((m = part.match(/^!\s*([^\s!=]+)$/))) out.push({ key: m[1]!, op: 'notexists' });
    else if ((m = part.match(/^([^\s!=()]+)$/))) out.push({ key: m[1]!, op: 'exists' });
    else throw new Error(`unable to parse requirement: ${JSON.stringify(part)}`);
  }
  return out;
}

export function matchesLabelSelector(requirements: readonly Requirement[], labels: Record<string, string> | undefined): boolean {
  return requirements.every((r) => {
    const v = labels?.[r.key];
    switch (r.op) {
      case 'exists':
        return v !== undefined;
      case 'notexists':
        return v === undefined;
      case 'in':
        return v !== undefined && r.values.includes(v);
      case 'notin':
        return v === undefined || !r.values.includes(v);
    }
  });
}

/** `metadata.name=x,metadata.namespace!=y` (other fields are compared by their dotted path). */
export function matchesFieldSelector(selector: string | undefined, object: Record<string, unknown>): boolean {
  if (!selector) return true;
  return selector.split(',').every((part) => {
    const m = part.trim().match(/^([^!=]+)(==|=|!=)(.*)$/);
    if (!m) throw new Error(`invalid field selector: ${JSON.stringify(part)}`);
    let v: unknown = object;
    for (const k of m[1]!.trim().split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
    const equal = String(v ?? '') === m[3]!.trim();
    return m[2] === '!=' ? !equal : equal;
  });
}
