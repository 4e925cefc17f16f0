/**
 * A level-triggered, per-key work queue (client-go's workqueue semantics, minus the Go): a key is reconciled
 * by at most one worker at a time, pending keys are deduplicated, a key added while it is being reconciled runs
 * once more afterwards, failures back off exponentially per key (a 429's Retry-After is a floor), and a
 * successful reconcile may ask to run again after a delay.
 */
import { type Clock, systemClock } from './clock.js';

export interface ReconcileOutcome {
  /** Run this key again after this long even if nothing changes (pause timers, analysis intervals). */
  requeueAfterMs?: number;
}

export interface WorkQueueOptions {
  /** Reconciles one key; a rejection schedules a retry with backoff. */
  handler: (key: string) => Promise<ReconcileOutcome | void>;
  /** Keys reconciled at the same time (default 1). */
  concurrency?: number;
  clock?: Clock;
  /** First retry delay (default 50 ms); doubles per consecutive failure of the key. */
  baseBackoffMs?: number;
  /** Cap of the retry delay (default 60 s); a longer Retry-After still wins. */
  maxBackoffMs?: number;
  /** Called whenever the depth (keys waiting, including those backing off) changes. */
  onDepth?: (depth: number) => void;
  /** Called for every failed reconcile with the retry delay chosen. */
  onError?: (key: string, error: unknown, retryInMs: number) => void;
  /** Start paused (a standby replica); `resume()` starts workers. Default false. */
  paused?: boolean;
}

type Delay = { at: number; handle: unknown; kind: 'backoff' | 'requeue' };

/** Seconds from a KubeApiError-like error's Retry-After, if any. */
const retryAfterMs = (e: unknown): number | undefined => {
  const s = (e as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
  return typeof s === 'number' && s >= 0 ? s * 1000 : undefined;
};

export class WorkQueue {
  private readonly ready = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, Delay>();
  private readonly failures = new Map<string, number>();
  private readonly inflight = new Set<Promise<void>>();
  private idleWaiters: (() => void)[] = [];
  private running: boolean;
  private closed = false;
  private lastDepth = -1;
  private readonly clock: Clock;
  private readonly concurrency: number;
  private readonly base: number;
  private readonly cap: number;

  constructor(private readonly options: WorkQueueOptions) {
    this.clock = options.clock ?? systemClock;
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.base = options.baseBackoffMs ?? 50;
    this.cap = options.maxBackoffMs ?? 60_000;
    this.running = !options.paused;
  }

  /** Marks a key for reconciling. A key that is backing off waits for its retry (which sees the latest state). */
  add(key: string): void {
    if (this.closed) return;
    if (this.delayed.get(key)?.kind === 'backoff') return;
    if (this.processing.has(key)) this.dirty.add(key);
    else this.ready.add(key);
    this.changed();
  }

  /** Adds the key after `ms`; an earlier pending delay for the key wins. */
  addAfter(key: string, ms: number, kind: Delay['kind'] = 'requeue'): void {
    if (this.closed) return;
    if (ms <= 0) return this.add(key);
    const at = this.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) this.clock.clearTimeout(existing.handle);
    const handle = this.clock.setTimeout(() => {
      if (this.delayed.get(key)?.handle !== handle) return;
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle, kind });
    this.changed();
  }

  /** Drops every trace of a key (its object is gone): pending run, delay and failure count. */
  forget(key: string): void {
    this.ready.delete(key);
    this.dirty.delete(key);
    const d = this.delayed.get(key);
    if (d) this.clock.clearTimeout(d.handle);
    this.delayed.delete(key);
    this.failures.delete(key);
    this.changed();
  }

  /** Consecutive failures of a key (0 after a success). */
  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Keys waiting to run now or after a backoff (requeue timers of healthy keys are not counted). */
  depth(): number {
    let n = this.ready.size + this.dirty.size;
    for (const d of this.delayed.values()) if (d.kind === 'backoff') n++;
    return n;
  }

  /** Stops handing out keys (in-flight reconciles finish); keys keep accumulating. */
  pause(): void {
    this.running = false;
  }

  resume(): void {
    if (this.closed) return;
    this.running = true;
    this.changed();
  }

  /** Resolves when nothing is waiting or backing off and nothing is in flight (requeue timers may be pending). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops for good: drops pending keys and timers, then waits for in-flight reconciles. */
  async shutdown(): Promise<void> {
    this.closed = true;
    this.running = false;
    for (const d of this.delayed.values()) this.clock.clearTimeout(d.handle);
    this.delayed.clear();
    this.ready.clear();
    this.dirty.clear();
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
    this.changed();
  }

  private isIdle(): boolean {
    return this.processing.size === 0 && this.depth() === 0;
  }

  private changed(): void {
    this.pump();
    const depth = this.depth();
    if (depth !== this.lastDepth) {
      this.lastDepth = depth;
      this.options.onDepth?.(depth);
    }
    if (this.idleWaiters.length && this.isIdle()) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private pump(): void {
    while (this.running && this.processing.size < this.concurrency && this.ready.size) {
      const key = this.ready.values().next().value as string;
      this.ready.delete(key);
      this.processing.add(key);
      const run = Promise.resolve()
        .then(() => this.options.handler(key))
        .then(
          (outcome) => this.finish(key, outcome ?? undefined, undefined),
          (error: unknown) => this.finish(key, undefined, error ?? new Error('reconcile failed')),
        );
      this.inflight.add(run);
      void run.finally(() => this.inflight.delete(run));
    }
  }

  private finish(key: string, outcome: ReconcileOutcome | undefined, error: unknown): void {
    this.processing.delete(key);
    if (this.closed) return this.changed();
    if (error !== undefined) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      let delay = Math.min(this.cap, this.base * 2 ** Math.min(n - 1, 30));
      const ra = retryAfterMs(error);
      if (ra !== undefined) delay = Math.max(delay, ra);
      this.dirty.delete(key);
      // A retry replaces any requeue timer: the retry reconciles the latest state anyway.
      const d = this.delayed.get(key);
      if (d) this.clock.clearTimeout(d.handle);
      this.delayed.delete(key);
      this.options.onError?.(key, error, delay);
      this.addAfter(key, delay, 'backoff');
      return this.changed();
    }
    this.failures.delete(key);
    if (outcome?.requeueAfterMs !== undefined && outcome.requeueAfterMs > 0) this.addAfter(key, outcome.requeueAfterMs, 'requeue');
    if (this.dirty.delete(key)) this.ready.add(key);
    this.changed();
  }
}
