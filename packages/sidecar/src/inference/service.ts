import { setMaxListeners } from 'node:events';
import type { Engine, EngineStats, FinishReason, GenerateRequest, GenerationEvent, GenerationTimings } from './engine-port.js';
import { InferenceError, invalidArgument, toInferenceError } from './errors.js';

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

export interface ServiceOptions {
  observer?: ServingObserver;
  /** max_tokens when a request leaves it 0/unset. */
  defaultMaxTokens?: number;
  /** Longest prompt accepted before tokenizing, in UTF-8 bytes (protects the tokenizer from huge inputs). */
  maxPromptBytes?: number;
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
  readonly #maxPromptBytes: number;
  readonly #now: () => number;

  constructor(opts: ServiceOptions = {}) {
    this.#observer = opts.observer ?? noopObserver;
    this.#defaultMaxTokens = opts.defaultMaxTokens ?? 256;
    this.#maxPromptBytes = opts.maxPromptBytes ?? 256 * 1024;
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

  tokenize(text: string): number[] {
    const engine = this.#serving();
    if (typeof text !== 'string') throw invalidArgument('text', 'must be a string');
    if (Buffer.byteLength(text) > this.#maxPromptBytes) throw invalidArgument('text', `longer than ${this.#maxPromptBytes} bytes`);
    return engine.tokenize(text);
  }

  /** Checks a request against the model; throws INVALID_ARGUMENT naming the field, OUT_OF_RANGE for long prompts. */
  validate(req: GenerateRequest): { request: GenerateRequest; promptTokens: number } {
    const info = this.info();
    const engine = this.#serving();
    const hasPrompt = req.prompt !== undefined;
    const hasIds = req.promptIds !== undefined && req.promptIds.length > 0;
    if (hasPrompt === hasIds) throw invalidArgument('prompt', hasPrompt ? 'give prompt or prompt_ids, not both' : 'prompt (or prompt_ids) is required');
    let promptTokens: number;
    if (hasPrompt) {
      if (typeof req.prompt !== 'string') throw invalidArgument('prompt', 'must be a string');
      if (Buffer.byteLength(req.prompt) > this.#maxPromptBytes) throw invalidArgument('prompt', `longer than ${this.#maxPromptBytes} bytes`);
      promptTokens = engine.tokenize(req.prompt).length;
    } else {
      req.promptIds!.forEach((id, i) => {
        if (!Number.isInteger(id) || id < 0 || id >= info.vocabSize) throw invalidArgument(`prompt_ids[${i}]`, `must be a token id in [0, ${info.vocabSize})`);
      });
      promptTokens = req.promptIds!.length;
    }
    if (promptTokens >= info.contextLength) {
      throw new InferenceError('OUT_OF_RANGE', `prompt: ${promptTokens} tokens do not fit the context of ${info.contextLength} tokens`, { field: 'prompt' });
    }
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
    const request: GenerateRequest = { ...req, maxTokens };
    if (request.stop?.length === 0) delete request.stop;
    return { request, promptTokens };
  }

  /**
   * Generates through the engine's continuous batching. The signal cancels (its reason, if an Error with a
   * code, is what the caller sees); errors are InferenceErrors. Never logs or records text.
   */
  async *generate(req: GenerateRequest, signal?: AbortSignal): AsyncGenerator<GenerationEvent> {
    let engine: Engine;
    let checked: ReturnType<InferenceService['validate']>;
    try {
      engine = this.#serving();
      checked = this.validate(req);
    } catch (e) {
      const err = toInferenceError(e);
      this.#observer.failed(err.code);
      throw err;
    }
    const { request, promptTokens } = checked;
    const t0 = this.#now();
    this.#inflight++;
    this.#observer.accepted({ maxTokens: request.maxTokens, promptTokens });
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
      if (combined.aborted) throw combined.reason;
      for await (const ev of engine.generate(request, combined)) {
        const t = this.#now();
        if (ev.type === 'token') {
          if (!started) {
            started = true;
            this.#observer.firstToken((t - t0) / 1000);
          }
          // Between the engine's selections of consecutive tokens: the engine may deliver several at once.
          else this.#observer.token((ev.timeMs - lastMs) / 1000);
          lastMs = ev.timeMs;
        } else {
          // An engine that reports cancellation as a finish reason: surface why it was cancelled instead.
          if (ev.finishReason === 'cancelled' && combined.aborted) throw combined.reason;
          settled = true;
          this.#observer.finished({ ...ev, e2eSeconds: (t - t0) / 1000 });
        }
        yield ev;
      }
    } catch (e) {
      const err = toInferenceError(combined.aborted && !(e instanceof InferenceError) && isCodeless(e) ? (combined.reason ?? e) : e);
      settled = true;
      this.#observer.failed(err.code);
      throw err;
    } finally {
      // A consumer that stops iterating early (its client went away) abandoned the request: count it as cancelled.
      if (!settled) this.#observer.failed('CANCELLED');
      if (onCaller) signal?.removeEventListener('abort', onCaller);
      this.#shutdown.signal.removeEventListener('abort', onShutdown);
      this.#inflight--;
      if (this.#inflight === 0) for (const f of this.#idle) f();
    }
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

const isCodeless = (e: unknown) => typeof (e as { code?: unknown } | undefined)?.code !== 'string' || (e as { code: string }).code === 'CANCELLED';
