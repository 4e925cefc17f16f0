import type { FinishReason, GenerateRequest, GenerationEvent } from '../inference/engine-port.js';
import { invalidArgument } from '../inference/errors.js';
import type { ModelInfo } from '../inference/service.js';

/** slmops.inference.v1.GenerateRequest as proto-loader decodes it (keepCase, defaults, optional fields absent). */
export interface WireGenerateRequest {
  prompt?: string;
  prompt_ids?: number[];
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  seed?: number;
  repetition_penalty?: number;
  stop?: string[];
  /** Transport option, not the engine's: several tokens per GenerateResponse. */
  coalesce_tokens?: boolean;
}

/** Maps the wire request to the engine's; proto3 cannot tell an empty prompt from none, so '' counts as none when prompt_ids are given. */
export function fromWireGenerate(w: WireGenerateRequest): GenerateRequest {
  if (w === null || typeof w !== 'object') throw invalidArgument('request', 'must be a message');
  const ids = w.prompt_ids ?? [];
  const req: GenerateRequest = { maxTokens: w.max_tokens ?? 0 };
  if (ids.length > 0) req.promptIds = ids;
  if (w.prompt || ids.length === 0) req.prompt = w.prompt ?? '';
  if (w.temperature !== undefined) req.temperature = w.temperature;
  if (w.top_p !== undefined) req.topP = w.top_p;
  if (w.top_k !== undefined) req.topK = w.top_k;
  if (w.seed !== undefined) req.seed = w.seed;
  if (w.repetition_penalty !== undefined) req.repetitionPenalty = w.repetition_penalty;
  if (w.stop && w.stop.length > 0) req.stop = w.stop;
  return req;
}

const FINISH: Record<FinishReason, string> = {
  stop: 'FINISH_REASON_STOP',
  length: 'FINISH_REASON_LENGTH',
  eos: 'FINISH_REASON_EOS',
  context: 'FINISH_REASON_CONTEXT',
  cancelled: 'FINISH_REASON_CANCELLED',
};

export type TokenEvent = Extract<GenerationEvent, { type: 'token' }>;
type DoneEvent = Extract<GenerationEvent, { type: 'done' }>;

/** One stream message per engine event; the last one carries finish reason, usage and timings. */
export function toWireGenerateResponse(ev: GenerationEvent): Record<string, unknown> {
  if (ev.type === 'token') return { text: ev.text, token_id: ev.id, index: ev.index };
  return toWireDone(ev);
}

/** One coalesced message (coalesce_tokens): consecutive tokens, their text joined, and the end if given. */
export function toWireCoalescedResponse(tokens: readonly TokenEvent[], done?: DoneEvent): Record<string, unknown> {
  const first = tokens[0];
  const msg: Record<string, unknown> = done ? toWireDone(done) : {};
  if (first) Object.assign(msg, { text: tokens.map((t) => t.text).join(''), token_id: first.id, index: first.index, token_ids: tokens.map((t) => t.id) });
  return msg;
}

function toWireDone(ev: DoneEvent): Record<string, unknown> {
  const t = ev.timings;
  return {
    finish_reason: FINISH[ev.finishReason],
    usage: { prompt_tokens: ev.promptTokens, completion_tokens: ev.completionTokens, total_tokens: ev.promptTokens + ev.completionTokens },
    timings: { queue_ms: t.queueMs, prefill_ms: t.prefillMs, decode_ms: t.decodeMs, ttft_ms: t.ttftMs, total_ms: t.totalMs },
  };
}

/** A Generate stream message as the client hands it on. */
export type RemoteGenerationEvent =
  | { type: 'token'; id: number; text: string; index: number }
  /** With coalesce_tokens: consecutive tokens from `index` on, their text joined. */
  | { type: 'tokens'; ids: number[]; text: string; index: number }
  | { type: 'done'; finishReason: FinishReason | undefined; promptTokens: number; completionTokens: number; timings: Record<string, number> };

/**
 * The events one GenerateResponse carries: its tokens (a group when token_ids is set, else one token unless it is
 * the end), then the end. Read from the message alone, so a server that ignores coalesce_tokens (older than it)
 * still streams one token per message.
 */
export function fromWireGenerateResponse(m: Record<string, unknown>): RemoteGenerationEvent[] {
  const out: RemoteGenerationEvent[] = [];
  const ids = (m['token_ids'] as number[] | undefined) ?? [];
  const finish = m['finish_reason'] as string | undefined;
  const done = finish !== undefined && finish !== '' && finish !== 'FINISH_REASON_UNSPECIFIED';
  if (ids.length > 0) out.push({ type: 'tokens', ids, text: m['text'] as string, index: m['index'] as number });
  else if (!done) out.push({ type: 'token', id: m['token_id'] as number, text: m['text'] as string, index: m['index'] as number });
  if (done) {
    const u = (m['usage'] ?? {}) as Record<string, number>;
    out.push({ type: 'done', finishReason: fromWireFinishReason(finish), promptTokens: u['prompt_tokens'] ?? 0, completionTokens: u['completion_tokens'] ?? 0, timings: (m['timings'] ?? {}) as Record<string, number> });
  }
  return out;
}

/** Wire name of a finish reason back to the domain's (used by the client). */
export function fromWireFinishReason(s: string): FinishReason | undefined {
  return (Object.entries(FINISH) as [FinishReason, string][]).find(([, v]) => v === s)?.[0];
}

export function toWireModelInfo(i: ModelInfo): Record<string, unknown> {
  return {
    name: i.name,
    version: i.version,
    digest: i.digest,
    precision: i.precision,
    execution_provider: i.executionProvider,
    context_length: i.contextLength,
    vocab_size: i.vocabSize,
    architecture: i.architecture,
    fallbacks: i.fallbacks.map((f) => ({ from: f.from, to: f.to, reason: f.reason })),
    max_batch_size: i.maxBatchSize,
    max_queue: i.maxQueue,
  };
}
