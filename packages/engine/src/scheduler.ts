/**
 * Continuous batching: running sequences share one decode step; new ones are prefilled alone and join the next
 * step; finished or cancelled ones leave between steps. The batch KV cache is reused in place while the
 * membership is unchanged and re-assembled (padded) when it changes.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Channel } from './channel.js';
import { type Decoder, type KvAlign, type KvView, logitsAt } from './decoder.js';
import { EngineError, isTimeout } from './errors.js';
import type { Sampler } from './sampler.js';
import type { StopMatcher } from './stop.js';
import type { FinishReason, GenerationEvent } from './types.js';

export interface SequenceSpec {
  promptIds: number[];
  maxTokens: number;
  sampler: Sampler;
  stop: StopMatcher;
  /** Already primed with the prompt, so the first generated piece decodes in context. */
  textDecoder: { push(id: number): string; flush(): string };
  stopIds: ReadonlySet<number>;
  returnLogits: boolean;
}

export class Sequence {
  readonly channel = new Channel<GenerationEvent>();
  readonly tokens: number[];
  generated = 0;
  pending: number | undefined;
  kv: KvView | undefined;
  finished = false;
  cancelReason: unknown = undefined;
  cancelled = false;
  readonly admittedAt: number;
  prefillStart = 0;
  prefillMs = 0;
  decodeMs = 0;
  ttftMs = 0;

  constructor(
    readonly spec: SequenceSpec,
    now: number,
  ) {
    this.tokens = [...spec.promptIds];
    this.admittedAt = now;
  }
}

export interface SchedulerOptions {
  maxBatchSize: number;
  maxQueue: number;
  contextLength: number;
  now: () => number;
  /** Called each time the last sequence is done (nothing running or waiting), after the KV pool is emptied. */
  onIdle?: () => void;
}

/** Padded positions a batched prefill may compute: bounds its [B,S,V] logits and its stall of the running batch. */
export const PREFILL_TOKEN_BUDGET = 512;

/**
 * How many sequences from the head of the queue (prompt lengths `lengths`, FIFO) to prefill in one padded pass:
 * at least one; more while slots are free, padding stays at most half the pass and the pass within
 * PREFILL_TOKEN_BUDGET. Models that derive positions from the mask ('right' layout, GroupQueryAttention) prefill
 * one at a time.
 */
export function prefillGroupSize(lengths: readonly number[], free: number, align: KvAlign, budget = PREFILL_TOKEN_BUDGET): number {
  if (align === 'right' || lengths.length === 0) return Math.min(1, lengths.length);
  let n = 1;
  let maxLen = lengths[0]!;
  let sum = maxLen;
  while (n < Math.min(free, lengths.length)) {
    const len = lengths[n]!;
    const m = Math.max(maxLen, len);
    if ((n + 1) * m > budget || (n + 1) * m > 2 * (sum + len)) break;
    maxLen = m;
    sum += len;
    n++;
  }
  return n;
}

