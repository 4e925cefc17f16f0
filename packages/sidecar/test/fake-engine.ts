/**
 * An honest in-test Engine (the @slmops/engine contract) for what the real model cannot force: slow steps,
 * exact queue sizes, many cancellations. Tokens are deterministic functions of the prompt; a step loop serves
 * up to maxBatchSize sequences per step and refuses new work with RESOURCE_EXHAUSTED past maxQueue.
 */
import { EngineError, type EngineStats, type GenerateRequest, type GenerationEvent } from '@slmops/engine';
import type { Engine } from '../src/inference/engine-port.js';

export interface FakeEngineOptions {
  name?: string;
  version?: string;
  contextLength?: number;
  vocabSize?: number;
  maxBatchSize?: number;
  maxQueue?: number;
  /** Milliseconds per decode step. */
  stepMs?: number;
  executionProvider?: string;
}

interface Seq {
  ids: number[];
  promptTokens: number;
  req: GenerateRequest;
  produced: number;
  text: string;
  push(ev: GenerationEvent | Error): void;
  admitted: number;
  started?: number;
}

const EOS = 2;

/** Token i of a sequence: a letter id derived from the prompt ids, never EOS. */
const nextId = (seq: Seq) => 3 + ((seq.ids.reduce((a, b) => a * 31 + b, 7) + seq.produced * 13) >>> 0) % 26;
const textOf = (id: number) => String.fromCharCode(97 + (id - 3));

