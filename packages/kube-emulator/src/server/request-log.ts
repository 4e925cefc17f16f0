/** Every request the emulator served, with counters by verb and resource, so tests can assert on traffic. */

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'discovery' | 'openapi' | 'other';

export const WRITE_VERBS: readonly Verb[] = ['create', 'update', 'patch', 'delete', 'deletecollection'];

export interface RequestLogEntry {
  /** Position in the log, 1-based; `mark()` returns the last one. */
  seq: number;
  time: string;
  verb: Verb;
  /** `pods`, `deployments.apps`, `slmdeployments.slmops.io`; empty for discovery and OpenAPI. */
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  code: number;
  /** The HTTP user agent, or the `client` an in-process caller named. */
  client: string;
  /** The User-Agent header (HTTP requests only). */
  userAgent?: string;
  source: 'http' | 'in-process';
  method?: string;
  path?: string;
  fieldManager?: string;
}

export interface RequestFilter {
  verb?: Verb | readonly Verb[];
  resource?: string | readonly string[];
  subresource?: string;
  client?: string | RegExp;
  source?: 'http' | 'in-process';
  /** Only successful (2xx) requests. */
  succeeded?: boolean;
}

const asList = <T>(v: T | readonly T[] | undefined): readonly T[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v as T]);

function matches(e: RequestLogEntry, f: RequestFilter): boolean {
  const verbs = asList(f.verb);
  if (verbs && !verbs.includes(e.verb)) return false;
  const resources = asList(f.resource);
  if (resources && !resources.includes(e.resource)) return false;
  if (f.subresource !== undefined && e.subresource !== f.subresource) return false;
  if (f.source && e.source !== f.source) return false;
  if (f.succeeded !== undefined && (e.code >= 200 && e.code < 300) !== f.succeeded) return false;
  if (f.client !== undefined && !(typeof f.client === 'string' ? e.client === f.client : f.client.test(e.client))) return false;
  return true;
}

/** Keeps the last `capacity` entries and exact totals for the whole run. */
export class RequestLog {
  private readonly kept: RequestLogEntry[] = [];
  private seq = 0;
  private readonly totals = new Map<string, number>();
  private readonly writeTotals = new Map<string, number>();

  constructor(private readonly capacity = 50_000) {}

  record(entry: Omit<RequestLogEntry, 'seq'>): void {
    const e = { ...entry, seq: ++this.seq };
    this.kept.push(e);
    if (this.kept.length > this.capacity * 1.2) this.kept.splice(0, this.kept.length - this.capacity);
    const key = `${e.verb} ${e.resource}`;
    this.totals.set(key, (this.totals.get(key) ?? 0) + 1);
    if (WRITE_VERBS.includes(e.verb)) this.writeTotals.set(e.client, (this.writeTotals.get(e.client) ?? 0) + 1);
  }

  /** The current position; pass it to `since` to see only what happened afterwards. */
  mark(): number {
    return this.seq;
  }

  /** Entries after `mark` (still kept) that match the filter. */
  since(mark: number, filter: RequestFilter = {}): RequestLogEntry[] {
    return this.kept.filter((e) => e.seq > mark && matches(e, filter));
  }

  entries(filter: RequestFilter = {}): RequestLogEntry[] {
    return this.since(0, filter);
  }

  /** Requests after `mark` that wrote something (create, update, patch, delete), optionally filtered further. */
  writesSince(mark: number, filter: Omit<RequestFilter, 'verb'> = {}): RequestLogEntry[] {
    return this.since(mark, { ...filter, verb: WRITE_VERBS });
  }

  /** Totals since start: `{ "list pods": 3, "watch slmdeployments.slmops.io": 1 }`. */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.totals].sort(([a], [b]) => a.localeCompare(b)));
  }

  /**
   * Write requests (create, update, patch, delete, deletecollection; failed ones too) since start, by client
   * (the HTTP User-Agent): exact however long the run, e.g. to assert that only the leader replica writes.
   */
  writesByClient(): Record<string, number> {
    return Object.fromEntries([...this.writeTotals].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Write requests after `mark` (among the kept entries) by client, optionally filtered further. */
  writesByClientSince(mark: number, filter: Omit<RequestFilter, 'verb'> = {}): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of this.writesSince(mark, filter)) out[e.client] = (out[e.client] ?? 0) + 1;
    return out;
  }

  /** Totals by verb since start. */
  countsByVerb(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, n] of this.totals) {
      const verb = k.split(' ')[0]!;
      out[verb] = (out[verb] ?? 0) + n;
    }
    return out;
  }

  /** Totals by resource since start. */
  countsByResource(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, n] of this.totals) {
      const resource = k.slice(k.indexOf(' ') + 1);
      if (resource) out[resource] = (out[resource] ?? 0) + n;
    }
    return out;
  }
}