export class Scheduler {
  private waiting: Sequence[] = [];
  private running: Sequence[] = [];
  private looping: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly decoder: Decoder,
    private readonly opts: SchedulerOptions,
  ) {}

  get runningCount(): number {
    return this.running.length;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Cached positions held by running sequences, as a share of maxBatchSize full contexts. */
  kvCacheUsage(): number {
    const used = this.running.reduce((s, q) => s + (q.kv?.len ?? 0), 0);
    return used / (this.opts.maxBatchSize * this.opts.contextLength);
  }

  /** Queues a sequence; refuses at once with RESOURCE_EXHAUSTED when maxQueue are already waiting for a slot. */
  submit(seq: Sequence): void {
    if (this.closed) throw new EngineError('FAILED_PRECONDITION', 'the engine is closed');
    const freeSlots = Math.max(0, this.opts.maxBatchSize - this.running.length);
    if (this.waiting.length - freeSlots >= this.opts.maxQueue) {
      throw new EngineError('RESOURCE_EXHAUSTED', `queue full: ${this.opts.maxQueue} requests already wait for one of ${this.opts.maxBatchSize} slots`);
    }
    this.waiting.push(seq);
    this.looping ??= this.loop().finally(() => (this.looping = undefined));
  }

  /** Stops a sequence: at once while waiting, at the next step boundary while running. */
  cancel(seq: Sequence, reason?: unknown): void {
    if (seq.finished || seq.cancelled) return;
    seq.cancelled = true;
    seq.cancelReason = reason;
    const i = this.waiting.indexOf(seq);
    if (i >= 0) {
      this.waiting.splice(i, 1);
      this.finishCancelled(seq);
    }
  }

  /** Cancels everything and waits for the step in flight to end. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.waiting, ...this.running]) this.cancel(s, new EngineError('CANCELLED', 'the engine is closing'));
    await this.looping;
  }

  private async loop(): Promise<void> {
    // Requests that arrive in the same turn of the event loop are prefilled together.
    await nextTurn();
    while (this.running.length > 0 || this.waiting.length > 0) {
      const runsBefore = this.decoder.runs;
      try {
        await this.step();
      } catch (e) {
        // A bug here must not leave callers waiting forever: everyone in flight gets the error.
        for (const s of [...this.running, ...this.waiting.splice(0)]) if (!s.finished) this.fail(s, e);
        this.running = [];
      }
      // Consumers, aborts and new submissions need a turn of the event loop between steps; a session that yields
      // before computing already gave them one (an extra turn here cost onnxruntime-node runs ~3% at 15M).
      if (!(this.decoder.session.yieldsBeforeRun && this.decoder.runs > runsBefore)) await nextTurn();
    }
    // Idle: cache buffers kept for the next step would otherwise hold a load peak's memory for good.
    this.decoder.releasePool();
    this.opts.onIdle?.();
  }

  /** One scheduling step: drop cancelled sequences, prefill newcomers into free slots, one shared decode. */
  private async step(): Promise<void> {
    this.reap();
    while (this.running.length < this.opts.maxBatchSize && this.waiting.length > 0) {
      const free = this.opts.maxBatchSize - this.running.length;
      const n = prefillGroupSize(this.waiting.map((s) => s.tokens.length), free, this.decoder.align);
      const group = this.waiting.splice(0, n);
      // Counted as running while they prefill, so admission control sees the slots as taken.
      this.running.push(...group);
      await this.prefill(group);
    }
    this.reap();
    if (this.running.length > 0) await this.decodeStep();
  }

  private reap(): void {
    this.running = this.running.filter((s) => {
      if (s.cancelled && !s.finished) this.finishCancelled(s);
      return !s.finished;
    });
  }

  /** Prefills newcomers in one padded forward pass (left-padded: the 'left' layout keeps a row's positions last). */
  private async prefill(group: Sequence[]): Promise<void> {
    const left = this.decoder.align === 'left';
    const S = Math.max(...group.map((s) => s.tokens.length));
    const ids: number[][] = [];
    const positions: number[][] = [];
    const mask = new Uint8Array(group.length * S);
    group.forEach((seq, b) => {
      const n = seq.tokens.length;
      const pad = new Array<number>(S - n).fill(0);
      const pos = seq.tokens.map((_, i) => i);
      ids.push(left ? [...pad, ...seq.tokens] : [...seq.tokens, ...pad]);
      positions.push(left ? [...pad, ...pos] : [...pos, ...pad]);
      mask.fill(1, b * S + (left ? S - n : 0), b * S + (left ? S : n));
    });
    const start = this.opts.now();
    for (const seq of group) seq.prefillStart = start;
    try {
      const res = await this.decoder.forward(ids, positions, mask, this.decoder.emptyCache(group.length), left);
      const ms = this.opts.now() - start;
      group.forEach((seq, b) => {
        const n = seq.tokens.length;
        seq.prefillMs = ms;
        seq.kv = { cache: res.present, row: b, start: left ? S - n : 0, len: n };
        try {
          this.accept(seq, logitsAt(res.logits, b, (left ? S - 1 : n - 1) - res.firstLogit));
        } catch (e) {
          this.fail(seq, e);
        }
      });
    } catch (e) {
      for (const seq of group) if (!seq.finished) this.fail(seq, e);
    }
  }

  private async decodeStep(): Promise<void> {
    const batch = this.running;
    const views = batch.map((s) => s.kv!);
    const inPlace = this.decoder.isInPlace(views);
    const cache = inPlace ? views[0]!.cache : this.decoder.assemble(views, Math.max(...views.map((v) => v.len)));
    // Where each sequence's positions sit in the step's cache.
    const rows = inPlace ? views : views.map((v, b) => this.decoder.viewIn(cache, b, v.len));
    const left = this.decoder.align === 'left';
    const P = cache.past;
    const B = batch.length;
    const mask = new Uint8Array(B * (P + 1));
    rows.forEach((v, b) => {
      const at = b * (P + 1);
      mask.fill(1, at + v.start, at + v.start + v.len);
      // The new position: after all P in the graph's view ('left'), right after the row's data ('right').
      mask[at + (left ? P : v.len)] = 1;
    });
    const t0 = this.opts.now();
    try {
      const res = await this.decoder.forward(
        batch.map((s) => [s.pending!]),
        views.map((v) => [v.len]),
        mask,
        cache,
      );
      const ms = this.opts.now() - t0;
      // Every sequence of the batch now reads res.present: the step's input cache (unless present grew in its
      // buffers), and the caches it was assembled from, are read by nobody.
      this.decoder.retire(cache, res.present);
      if (!inPlace) for (const c of new Set(views.map((v) => v.cache))) this.decoder.recycle(c);
      batch.forEach((s, b) => {
        s.kv = { ...rows[b]!, cache: res.present, len: rows[b]!.len + 1 };
        s.decodeMs += ms;
        if (s.cancelled) this.finishCancelled(s);
        else {
          try {
            this.accept(s, logitsAt(res.logits, b, 0));
          } catch (e) {
            this.fail(s, e);
          }
        }
      });
    } catch (e) {
      for (const s of batch) if (!s.finished) this.fail(s, e);
    }
    this.running = this.running.filter((s) => !s.finished);
  }

  /** Takes the logits of a sequence's next position: picks the token, emits it, applies the stop rules. */
  private accept(seq: Sequence, logits: Float32Array): void {
    if (seq.cancelled) return this.finishCancelled(seq);
    const spec = seq.spec;
    const id = spec.sampler.sample(logits, seq.tokens);
    const now = this.opts.now();
    if (seq.generated === 0) seq.ttftMs = now - seq.admittedAt;
    if (spec.stopIds.has(id)) return this.finish(seq, 'eos', spec.stop.flush() + spec.textDecoder.flush());
    seq.tokens.push(id);
    const index = seq.generated++;
    const piece = spec.stop.push(spec.textDecoder.push(id));
    let reason: FinishReason | undefined;
    if (piece.stopped) reason = 'stop';
    else if (seq.generated >= spec.maxTokens) reason = 'length';
    else if (seq.tokens.length >= this.opts.contextLength) reason = 'context';
    const tail = reason && reason !== 'stop' ? spec.stop.push(spec.textDecoder.flush()).text + spec.stop.flush() : '';
    seq.channel.push({
      type: 'token',
      id,
      text: piece.text + tail,
      index,
      timeMs: now - seq.admittedAt,
      ...(spec.returnLogits ? { logits: Float32Array.from(logits) } : {}),
    });
    if (reason) this.finish(seq, reason);
    else seq.pending = id;
  }

  private finish(seq: Sequence, finishReason: FinishReason, text = ''): void {
    seq.finished = true;
    seq.kv = undefined;
    const now = this.opts.now();
    seq.channel.push({
      type: 'done',
      finishReason,
      promptTokens: seq.spec.promptIds.length,
      completionTokens: seq.generated,
      timings: {
        queueMs: (seq.prefillStart || now) - seq.admittedAt,
        prefillMs: seq.prefillMs,
        decodeMs: seq.decodeMs,
        ttftMs: seq.ttftMs,
        totalMs: now - seq.admittedAt,
      },
      ...(text ? { text } : {}),
    });
    seq.channel.close();
  }

  private finishCancelled(seq: Sequence): void {
    if (isTimeout(seq.cancelReason)) {
      seq.finished = true;
      seq.kv = undefined;
      seq.channel.close(new EngineError('DEADLINE_EXCEEDED', 'the request deadline passed before generation finished', { cause: seq.cancelReason }));
    } else this.finish(seq, 'cancelled');
  }

  private fail(seq: Sequence, e: unknown): void {
    seq.finished = true;
    seq.kv = undefined;
    const err = e instanceof EngineError ? e : new EngineError('INTERNAL', `inference failed: ${(e as Error).message}`, { cause: e });
    seq.channel.close(err);
  }
}