export function createFakeEngine(opts: FakeEngineOptions = {}): Engine & { steps: number; tokenize(text: string): number[] } {
  const contextLength = opts.contextLength ?? 128;
  const vocabSize = opts.vocabSize ?? 32;
  const maxBatchSize = opts.maxBatchSize ?? 8;
  const maxQueue = opts.maxQueue ?? 64;
  const stepMs = opts.stepMs ?? 1;
  const waiting: Seq[] = [];
  const running: Seq[] = [];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const engine = {
    steps: 0,
    model: {
      dir: '/nonexistent',
      manifest: {
        schemaVersion: 1 as const,
        name: opts.name ?? 'fake',
        version: opts.version ?? '1',
        architecture: 'fake',
        contextLength,
        tokenizer: { kind: 'llama2c' as const, file: 'tok', sha256: '' },
        specialIds: { bos: 1, eos: EOS },
        io: { inputIds: 'input_ids', logits: 'logits', kvLayout: 'split' as const, pastNames: [], presentNames: [], numLayers: 1, numKvHeads: 1, headDim: 1, vocabSize, idsType: 'int64' as const, maskType: 'int64' as const, kvType: 'float32' as const },
        variants: [],
      },
      tokenizer: {
        kind: 'llama2c' as const,
        vocabSize,
        bosId: 1,
        eosId: EOS,
        encode: (t: string) => [1, ...Buffer.from(t).map((b) => 3 + (b % (vocabSize - 3)))],
        decode: (ids: readonly number[]) => ids.map(textOf).join(''),
        createStreamDecoder: () => ({ push: textOf, flush: () => '' }),
      },
      variantPath: () => '/nonexistent/model.onnx',
    },
    precision: 'fp32' as const,
    executionProvider: opts.executionProvider ?? 'cpu',
    contextLength,
    stats(): EngineStats {
      const used = running.reduce((a, s) => a + s.promptTokens + s.produced, 0);
      return { running: running.length, waiting: waiting.length, kvCacheUsage: used / (maxBatchSize * contextLength) };
    },
    tokenize(text: string) {
      return engine.model.tokenizer.encode(text);
    },
    async tokenizeAsync(text: string) {
      return engine.model.tokenizer.encode(text);
    },
    generate(req: GenerateRequest, signal?: AbortSignal): AsyncIterable<GenerationEvent> {
      return run(req, signal);
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      for (const s of [...running, ...waiting]) s.push(new EngineError('CANCELLED', 'engine closed'));
      running.length = 0;
      waiting.length = 0;
    },
  };

  function finish(seq: Seq, reason: 'length' | 'stop' | 'context' | 'cancelled') {
    const now = performance.now();
    const started = seq.started ?? now;
    seq.push({
      type: 'done',
      finishReason: reason,
      promptTokens: seq.promptTokens,
      completionTokens: seq.produced,
      timings: { queueMs: started - seq.admitted, prefillMs: 0, decodeMs: now - started, ttftMs: 0, totalMs: now - seq.admitted },
    });
  }

  function step() {
    timer = undefined;
    engine.steps++;
    while (running.length < maxBatchSize && waiting.length > 0) {
      const s = waiting.shift()!;
      s.started = performance.now();
      running.push(s);
    }
    for (const s of [...running]) {
      if (s.produced >= s.req.maxTokens) {
        running.splice(running.indexOf(s), 1);
        finish(s, 'length');
        continue;
      }
      if (s.promptTokens + s.produced >= contextLength) {
        running.splice(running.indexOf(s), 1);
        finish(s, 'context');
        continue;
      }
      const id = nextId(s);
      s.produced++;
      s.text += textOf(id);
      if (s.req.stop?.some((st) => s.text.endsWith(st))) {
        running.splice(running.indexOf(s), 1);
        finish(s, 'stop');
        continue;
      }
      s.push({ type: 'token', id, text: textOf(id), index: s.produced - 1, timeMs: performance.now() - s.admitted });
    }
    schedule();
  }

  function schedule() {
    if (!timer && !closed && (running.length > 0 || waiting.length > 0)) timer = setTimeout(step, stepMs);
  }

  async function* run(req: GenerateRequest, signal?: AbortSignal): AsyncGenerator<GenerationEvent> {
    if (closed) throw new EngineError('FAILED_PRECONDITION', 'engine closed');
    const ids = req.promptIds ?? engine.tokenize(req.prompt ?? '');
    if (ids.length >= contextLength) throw new EngineError('OUT_OF_RANGE', `prompt of ${ids.length} tokens does not fit ${contextLength}`);
    if (waiting.length >= maxQueue) throw new EngineError('RESOURCE_EXHAUSTED', `queue full (${maxQueue} waiting)`);
    const events: (GenerationEvent | Error)[] = [];
    let wake: (() => void) | undefined;
    const seq: Seq = {
      ids,
      promptTokens: ids.length,
      req,
      produced: 0,
      text: '',
      admitted: performance.now(),
      push(ev) {
        events.push(ev);
        wake?.();
      },
    };
    const remove = () => {
      const r = running.indexOf(seq);
      if (r >= 0) running.splice(r, 1);
      const w = waiting.indexOf(seq);
      if (w >= 0) waiting.splice(w, 1);
      return r >= 0 || w >= 0;
    };
    const onAbort = () => {
      if (!remove()) return;
      if ((signal?.reason as Error | undefined)?.name === 'TimeoutError') seq.push(new EngineError('DEADLINE_EXCEEDED', 'deadline exceeded'));
      else finish(seq, 'cancelled');
    };
    if (signal?.aborted) {
      finish(seq, 'cancelled');
    } else {
      signal?.addEventListener('abort', onAbort, { once: true });
      waiting.push(seq);
      schedule();
    }
    try {
      for (;;) {
        while (events.length === 0) await new Promise<void>((r) => (wake = r));
        const ev = events.shift()!;
        if (ev instanceof Error) throw ev;
        yield ev;
        if (ev.type === 'done') return;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      remove();
    }
  }

  return engine;
}

/**
 * `engine` with its events handed on in groups, as a threaded engine's stream interval does: `decide` sees each
 * event after it joins the held ones and says whether to hold them, release them, or release them and then fail.
 */
export function regrouped(engine: Engine, decide: (ev: GenerationEvent, held: number, req: GenerateRequest) => 'hold' | 'release' | 'fail'): Engine {
  return {
    ...engine,
    async *generate(req, signal) {
      const held: GenerationEvent[] = [];
      for await (const ev of engine.generate(req, signal)) {
        held.push(ev);
        const verdict = decide(ev, held.length, req);
        if (verdict !== 'hold') yield* held.splice(0);
        if (verdict === 'fail') throw new EngineError('INTERNAL', 'engine failed');
      }
    },
  };
}
