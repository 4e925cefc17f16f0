/**
 * List + watch cache of one resource over any KubeClient (the HTTP client or the fake). One loop per informer:
 * list, then watch from the list's resourceVersion; relist on 410 and every resync period; resume the watch
 * from the last seen resourceVersion when the server closes it; back off (capped, jittered) after errors.
 */
import { Backoff, sleep, systemClock, type Clock } from './clock.js';
import { isGone, objectKey, type Informer, type InformerHandler, type KubeClient, type KubeObject, type ResourceType, type Watch, type WatchEvent } from './port.js';

export interface InformerOptions {
  /** Omit to watch every namespace. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Relist this often (0 disables); a relist emits only what changed. */
  resyncPeriodMs: number;
  clock?: Clock;
  /** Backoff after errors: first delay and cap (default 500 ms, 30 s). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Server-side watch timeout; the informer rewatches after it (default 300 s, as client-go's minimum). */
  watchTimeoutSeconds?: number;
  /** List page size (default 500). */
  pageSize?: number;
  /** Errors the informer recovers from (list/watch failures, throwing handlers), for logs and metrics. */
  onError?: (error: unknown) => void;
}

type Wake = 'stop' | 'resync' | 'watch-ended';

/** A list+watch cache of `type` (see Informer). */
export function createInformer<T extends KubeObject = KubeObject>(client: KubeClient, type: ResourceType, options: InformerOptions): Informer<T> {
  return new ListWatchInformer<T>(client, type, options);
}

class ListWatchInformer<T extends KubeObject> implements Informer<T> {
  private readonly cache = new Map<string, T>();
  private readonly handlers = new Set<InformerHandler<T>>();
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private running = false;
  private synced_ = false;
  private abort = new AbortController();
  private watchGeneration = 0;
  private readonly syncWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(
    private readonly client: KubeClient,
    private readonly type: ResourceType,
    private readonly options: InformerOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.backoff = new Backoff(options.backoff?.initialMs ?? 500, options.backoff?.maxMs ?? 30_000);
  }

  /** Starts the loop; resolves at once (await synced() for the first list). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.run().catch((e: unknown) => this.report(e));
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    for (const w of this.syncWaiters.splice(0)) w.reject(new Error(`informer for ${this.type.plural} stopped before it synced`));
  }

  synced(): Promise<void> {
    if (this.synced_) return Promise.resolve();
    if (!this.running) return Promise.reject(new Error(`informer for ${this.type.plural} is not running`));
    return new Promise((resolve, reject) => this.syncWaiters.push({ resolve, reject }));
  }

  hasSynced(): boolean {
    return this.synced_;
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  on(handler: InformerHandler<T>): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  // ---------------------------------------------------------------- the loop

  private notify(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T, previous?: T): void {
    for (const h of this.handlers) {
      try {
        h(type, object, previous);
      } catch (e) {
        // A handler's bug must not stop the cache from following the server.
        this.options.onError?.(e);
      }
    }
  }

  private report(error: unknown): void {
    this.options.onError?.(error);
  }

  /** Replaces the cache with a fresh list, emitting only the differences. */
  private async relist(): Promise<string> {
    const { items, resourceVersion } = await this.client.list<T>(this.type, {
      ...(this.options.namespace ? { namespace: this.options.namespace } : {}),
      ...(this.options.labelSelector ? { labelSelector: this.options.labelSelector } : {}),
      ...(this.options.fieldSelector ? { fieldSelector: this.options.fieldSelector } : {}),
      limit: this.options.pageSize ?? 500,
    });
    if (!this.running) return resourceVersion;
    const seen = new Set<string>();
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, item);
      if (!old) this.notify('ADDED', item);
      else if (old.metadata.resourceVersion !== item.metadata.resourceVersion) this.notify('MODIFIED', item, old);
    }
    for (const [key, old] of [...this.cache]) {
      if (seen.has(key)) continue;
      this.cache.delete(key);
      this.notify('DELETED', old);
    }
    if (!this.synced_) {
      this.synced_ = true;
      for (const w of this.syncWaiters.splice(0)) w.resolve();
    }
    return resourceVersion;
  }

  private apply(event: WatchEvent<T>): void {
    const object = event.object;
    if (event.type === 'BOOKMARK') return;
    const key = objectKey(object);
    const old = this.cache.get(key);
    if (event.type === 'DELETED') {
      if (!old) return;
      this.cache.delete(key);
      this.notify('DELETED', object);
      return;
    }
    // A resumed watch may replay what the cache already holds: same resourceVersion, nothing to say.
    if (old && old.metadata.resourceVersion === object.metadata.resourceVersion) return;
    this.cache.set(key, object);
    if (old) this.notify('MODIFIED', object, old);
    else this.notify('ADDED', object);
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    let resourceVersion: string | undefined;
    let nextResync = 0;
    let goneStreak = 0;
    while (this.running) {
      try {
        if (resourceVersion === undefined) {
          resourceVersion = await this.relist();
          this.backoff.reset();
          nextResync = this.options.resyncPeriodMs > 0 ? this.clock.now() + this.options.resyncPeriodMs : Infinity;
        }
        if (!this.running) break;
        const started = this.clock.now();
        const generation = ++this.watchGeneration;
        let events = 0;
        let wake!: (why: Wake) => void;
        const woken = new Promise<Wake>((resolve) => (wake = resolve));
        const watch: Watch = await this.client.watch<T>(
          this.type,
          {
            resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds: this.options.watchTimeoutSeconds ?? 300,
            ...(this.options.namespace ? { namespace: this.options.namespace } : {}),
            ...(this.options.labelSelector ? { labelSelector: this.options.labelSelector } : {}),
            ...(this.options.fieldSelector ? { fieldSelector: this.options.fieldSelector } : {}),
          },
          (event) => {
            // Events a stopped watch still had in flight must not move the resourceVersion of the next one.
            if (!this.running || generation !== this.watchGeneration) return;
            events++;
            if (event.object.metadata?.resourceVersion) resourceVersion = event.object.metadata.resourceVersion;
            this.apply(event);
          },
        );
        const onAbort = () => wake('stop');
        signal.addEventListener('abort', onAbort, { once: true });
        const timer = Number.isFinite(nextResync) ? this.clock.setTimeout(() => wake('resync'), Math.max(0, nextResync - this.clock.now())) : undefined;
        let watchError: unknown;
        watch.done.then(
          () => wake('watch-ended'),
          (e: unknown) => {
            watchError = e;
            wake('watch-ended');
          },
        );
        const why = await woken;
        signal.removeEventListener('abort', onAbort);
        if (timer !== undefined) this.clock.clearTimeout(timer);
        if (why !== 'watch-ended') watch.stop();
        this.watchGeneration++;
        if (why === 'stop') break;
        if (why === 'resync') {
          resourceVersion = undefined;
          continue;
        }
        if (watchError !== undefined) throw watchError;
        goneStreak = 0;
        if (events > 0) this.backoff.reset();
        // A watch the server closes is normal and resumes at once; one that closes straight away without
        // news would spin, so it waits like an error.
        else if (this.clock.now() - started < 1000) await sleep(this.clock, this.backoff.next(), signal);
      } catch (e) {
        if (!this.running) break;
        if (isGone(e)) {
          // History compacted past our resourceVersion: only a relist can resynchronise.
          resourceVersion = undefined;
          // Relist at once, but not in a tight loop when the server keeps answering 410.
          if (++goneStreak > 1) await sleep(this.clock, this.backoff.next(), signal);
          continue;
        }
        this.report(e);
        await sleep(this.clock, this.backoff.next(), signal);
      }
    }
  }
}
