import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Engine, EngineStats, FinishReason, GenerateRequest, GenerationEvent, GenerationTimings } from './engine-port.js';
import { InferenceError, invalidArgument, toInferenceError } from './errors.js';
import { DEFAULT_MAX_PROMPT_BYTES, checkPromptBytes } from './limits.js';

/** Serving state; health, readiness and admission are all derived from it. */
export type ServingState = 'loading' | 'serving' | 'draining' | 'stopped' | 'failed';

export interface ProviderFallback {
  from: string;
  to: string;
  reason: string;
}

export interface ModelDetails {
  /** sha256:<hex> of what was loaded (the .slm.tar, or slm.json for a folder). */
  digest: string;
  fallbacks: ProviderFallback[];
  maxBatchSize: number;
  maxQueue: number;
}

export interface ModelInfo extends ModelDetails {
  name: string;
  version: string;
  architecture: string;
  precision: string;
  executionProvider: string;
  contextLength: number;
  vocabSize: number;
}

/** What the service reports about each request; the metrics adapter implements it. Never sees text. */
export interface ServingObserver {
  accepted(req: { maxTokens: number; promptTokens: number }): void;
  firstToken(ttftSeconds: number): void;
  token(interTokenSeconds: number): void;
  finished(done: { finishReason: FinishReason; promptTokens: number; completionTokens: number; timings: GenerationTimings; e2eSeconds: number }): void;
  failed(code: string): void;
}

export const noopObserver: ServingObserver = { accepted() {}, firstToken() {}, token() {}, finished() {}, failed() {} };

/** Who asked: the transport and method, for the request log. */
export interface RequestContext {
  protocol: 'grpc' | 'oip' | 'openai';
  /** Generate, Tokenize, ModelInfer, completions, chat.completions. */
  method: string;
  /** Correlates the log line with the response (OpenAI's completion id); a random one when absent. */
  requestId?: string;
}

/** One finished request as `--request-logging=metadata` records it: its request id, sizes, timings and codes; never text or token ids. */
export interface RequestRecord {
  requestId: string;
  protocol: string;
  method: string;
  /** OK, or the status code name it ended with. */
  status: string;
  finishReason?: FinishReason;
  /** UTF-8 bytes of a text prompt (absent for prompt_ids). */
  promptBytes?: number;
  promptTokens?: number;
  generatedTokens: number;
  ttftMs?: number;
  durationMs: number;
}

/** The text of a finished generation (OIP ModelInfer answers). */
export interface Completion {
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
}

export interface ServiceOptions {
  observer?: ServingObserver;
  /** max_tokens when a request leaves it 0/unset. */
  defaultMaxTokens?: number;
  /** Longest prompt accepted before tokenizing, in UTF-8 bytes (`--max-prompt-bytes`). */
  maxPromptBytes?: number;
  /** Receives one record per finished request (`--request-logging=metadata`); absent: nothing is recorded. */
  requestLog?: (r: RequestRecord) => void;
  now?: () => number;
}

const MAX_STOP = 16;
const MAX_STOP_CHARS = 256;

/**
 * The transport-free inference domain: admission (serving state), validation with wire field names
 * (snake_case, shared by gRPC, OIP and OpenAI), request accounting and graceful draining over one Engine.
 */
