/** Reading Generate stream messages on the client, from servers with and without coalesce_tokens. */
import { describe, expect, it } from 'vitest';
import { fromWireGenerateResponse, toWireCoalescedResponse, toWireGenerateResponse } from '../src/grpc/inference-mapping.js';

// What proto-loader hands the client (defaults: true): every field present, enums by name.
const decoded = (m: Record<string, unknown>) => ({ text: '', token_id: 0, index: 0, finish_reason: 'FINISH_REASON_UNSPECIFIED', usage: null, timings: null, token_ids: [], ...m });
const timings = { queueMs: 1, prefillMs: 2, decodeMs: 3, ttftMs: 4, totalMs: 5 };
const done = { type: 'done', finishReason: 'length', promptTokens: 3, completionTokens: 2, timings } as const;
const tok = (id: number, index: number, text: string) => ({ type: 'token', id, text, index, timeMs: index }) as const;

describe('Generate messages on the client', () => {
  it('reads one token per message, and the end, from a server that does not coalesce', () => {
    expect(fromWireGenerateResponse(decoded(toWireGenerateResponse(tok(7, 0, 'Once'))))).toEqual([{ type: 'token', id: 7, text: 'Once', index: 0 }]);
    // Token id 0 at index 0 with empty text is still a token (proto3 defaults cannot tell it from an unset field).
    expect(fromWireGenerateResponse(decoded(toWireGenerateResponse(tok(0, 0, ''))))).toEqual([{ type: 'token', id: 0, text: '', index: 0 }]);
    expect(fromWireGenerateResponse(decoded(toWireGenerateResponse(done)))).toEqual([
      { type: 'done', finishReason: 'length', promptTokens: 3, completionTokens: 2, timings: { queue_ms: 1, prefill_ms: 2, decode_ms: 3, ttft_ms: 4, total_ms: 5 } },
    ]);
  });

  it('reads a coalesced group, and a last message carrying tokens beside the end', () => {
    expect(fromWireGenerateResponse(decoded(toWireCoalescedResponse([tok(7, 3, 'a'), tok(8, 4, 'b')])))).toEqual([{ type: 'tokens', ids: [7, 8], text: 'ab', index: 3 }]);
    const last = fromWireGenerateResponse(decoded(toWireCoalescedResponse([tok(9, 5, ' c')], done)));
    expect(last.map((e) => e.type)).toEqual(['tokens', 'done']);
    expect(last[0]).toEqual({ type: 'tokens', ids: [9], text: ' c', index: 5 });
    expect(fromWireGenerateResponse(decoded(toWireCoalescedResponse([], done))).map((e) => e.type)).toEqual(['done']);
  });
});
