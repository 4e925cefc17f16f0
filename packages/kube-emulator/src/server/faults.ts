/**
 * Fault injection for HTTP clients, driven from tests: close watches, force 410 on watches, fail the next N
 * requests of a kind, add latency, pause the server. In-process store calls are never affected.
 */
import { ApiError } from './errors.js';
import type { Store } from './store.js';
import type { Verb } from './request-log.js';

export interface RequestMatch {
  /** `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`; any when omitted. */
  verb?: Verb | readonly Verb[];
  /** `pods`, `deployments.apps`, `slmdeployments.slmops.io`; any when omitted. */
  resource?: string;
  subresource?: string;
}

export interface FailRule extends RequestMatch {
  /** HTTP status to answer: 409, 429, 500, 503, … */
  code: number;
  /** How many matching requests fail (default 1). */
  count?: number;
  /** 429/503: sent as Retry-After and in Status details. */
  retryAfterSeconds?: number;
  message?: string;
}

export interface RequestInfo {
  verb: Verb;
  resource: string;
  subresource?: string;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function matches(rule: RequestMatch, req: RequestInfo): boolean {
  if (rule.verb !== undefined && !(Array.isArray(rule.verb) ? rule.verb : [rule.verb]).includes(req.verb)) return false;
  if (rule.resource !== undefined && rule.resource !== req.resource) return false;
  if (rule.subresource !== undefined && rule.subresource !== req.subresource) return false;
  return true;
}

export class Faults {
  private failures: (FailRule & { remaining: number })[] = [];
  private delays: { ms: number; match: RequestMatch }[] = [];
  private expireWatches = 0;
  private pausedGate: Promise<void> | undefined;
  private release: (() => void) | undefined;
  private readonly resumeListeners = new Set<() => void>();

  constructor(private readonly store: Store) {}

  /** Ends every open watch stream (HTTP and in-process), as a dropped connection would. Returns how many. */
  closeAllWatches(): number {
    return this.store.closeAllWatches();
  }

  /** The next `count` watch requests answer with an ERROR event 410 Expired and close, forcing a relist. */
  expireNextWatches(count = 1): void {
    this.expireWatches += count;
  }

  /** Drops watch history: resuming from any older resourceVersion gets 410 Gone. */
  compact(): void {
    this.store.compact();
  }

  /** Fails the next `count` requests that match with `code` (429/503 carry Retry-After). */
  failNext(rule: FailRule): void {
    this.failures.push({ ...rule, remaining: rule.count ?? 1 });
  }

  /** Delays matching requests by `ms` before they are served (0 removes every delay). */
  addLatency(ms: number, match: RequestMatch = {}): void {
    if (ms <= 0) this.delays = [];
    else this.delays.push({ ms, match });
  }

  /** Holds every new request, and every watch event, until `resume()`. */
  pause(): void {
    if (this.pausedGate) return;
    this.pausedGate = new Promise((resolve) => (this.release = resolve));
  }

  resume(): void {
    this.release?.();
    this.pausedGate = undefined;
    this.release = undefined;
    for (const l of this.resumeListeners) l();
  }

  get paused(): boolean {
    return this.pausedGate !== undefined;
  }

  /** Removes every pending fault and resumes the server. */
  reset(): void {
    this.failures = [];
    this.delays = [];
    this.expireWatches = 0;
    this.resume();
  }

  /** @internal Watch streams flush what they held back while paused. */
  onResume(listener: () => void): () => void {
    this.resumeListeners.add(listener);
    return () => this.resumeListeners.delete(listener);
  }

  /** @internal Waits out pause and latency, then throws the injected failure for this request, if any. */
  async before(req: RequestInfo): Promise<void> {
    if (this.pausedGate) await this.pausedGate;
    const delay = this.delays.filter((d) => matches(d.match, req)).reduce((n, d) => n + d.ms, 0);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const rule = this.failures.find((f) => f.remaining > 0 && matches(f, req));
    if (!rule) return;
    rule.remaining--;
    this.failures = this.failures.filter((f) => f.remaining > 0);
    const reason = REASONS[rule.code] ?? 'InternalError';
    const headers: Record<string, string> = rule.retryAfterSeconds !== undefined ? { 'Retry-After': String(rule.retryAfterSeconds) } : {};
    const message = rule.message ?? (rule.code === 429 ? 'the server has received too many requests and has asked us to try again later' : `injected failure: ${reason}`);
    throw new ApiError(rule.code, reason, message, rule.retryAfterSeconds !== undefined ? { retryAfterSeconds: rule.retryAfterSeconds } : undefined, headers);
  }

  /** @internal Whether this watch request must be answered with 410. */
  takeWatchExpiry(): boolean {
    if (this.expireWatches <= 0) return false;
    this.expireWatches--;
    return true;
  }
}
