/** createEngine: opens a model variant in a session and serves generate() through the batching scheduler. */
import { performance } from 'node:perf_hooks';
import { Decoder, logitsAt } from './decoder.js';
import { EngineError, invalidArgument } from './errors.js';
import type { LoadedModel } from '@slmops/model';
import { prepareRequest } from './request.js';
import { Sampler, scoreLogits } from './sampler.js';
import { Scheduler, Sequence } from './scheduler.js';
import { createOrtSession } from './session.js';
import { StopMatcher } from './stop.js';
import type { Engine, EngineOptions, GenerateRequest, GenerationEvent } from './types.js';

const positiveInt = (v: number | undefined, field: string, dflt: number): number => {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1) throw new EngineError('INVALID_ARGUMENT', `${field}: must be an integer >= 1, got ${v}`, { field });
  return v;
};

/** Ids that end a generation: EOS, and BOS for llama2.c models (their stories are BOS-separated, no EOS). */
function stopIdsOf(model: LoadedModel): Set<number> {
  const ids = new Set<number>();
  const eos = model.tokenizer.eosId ?? model.manifest.specialIds.eos;
  if (eos !== undefined) ids.add(eos);
  if (model.tokenizer.kind === 'llama2c' && model.tokenizer.bosId !== undefined) ids.add(model.tokenizer.bosId);
  return ids;
}

export async function createEngine(model: LoadedModel, opts: EngineOptions = {}): Promise<Engine> {
  const maxBatchSize = positiveInt(opts.maxBatchSize, 'maxBatchSize', 8);
  const maxQueue = opts.maxQueue === 0 ? 0 : positiveInt(opts.maxQueue, 'maxQueue', 64);
  if (opts.kvPoolMaxBytes !== undefined && (!Number.isSafeInteger(opts.kvPoolMaxBytes) || opts.kvPoolMaxBytes < 0)) {
    throw new EngineError('INVALID_ARGUMENT', `kvPoolMaxBytes: must be an integer >= 0, got ${opts.kvPoolMaxBytes}`, { field: 'kvPoolMaxBytes' });
  }
  const precision = opts.precision ?? model.manifest.variants[0]?.precision;
  if (!precision) throw new EngineError('FAILED_PRECONDITION', `${model.dir}: the package lists no variants`);
  const path = model.variantPath(precision);
  const session = await (opts.session ?? createOrtSession)(path, {
    executionProviders: opts.executionProviders ?? ['cpu'],
    ...(opts.intraOpThreads ? { intraOpThreads: opts.intraOpThreads } : {}),
    ...(opts.cpuMemArena === false ? { cpuMemArena: false } : {}),
  });
  const io = model.manifest.io;
  const missing = [
    ...[io.inputIds, io.attentionMask, io.positionIds, ...io.pastNames.flat()].filter((n) => n !== undefined && !session.inputs.some((v) => v.name === n)),
    ...[io.logits, ...io.presentNames.flat()].filter((n) => !session.outputs.some((v) => v.name === n)),
  ];
  if (missing.length > 0) {
    await session.release();
    throw new EngineError('FAILED_PRECONDITION', `${path}: the graph lacks ${missing.join(', ')} named in the package's decoder IO`);
  }
  const contextLength = model.manifest.contextLength;
  const decoder = new Decoder(session, io, opts.kvPoolMaxBytes);
  const now = () => performance.now();
  const scheduler = new Scheduler(decoder, { maxBatchSize, maxQueue, contextLength, now, ...(opts.onIdle ? { onIdle: opts.onIdle } : {}) });
  const stopIds = stopIdsOf(model);
  let closed = false;

  async function* generate(req: GenerateRequest, signal?: AbortSignal): AsyncGenerator<GenerationEvent> {
    if (closed) throw new EngineError('FAILED_PRECONDITION', 'the engine is closed');
    const p = prepareRequest(req, { tokenizer: model.tokenizer, vocabSize: io.vocabSize, contextLength });
    const textDecoder = model.tokenizer.createStreamDecoder();
    for (const id of p.promptIds) textDecoder.push(id);
    const seq = new Sequence(
      {
        promptIds: p.promptIds,
        maxTokens: p.maxTokens,
        sampler: new Sampler(p.sampling),
        stop: new StopMatcher(p.stop),
        textDecoder,
        stopIds,
        returnLogits: p.returnLogits,
      },
      now(),
    );
    if (signal?.aborted) scheduler.cancel(seq, signal.reason);
    else scheduler.submit(seq);
    const onAbort = () => scheduler.cancel(seq, signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const r = await seq.channel.next();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // A consumer that stops iterating early frees its slot at the next step.
      scheduler.cancel(seq);
    }
  }

  return {
    model,
    precision,
    executionProvider: session.executionProvider,
    contextLength,
    stats: () => ({ running: scheduler.runningCount, waiting: scheduler.waitingCount, kvCacheUsage: scheduler.kvCacheUsage(), kvPoolBytes: decoder.pooledBytes }),
    generate,
    tokenize: (text) => model.tokenizer.encode(text),
    tokenizeAsync: async (text) => model.tokenizer.encode(text),
    async score(ids) {
      if (closed) throw new EngineError('FAILED_PRECONDITION', 'the engine is closed');
      if (ids.length < 2 || ids.length > contextLength) throw invalidArgument('ids', `must hold 2..${contextLength} token ids, got ${ids.length}`);
      const bad = ids.findIndex((id) => !Number.isSafeInteger(id) || id < 0 || id >= io.vocabSize);
      if (bad >= 0) throw invalidArgument('ids', `ids[${bad}] = ${ids[bad]} is not a token id of this model`);
      const res = await decoder.forward([[...ids]], [ids.map((_, i) => i)], new Uint8Array(ids.length).fill(1), decoder.emptyCache(1));
      return scoreLogits(ids, (i) => logitsAt(res.logits, 0, i));
    },
    async close() {
      if (closed) return;
      closed = true;
      await scheduler.close();
      await session.release();
    },
  };
}
