import * as grpc from '@grpc/grpc-js';
import { EngineError, type EngineErrorCode } from '@slmops/engine';
import type { GenerateRequest, GenerationEvent } from './inference/engine-port.js';
import { type RemoteGenerationEvent, type WireGenerateRequest, fromWireGenerateResponse } from './grpc/inference-mapping.js';
import { type LoadedProtos, loadProtos } from './grpc/protos.js';

/** A Generate request in the wire's snake_case (what `slmops generate --server` sends). */
export type RemoteGenerateRequest = WireGenerateRequest;

export type { RemoteGenerationEvent };

let cached: LoadedProtos | undefined;
const protos = () => (cached ??= loadProtos());

/** A raw gRPC client of one of the sidecar's services (inference, oip or health). */
export function createClient(kind: 'inference' | 'oip' | 'health', address: string, options?: grpc.ClientOptions): grpc.Client & Record<string, (...a: unknown[]) => unknown> {
  const Ctor = protos()[kind];
  return new Ctor(address, grpc.credentials.createInsecure(), options) as grpc.Client & Record<string, (...a: unknown[]) => unknown>;
}

/**
 * Streams one Generate call from a sidecar at host:port; aborting the signal cancels the call. Errors are
 * grpc ServiceErrors (code, details). Opens and closes its own channel unless a client is passed.
 */
export async function* generateRemote(
  address: string,
  request: RemoteGenerateRequest,
  signal?: AbortSignal,
  opts: { deadlineMs?: number; client?: grpc.Client } = {},
): AsyncGenerator<RemoteGenerationEvent> {
  const client = (opts.client ?? createClient('inference', address)) as grpc.Client & { Generate(req: unknown, options: grpc.CallOptions): grpc.ClientReadableStream<Record<string, unknown>> };
  const call = client.Generate(request, opts.deadlineMs ? { deadline: Date.now() + opts.deadlineMs } : {});
  const onAbort = () => call.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const m of call as AsyncIterable<Record<string, unknown>>) yield* fromWireGenerateResponse(m);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    call.cancel();
    if (!opts.client) client.close();
  }
}

const ENGINE_CODES = new Set(['INVALID_ARGUMENT', 'OUT_OF_RANGE', 'RESOURCE_EXHAUSTED', 'CANCELLED', 'DEADLINE_EXCEEDED', 'FAILED_PRECONDITION', 'INTERNAL']);
const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** A gRPC failure as the engine would have thrown it (same code names; the field in the engine's camelCase). */
function asEngineError(e: unknown): unknown {
  const err = e as grpc.ServiceError;
  const name = typeof err?.code === 'number' ? grpc.status[err.code] : undefined;
  if (!name || !ENGINE_CODES.has(name)) return e;
  const field = err.metadata?.get('slmops-field')[0];
  const details = err.details ?? err.message;
  return new EngineError(name as EngineErrorCode, field ? details.replace(/^[a-z_]+/, (f) => camel(f)) : details, { ...(field ? { field: camel(String(field)) } : {}), cause: e });
}

/**
 * The engine's `generate` shape over a remote sidecar (for `slmops generate --server host:port`): same
 * request and event types as the in-process engine, errors as EngineErrors with the same codes.
 */
export function remoteGenerationSource(address: string): { generate(req: GenerateRequest, signal?: AbortSignal): AsyncIterable<GenerationEvent>; close(): Promise<void> } {
  const client = createClient('inference', address);
  return {
    async *generate(req, signal) {
      const wire: WireGenerateRequest = {
        ...(req.promptIds ? { prompt_ids: req.promptIds } : { prompt: req.prompt ?? '' }),
        max_tokens: req.maxTokens,
        ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
        ...(req.topP !== undefined ? { top_p: req.topP } : {}),
        ...(req.topK !== undefined ? { top_k: req.topK } : {}),
        ...(req.seed !== undefined ? { seed: req.seed } : {}),
        ...(req.repetitionPenalty !== undefined ? { repetition_penalty: req.repetitionPenalty } : {}),
        ...(req.stop ? { stop: req.stop } : {}),
      };
      const t0 = performance.now();
      try {
        for await (const ev of generateRemote(address, wire, signal, { client })) {
          // One token per message (no coalesce_tokens): the engine's events, one for one.
          if (ev.type === 'token') yield { ...ev, timeMs: performance.now() - t0 };
          else if (ev.type === 'done') {
            const t = ev.timings;
            yield {
              type: 'done',
              finishReason: ev.finishReason ?? 'length',
              promptTokens: ev.promptTokens,
              completionTokens: ev.completionTokens,
              timings: { queueMs: t['queue_ms'] ?? 0, prefillMs: t['prefill_ms'] ?? 0, decodeMs: t['decode_ms'] ?? 0, ttftMs: t['ttft_ms'] ?? 0, totalMs: t['total_ms'] ?? 0 },
            };
          }
        }
      } catch (e) {
        throw asEngineError(e);
      }
    },
    async close() {
      client.close();
    },
  };
}
