/**
 * OpenAI-compatible /v1/completions and /v1/chat/completions (the Gateway API Inference Extension's
 * model-server protocol): JSON or SSE streaming with usage, errors in OpenAI's shape.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpHandler } from '@slmops/metrics';
import type { FinishReason, GenerateRequest } from '../inference/engine-port.js';
import { InferenceError, invalidArgument, toInferenceError } from '../inference/errors.js';
import { DEFAULT_MAX_PROMPT_BYTES, checkEchoed, checkPromptBytes } from '../inference/limits.js';
import type { InferenceService, RequestContext } from '../inference/service.js';

const MAX_BODY = 1024 * 1024;

const HTTP_STATUS: Record<string, number> = {
  INVALID_ARGUMENT: 400,
  OUT_OF_RANGE: 400,
  NOT_FOUND: 404,
  RESOURCE_EXHAUSTED: 429,
  CANCELLED: 499,
  FAILED_PRECONDITION: 400,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  INTERNAL: 500,
};

/** OpenAI's finish_reason vocabulary. */
export const openAiFinishReason = (r: FinishReason): string => (r === 'length' || r === 'context' ? 'length' : 'stop');

const ASSISTANT_TURN = '\nassistant:';

/**
 * A chat transcript as one prompt: "role: content" lines and an open "assistant:" turn (no model template). The
 * prompt's size is summed from the parts and checked against `maxPromptBytes` before anything is joined.
 */
export function chatPrompt(messages: unknown, maxPromptBytes = DEFAULT_MAX_PROMPT_BYTES): string {
  if (!Array.isArray(messages) || messages.length === 0) throw invalidArgument('messages', 'must be a non-empty array');
  let bytes = Buffer.byteLength(ASSISTANT_TURN) + messages.length - 1;
  const turns = messages.map((m, i) => {
    const msg = m as { role?: unknown; content?: unknown };
    if (typeof msg?.role !== 'string' || !['system', 'user', 'assistant', 'developer'].includes(msg.role)) {
      throw invalidArgument(`messages[${i}].role`, 'must be system, developer, user or assistant');
    }
    const content = msg.content;
    let parts: string[];
    if (typeof content === 'string') parts = [content];
    else if (Array.isArray(content)) {
      parts = content.map((p: { type?: unknown; text?: unknown }, j) => {
        if (p?.type !== 'text' || typeof p.text !== 'string') throw invalidArgument(`messages[${i}].content[${j}]`, 'only text parts are supported');
        return p.text;
      });
    } else throw invalidArgument(`messages[${i}].content`, 'must be a string or text parts');
    bytes += msg.role.length + 2 + parts.reduce((a, t) => a + Buffer.byteLength(t), 0);
    return { role: msg.role, parts };
  });
  checkPromptBytes('messages', bytes, maxPromptBytes);
  return `${turns.map((t) => `${t.role}: ${t.parts.join('')}`).join('\n')}${ASSISTANT_TURN}`;
}

const optNum = (body: Record<string, unknown>, key: string): number | undefined => {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') throw invalidArgument(key, 'must be a number');
  return v;
};

