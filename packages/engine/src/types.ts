/** The engine's public request, event and handle types, shared by the CLI, the sidecar and the benchmarks. */
import type { LoadedModel, Precision } from '@slmops/model';
import type { SessionPortFactory } from './session.js';

export interface GenerateRequest {
  /** Text to continue (encoded with BOS first); exactly one of prompt and promptIds. */
  prompt?: string;
  promptIds?: number[];
  maxTokens: number;
  /** 0 = greedy; default 1. */
  temperature?: number;
  /** 0 = off (default). */
  topK?: number;
  /** 1 = off (default). */
  topP?: number;
  /** 1 = off (default). */
  repetitionPenalty?: number;
  /** Same seed, same output; random when absent. */
  seed?: number;
  /** Generation ends before the first occurrence of any of these (the stop text itself is not emitted). */
  stop?: string[];
  /** Attach each generated position's float32 logits (before penalties) to its token event. */
  returnLogits?: boolean;
}

export type FinishReason = 'stop' | 'length' | 'eos' | 'context' | 'cancelled';

export interface Timings {
  queueMs: number;
  prefillMs: number;
  decodeMs: number;
  ttftMs: number;
  totalMs: number;
}

export type GenerationEvent =
  | {
      type: 'token';
      id: number;
      /** Text this token completes, as llama2.c prints it (may be '' while bytes or a stop prefix are held). */
      text: string;
      /** 0-based index among generated tokens. */
      index: number;
      /** Milliseconds from the request's admission to this token's selection. */
      timeMs: number;
      logits?: Float32Array;
    }
  | {
      type: 'done';
      finishReason: FinishReason;
      promptTokens: number;
      completionTokens: number;
      timings: Timings;
      /** Text held back until the end (a partial stop string or incomplete bytes) when the model ended with EOS. */
      text?: string;
    };

export interface Engine {
  readonly model: LoadedModel;
  readonly precision: Precision;
  /** What the session really runs on, e.g. 'cpu'. */
  readonly executionProvider: string;
  readonly contextLength: number;
  /** Sequences decoding now and waiting for a slot (for metrics). */
  stats(): EngineStats;
  /** Streams one generation. Errors (EngineError) surface from the iterator; abort = 'cancelled' done event,
   *  or DEADLINE_EXCEEDED when the signal's reason is a TimeoutError. */
  generate(req: GenerateRequest, signal?: AbortSignal): AsyncIterable<GenerationEvent>;
  tokenize(text: string): number[];
  /** The same ids as tokenize(), without holding the caller's thread: a threaded engine encodes texts longer than
   *  INLINE_TOKENIZE_CHARS on its worker, so a long prompt never stalls the caller's event loop. */
  tokenizeAsync(text: string): Promise<number[]>;
  /** Teacher-forced pass over `ids` (outside the batch scheduler): per position i < n-1, the negative
   *  log-likelihood of ids[i+1] and the argmax id. For evaluation (perplexity, agreement). */
  score(ids: readonly number[]): Promise<{ nll: number[]; argmax: number[] }>;
  /** Cancels everything in flight and releases the session. */
  close(): Promise<void>;
}

export interface EngineStats {
  running: number;
  waiting: number;
  /** Cached positions held by running sequences / (maxBatchSize x context length). */
  kvCacheUsage: number;
  /** Bytes of free KV-cache buffers pooled for reuse (at most kvPoolMaxBytes; 0 while idle). */
  kvPoolBytes?: number;
}

export interface EngineOptions {
  /** Default: the model's first variant. */
  precision?: Precision;
  /** Preference order, first that opens the model wins; default ['cpu']. */
  executionProviders?: string[];
  intraOpThreads?: number;
  /** Sequences sharing one decode step; default 8. */
  maxBatchSize?: number;
  /** Requests waiting for a slot before new ones are refused with RESOURCE_EXHAUSTED; default 64. */
  maxQueue?: number;
  /** Most bytes of free KV-cache buffers kept for reuse between steps; default 64 MiB. The pool is emptied
   *  whenever the engine goes idle, so a load peak does not hold memory afterwards. */
  kvPoolMaxBytes?: number;
  /** false: ONNX Runtime allocates each run's CPU buffers from the system instead of keeping an arena that only
   *  grows (a few MiB less after a load peak, at some cost per run). Default true (ORT's default). */
  cpuMemArena?: boolean;
  /** Called whenever the engine becomes idle (nothing running or waiting); not carried to a threaded engine. */
  onIdle?: () => void;
  /** Session factory (default onnxruntime-node); tests pass their own. */
  session?: SessionPortFactory;
}