export class InferenceService {
  #state: ServingState = 'loading';
  #engine: Engine | undefined;
  #info: ModelInfo | undefined;
  #inflight = 0;
  #listeners = new Set<(s: ServingState) => void>();
  #idle = new Set<() => void>();
  // Every in-flight request listens on the shutdown signal, so more than the default 10 listeners is normal.
  #shutdown = (() => {
    const ac = new AbortController();
    setMaxListeners(0, ac.signal);
    return ac;
  })();
  readonly #observer: ServingObserver;
  readonly #defaultMaxTokens: number;
  readonly maxPromptBytes: number;
  readonly #requestLog: ((r: RequestRecord) => void) | undefined;
  readonly #now: () => number;

  constructor(opts: ServiceOptions = {}) {
    this.#observer = opts.observer ?? noopObserver;
    this.#defaultMaxTokens = opts.defaultMaxTokens ?? 256;
    this.maxPromptBytes = opts.maxPromptBytes ?? DEFAULT_MAX_PROMPT_BYTES;
    this.#requestLog = opts.requestLog;
    this.#now = opts.now ?? (() => performance.now());
  }

  get state(): ServingState {
    return this.#state;
  }

  /** Running/waiting/KV figures of the engine, zero while no model is loaded. */
  stats(): EngineStats {
    return this.#engine?.stats() ?? { running: 0, waiting: 0, kvCacheUsage: 0 };
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Calls the listener on every state change; returns the unsubscribe function. */
  onStateChange(listener: (s: ServingState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #setState(s: ServingState): void {
    if (s === this.#state) return;
    this.#state = s;
    for (const l of this.#listeners) l(s);
  }

  /** Starts serving a loaded and verified model. */
  setModel(engine: Engine, details: ModelDetails): void {
    const m = engine.model.manifest;
    this.#engine = engine;
    this.#info = {
      ...details,
      name: m.name,
      version: m.version,
      architecture: m.architecture,
      precision: engine.precision,
      executionProvider: engine.executionProvider,
      contextLength: m.contextLength,
      vocabSize: m.io.vocabSize,
    };
    if (this.#state === 'loading') this.#setState('serving');
  }

  /** Marks a load failure: the server stays up (health NOT_SERVING) so the reason can be read. */
  setFailed(): void {
    this.#setState('failed');
  }

  /** The loaded model, or UNAVAILABLE while none is. */
  info(): ModelInfo {
    if (!this.#info) throw new InferenceError('UNAVAILABLE', `model not loaded (state ${this.#state})`);
    return this.#info;
  }

  #serving(): Engine {
    if (this.#state === 'serving' && this.#engine) return this.#engine;
    const why = this.#state === 'draining' || this.#state === 'stopped' ? 'server is shutting down' : `model not ready (state ${this.#state})`;
    throw new InferenceError('UNAVAILABLE', why);
  }

  /** Token ids of `text`; long texts are encoded off this thread (Engine.tokenizeAsync). */
  async tokenize(text: string, ctx?: RequestContext): Promise<number[]> {
    const log = this.#logStart(ctx, text);
    try {
      const engine = this.#serving();
      if (typeof text !== 'string') throw invalidArgument('text', 'must be a string');
      checkPromptBytes('text', Buffer.byteLength(text), this.maxPromptBytes);
      const ids = await engine.tokenizeAsync(text);
      log.promptTokens = ids.length;
      this.#logEnd(log, 'OK');
      return ids;
    } catch (e) {
      const err = toInferenceError(e);
      this.#logEnd(log, err.code);
      throw err;
    }
  }

  /**
   * Checks a request against the model; throws INVALID_ARGUMENT naming the field, OUT_OF_RANGE for long prompts.
   * Every bound is checked before the work it guards; a text prompt comes back encoded, as `promptIds`.
   */
  async validate(req: GenerateRequest): Promise<{ request: GenerateRequest; promptTokens: number }> {
    const info = this.info();
    const engine = this.#serving();
    const hasPrompt = req.prompt !== undefined;
    const hasIds = req.promptIds !== undefined && req.promptIds.length > 0;
    if (hasPrompt === hasIds) throw invalidArgument('prompt', hasPrompt ? 'give prompt or prompt_ids, not both' : 'prompt (or prompt_ids) is required');
    const tooLong = (field: string, n: number, what: string) =>
      new InferenceError('OUT_OF_RANGE', `${field}: ${n} ${what} do not fit the context of ${info.contextLength} tokens`, { field });
    const maxTokens = req.maxTokens === 0 ? Math.min(this.#defaultMaxTokens, info.contextLength) : req.maxTokens;
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw invalidArgument('max_tokens', 'must be a non-negative integer');
    if (maxTokens > info.contextLength) throw invalidArgument('max_tokens', `must be at most the context length ${info.contextLength}`);
    const num = (field: string, v: number | undefined, ok: (x: number) => boolean, rule: string) => {
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || !ok(v))) throw invalidArgument(field, rule);
    };
    num('temperature', req.temperature, (x) => x >= 0 && x <= 100, 'must be in [0, 100]');
    num('top_p', req.topP, (x) => x > 0 && x <= 1, 'must be in (0, 1]');
    num('top_k', req.topK, (x) => Number.isInteger(x) && x >= 0, 'must be a non-negative integer');
    num('seed', req.seed, (x) => Number.isSafeInteger(x) && x >= 0, 'must be a non-negative integer below 2^53');
    num('repetition_penalty', req.repetitionPenalty, (x) => x > 0 && x <= 10, 'must be in (0, 10]');
    if (req.stop !== undefined) {
      if (!Array.isArray(req.stop) || req.stop.length > MAX_STOP) throw invalidArgument('stop', `at most ${MAX_STOP} strings`);
      req.stop.forEach((s, i) => {
        if (typeof s !== 'string' || s.length === 0 || s.length > MAX_STOP_CHARS) throw invalidArgument(`stop[${i}]`, `must be a non-empty string of at most ${MAX_STOP_CHARS} characters`);
      });
    }
    let promptIds: number[];
    if (hasPrompt) {
      if (typeof req.prompt !== 'string') throw invalidArgument('prompt', 'must be a string');
      checkPromptBytes('prompt', Buffer.byteLength(req.prompt), this.maxPromptBytes);
      // The last step: every cheaper check above has passed before the tokenizer runs.
      promptIds = await engine.tokenizeAsync(req.prompt);
      if (promptIds.length === 0) throw invalidArgument('prompt', 'encodes to no tokens and the tokenizer has no BOS to start from');
      if (promptIds.length >= info.contextLength) throw tooLong('prompt', promptIds.length, 'tokens');
    } else {
      const ids = req.promptIds!;
      // The length bound before any per-id work.
      if (!Array.isArray(ids)) throw invalidArgument('prompt_ids', 'must be a list of token ids');
      if (ids.length >= info.contextLength) throw tooLong('prompt_ids', ids.length, 'token ids');
      ids.forEach((id, i) => {
        if (!Number.isInteger(id) || id < 0 || id >= info.vocabSize) throw invalidArgument(`prompt_ids[${i}]`, `must be a token id in [0, ${info.vocabSize})`);
      });
      promptIds = ids;
    }
    const { prompt: _text, ...rest } = req;
    const request: GenerateRequest = { ...rest, promptIds, maxTokens };
    if (request.stop?.length === 0) delete request.stop;
    return { request, promptTokens: promptIds.length };
  }

  /**
   * Generates through the engine's continuous batching. The signal cancels (its reason, if an Error with a
   * code, is what the caller sees); errors are InferenceErrors. Never logs or records text.
   */
  async *generate(req: GenerateRequest, signal?: AbortSignal, ctx?: RequestContext): AsyncGenerator<GenerationEvent> {
    const log = this.#logStart(ctx, typeof req?.prompt === 'string' ? req.prompt : undefined);
    let engine: Engine;
    try {
      engine = this.#serving();
    } catch (e) {
      throw this.#failed(e, log);
    }
    const t0 = log.t0;
    // In flight from here, tokenization included: a drain waits for it.
    this.#inflight++;
    let started = false;
    let settled = false;
    let lastMs = 0;
    // One controller per request, unlinked in `finally`: AbortSignal.any would tie every request's signal to the
    // long-lived shutdown signal until GC.
    const own = new AbortController();
    const relay = (from: AbortSignal) => () => own.abort(from.reason);
    const onCaller = signal ? relay(signal) : undefined;
    const onShutdown = relay(this.#shutdown.signal);
    if (signal?.aborted) own.abort(signal.reason);
    else if (this.#shutdown.signal.aborted) own.abort(this.#shutdown.signal.reason);
    if (signal && onCaller) signal.addEventListener('abort', onCaller, { once: true });
    this.#shutdown.signal.addEventListener('abort', onShutdown, { once: true });
    const combined = own.signal;
    try {
      const { request, promptTokens } = await this.validate(req);
      log.promptTokens = promptTokens;
      if (combined.aborted) throw combined.reason;
      this.#observer.accepted({ maxTokens: request.maxTokens, promptTokens });
      for await (const ev of engine.generate(request, combined)) {
        const t = this.#now();
        if (ev.type === 'token') {
          if (!started) {
            started = true;
            log.ttftMs = t - t0;
            this.#observer.firstToken((t - t0) / 1000);
          }
          // Between the engine's selections of consecutive tokens: the engine may deliver several at once.
          else this.#observer.token((ev.timeMs - lastMs) / 1000);
          lastMs = ev.timeMs;
          log.generatedTokens++;
        } else {
          // An engine that reports cancellation as a finish reason: surface why it was cancelled instead.
          if (ev.finishReason === 'cancelled' && combined.aborted) throw combined.reason;
          settled = true;
          this.#observer.finished({ ...ev, e2eSeconds: (t - t0) / 1000 });
          log.generatedTokens = ev.completionTokens;
          log.finishReason = ev.finishReason;
          this.#logEnd(log, 'OK');
        }
        yield ev;
      }
    } catch (e) {
      settled = true;
      throw this.#failed(combined.aborted && !(e instanceof InferenceError) && isCodeless(e) ? (combined.reason ?? e) : e, log);
    } finally {
      // A consumer that stops iterating early (its client went away, or its deadline passed) abandoned the request:
      // counted under the reason its signal carries (a gRPC deadline cancels the call too), else as cancelled.
      if (!settled) this.#failed(combined.aborted ? combined.reason : new InferenceError('CANCELLED', 'abandoned by the caller'), log);
      if (onCaller) signal?.removeEventListener('abort', onCaller);
      this.#shutdown.signal.removeEventListener('abort', onShutdown);
      this.#inflight--;
      if (this.#inflight === 0) for (const f of this.#idle) f();
    }
  }

  /**
   * Several prompts as one request (OIP ModelInfer), all or nothing: refused RESOURCE_EXHAUSTED before any starts
   * when the engine has no room for all of them now, and when one fails anyway the others are cancelled (their
   * slots freed) before its error is thrown. Resolves in the order of `reqs`.
   */
  async generateAll(reqs: GenerateRequest[], signal?: AbortSignal, ctx?: RequestContext): Promise<Completion[]> {
    const requestId = ctx?.requestId ?? randomUUID();
    const each = (i: number): RequestContext => ({ protocol: ctx?.protocol ?? 'grpc', method: ctx?.method ?? 'generate', requestId: reqs.length > 1 ? `${requestId}/${i}` : requestId });
    try {
      const engine = this.#serving();
      const info = this.info();
      const s = engine.stats();
      const room = Math.max(0, info.maxQueue - s.waiting) + Math.max(0, info.maxBatchSize - s.running);
      if (reqs.length > room) {
        throw new InferenceError('RESOURCE_EXHAUSTED', `${reqs.length} prompts do not fit the engine's ${room} free places (batch and queue); none was started`);
      }
    } catch (e) {
      const err = toInferenceError(e);
      reqs.forEach((r, i) => this.#failed(err, this.#logStart(each(i), typeof r.prompt === 'string' ? r.prompt : undefined)));
      throw err;
    }
    const all = new AbortController();
    const onCaller = () => all.abort(signal?.reason);
    if (signal?.aborted) onCaller();
    else signal?.addEventListener('abort', onCaller, { once: true });
    let first: unknown;
    const runs = reqs.map(async (req, i): Promise<Completion> => {
      try {
        let text = '';
        for await (const ev of this.generate(req, all.signal, each(i))) {
          if (ev.type === 'token') text += ev.text;
          else return { text, finishReason: ev.finishReason, promptTokens: ev.promptTokens, completionTokens: ev.completionTokens };
        }
        throw new InferenceError('INTERNAL', 'generation ended without a result');
      } catch (e) {
        if (first === undefined) {
          first = e;
          all.abort(new InferenceError('CANCELLED', `another prompt of this request failed (${toInferenceError(e).code})`));
        }
        throw e;
      }
    });
    try {
      const settled = await Promise.allSettled(runs);
      if (first !== undefined) throw toInferenceError(first);
      return settled.map((r) => (r as PromiseFulfilledResult<Completion>).value);
    } finally {
      signal?.removeEventListener('abort', onCaller);
    }
  }

  /** Counts (and logs) a request refused before it reached generate(), such as a body that does not parse. */
  refused(e: unknown, ctx?: RequestContext): InferenceError {
    return this.#failed(e, this.#logStart(ctx));
  }

  #failed(e: unknown, log: OpenRecord): InferenceError {
    const err = toInferenceError(e);
    this.#observer.failed(err.code);
    this.#logEnd(log, err.code);
    return err;
  }

  #logStart(ctx: RequestContext | undefined, prompt?: string): OpenRecord {
    const rec: OpenRecord = { t0: this.#now(), generatedTokens: 0, ended: false };
    if (!this.#requestLog) return rec;
    rec.ctx = ctx ?? { protocol: 'grpc', method: 'unknown' };
    if (prompt !== undefined) rec.promptBytes = Buffer.byteLength(prompt);
    return rec;
  }

  #logEnd(log: OpenRecord, status: string): void {
    if (log.ended || !this.#requestLog || !log.ctx) return;
    log.ended = true;
    const r: RequestRecord = {
      requestId: log.ctx.requestId ?? randomUUID(),
      protocol: log.ctx.protocol,
      method: log.ctx.method,
      status,
      generatedTokens: log.generatedTokens,
      durationMs: round(this.#now() - log.t0),
    };
    if (log.finishReason !== undefined) r.finishReason = log.finishReason;
    if (log.promptBytes !== undefined) r.promptBytes = log.promptBytes;
    if (log.promptTokens !== undefined) r.promptTokens = log.promptTokens;
    if (log.ttftMs !== undefined) r.ttftMs = round(log.ttftMs);
    this.#requestLog(r);
  }

  /**
   * Graceful shutdown: stops admitting work at once, lets in-flight requests finish for up to graceMs, then
   * cancels what is left. Resolves with the number of requests that had to be cancelled.
   */
  async drain(graceMs: number): Promise<number> {
    if (this.#state === 'serving' || this.#state === 'loading' || this.#state === 'failed') this.#setState('draining');
    if (this.#inflight > 0) {
      let timer: NodeJS.Timeout | undefined;
      let done!: () => void;
      const idle = new Promise<void>((r) => (done = r));
      this.#idle.add(done);
      await Promise.race([idle, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      this.#idle.delete(done);
    }
    const left = this.#inflight;
    if (left > 0) {
      this.#shutdown.abort(new InferenceError('UNAVAILABLE', 'server shut down before the request finished'));
      await new Promise<void>((r) => {
        if (this.#inflight === 0) return r();
        this.#idle.add(r);
      });
    }
    this.#setState('stopped');
    await this.#engine?.close();
    return left;
  }
}

/** A request's record while it runs. */
interface OpenRecord {
  t0: number;
  /** Absent when request logging is off. */
  ctx?: RequestContext;
  promptBytes?: number;
  promptTokens?: number;
  generatedTokens: number;
  finishReason?: FinishReason;
  ttftMs?: number;
  ended: boolean;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

const isCodeless = (e: unknown) => typeof (e as { code?: unknown } | undefined)?.code !== 'string' || (e as { code: string }).code === 'CANCELLED';