/** Maps an OpenAI request body to the engine request (sampling fields and vLLM's top_k extension). */
export function fromOpenAiBody(
  body: Record<string, unknown>,
  kind: 'completion' | 'chat',
  servedModel: string,
  maxPromptBytes = DEFAULT_MAX_PROMPT_BYTES,
): { request: GenerateRequest; stream: boolean; includeUsage: boolean } {
  if (body.model !== undefined && typeof body.model !== 'string') throw invalidArgument('model', 'must be a string');
  checkEchoed('model', body.model);
  if (body.model !== undefined && body.model !== servedModel) throw new InferenceError('NOT_FOUND', `model: "${String(body.model)}" is not served here; this server serves "${servedModel}"`, { field: 'model' });
  let prompt: string;
  if (kind === 'chat') prompt = chatPrompt(body.messages, maxPromptBytes);
  else {
    const p = body.prompt;
    if (typeof p === 'string') prompt = p;
    else if (Array.isArray(p) && p.length === 1 && typeof p[0] === 'string') prompt = p[0];
    else throw invalidArgument('prompt', 'must be a string (or an array of one string)');
  }
  const n = optNum(body, 'n');
  if (n !== undefined && n !== 1) throw invalidArgument('n', 'only n=1 is supported');
  const maxTokens = optNum(body, kind === 'chat' ? 'max_completion_tokens' : 'max_tokens') ?? optNum(body, 'max_tokens') ?? (kind === 'chat' ? 0 : 16);
  const request: GenerateRequest = { prompt, maxTokens };
  const t = optNum(body, 'temperature');
  if (t !== undefined) request.temperature = t;
  const tp = optNum(body, 'top_p');
  if (tp !== undefined) request.topP = tp;
  const tk = optNum(body, 'top_k');
  if (tk !== undefined && tk !== -1) request.topK = tk;
  const seed = optNum(body, 'seed');
  if (seed !== undefined) request.seed = seed;
  const rp = optNum(body, 'repetition_penalty');
  if (rp !== undefined) request.repetitionPenalty = rp;
  const stop = body.stop;
  if (typeof stop === 'string') request.stop = [stop];
  else if (Array.isArray(stop)) {
    if (!stop.every((s) => typeof s === 'string')) throw invalidArgument('stop', 'must be a string or an array of strings');
    if (stop.length > 0) request.stop = stop as string[];
  } else if (stop !== undefined && stop !== null) throw invalidArgument('stop', 'must be a string or an array of strings');
  if (body.stream !== undefined && typeof body.stream !== 'boolean') throw invalidArgument('stream', 'must be a boolean');
  const so = body.stream_options as { include_usage?: unknown } | undefined;
  return { request, stream: body.stream === true, includeUsage: so?.include_usage === true };
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw invalidArgument('body', `larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw invalidArgument('body', 'must be JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidArgument('body', 'must be a JSON object');
  return body as Record<string, unknown>;
}

function sendError(res: ServerResponse, e: unknown): void {
  const err = toInferenceError(e);
  const status = HTTP_STATUS[err.code] ?? 500;
  const body = { error: { message: err.message, type: err.code === 'INTERNAL' ? 'server_error' : 'invalid_request_error', param: err.field ?? null, code: err.code.toLowerCase() } };
  if (res.headersSent) {
    // Mid-stream: the status line is gone, so the error travels as an SSE event before the stream ends.
    res.end(`data: ${JSON.stringify(body)}\n\n`);
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

let counter = 0;
const newId = (prefix: string) => `${prefix}-${Date.now().toString(36)}${(counter++).toString(36)}`;

/** POST /v1/completions and /v1/chat/completions over the inference service. */
export function openAiHandler(service: InferenceService): HttpHandler {
  return async (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const kind = path === '/v1/completions' ? 'completion' : path === '/v1/chat/completions' ? 'chat' : undefined;
    if (path === '/v1/models' && req.method === 'GET') {
      try {
        const info = service.info();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: info.name, object: 'model', created: 0, owned_by: 'slmops' }] }));
      } catch (e) {
        sendError(res, e);
      }
      return true;
    }
    if (!kind) return false;
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return true;
    }
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort(new InferenceError('CANCELLED', 'client disconnected'));
    });
    const id = newId(kind === 'chat' ? 'chatcmpl' : 'cmpl');
    const ctx: RequestContext = { protocol: 'openai', method: kind === 'chat' ? 'chat.completions' : 'completions', requestId: id };
    try {
      let parsed: ReturnType<typeof fromOpenAiBody>;
      let info: ReturnType<InferenceService['info']>;
      try {
        info = service.info();
        parsed = fromOpenAiBody(await readJson(req), kind, info.name, service.maxPromptBytes);
      } catch (e) {
        throw service.refused(e, ctx);
      }
      const { request, stream, includeUsage } = parsed;
      const created = Math.floor(Date.now() / 1000);
      const object = kind === 'chat' ? 'chat.completion' : 'text_completion';
      const chunkObject = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
      const choice = (text: string, finish: string | null, first: boolean) =>
        kind === 'chat'
          ? { index: 0, delta: first ? { role: 'assistant', content: text } : { content: text }, finish_reason: finish, logprobs: null }
          : { index: 0, text, finish_reason: finish, logprobs: null };
      let text = '';
      let first = true;
      for await (const ev of service.generate(request, ac.signal, ctx)) {
        if (ev.type === 'token') {
          if (stream) {
            if (first) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
            if (ev.text !== '' || first) res.write(`data: ${JSON.stringify({ id, object: chunkObject, created, model: info.name, choices: [choice(ev.text, null, first)] })}\n\n`);
            first = false;
          } else text += ev.text;
          continue;
        }
        const finish = openAiFinishReason(ev.finishReason);
        const usage = { prompt_tokens: ev.promptTokens, completion_tokens: ev.completionTokens, total_tokens: ev.promptTokens + ev.completionTokens };
        if (stream) {
          if (first) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
          const last = kind === 'chat' ? { index: 0, delta: {}, finish_reason: finish, logprobs: null } : { index: 0, text: '', finish_reason: finish, logprobs: null };
          res.write(`data: ${JSON.stringify({ id, object: chunkObject, created, model: info.name, choices: [last] })}\n\n`);
          if (includeUsage) res.write(`data: ${JSON.stringify({ id, object: chunkObject, created, model: info.name, choices: [], usage })}\n\n`);
          res.end('data: [DONE]\n\n');
        } else {
          const c = kind === 'chat' ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: finish, logprobs: null } : { index: 0, text, finish_reason: finish, logprobs: null };
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, object, created, model: info.name, choices: [c], usage }));
        }
      }
    } catch (e) {
      if (!res.writableEnded && !ac.signal.aborted) sendError(res, e);
      else if (!res.writableEnded) res.end();
    }
    return true;
  };
}
