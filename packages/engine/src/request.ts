/** Validation of a GenerateRequest into what a sequence needs; every error names the request field. */
import { randomInt } from 'node:crypto';
import { EngineError, invalidArgument } from './errors.js';
import type { Tokenizer } from '@slmops/model';
import type { SamplingParams } from './sampler.js';
import type { GenerateRequest } from './types.js';

export interface PreparedRequest {
  promptIds: number[];
  maxTokens: number;
  sampling: SamplingParams;
  stop: string[];
  returnLogits: boolean;
}

const MAX_STOP_STRINGS = 16;

const tooLong = (n: number, contextLength: number, field: string) =>
  new EngineError('OUT_OF_RANGE', `the prompt is ${n} tokens; the model's context is ${contextLength} tokens and at least one must remain for generation`, { field });

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks every field and encodes the prompt; throws INVALID_ARGUMENT (field named) or OUT_OF_RANGE. */
export function prepareRequest(req: GenerateRequest, model: { tokenizer: Tokenizer; vocabSize: number; contextLength: number }): PreparedRequest {
  if (req === null || typeof req !== 'object') throw invalidArgument('request', 'must be an object');
  const hasText = req.prompt !== undefined;
  const hasIds = req.promptIds !== undefined;
  if (hasText === hasIds) throw invalidArgument('prompt', 'give exactly one of prompt and promptIds');
  if (!isInt(req.maxTokens) || req.maxTokens < 1) throw invalidArgument('maxTokens', `must be an integer >= 1, got ${String(req.maxTokens)}`);
  const temperature = req.temperature ?? 1;
  if (!isNum(temperature) || temperature < 0) throw invalidArgument('temperature', `must be a finite number >= 0, got ${String(req.temperature)}`);
  const topK = req.topK ?? 0;
  if (!isInt(topK) || topK < 0) throw invalidArgument('topK', `must be an integer >= 0 (0 = off), got ${String(req.topK)}`);
  const topP = req.topP ?? 1;
  if (!isNum(topP) || topP <= 0 || topP > 1) throw invalidArgument('topP', `must be in (0, 1], got ${String(req.topP)}`);
  const repetitionPenalty = req.repetitionPenalty ?? 1;
  if (!isNum(repetitionPenalty) || repetitionPenalty <= 0) {
    throw invalidArgument('repetitionPenalty', `must be a finite number > 0 (1 = off), got ${String(req.repetitionPenalty)}`);
  }
  if (req.seed !== undefined && (!isInt(req.seed) || req.seed < 0)) throw invalidArgument('seed', `must be a non-negative integer, got ${String(req.seed)}`);
  const stop = req.stop ?? [];
  if (!Array.isArray(stop) || stop.length > MAX_STOP_STRINGS || stop.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw invalidArgument('stop', `must be a list of at most ${MAX_STOP_STRINGS} non-empty strings`);
  }

  let promptIds: number[];
  if (hasText) {
    if (typeof req.prompt !== 'string') throw invalidArgument('prompt', 'must be a string');
    promptIds = model.tokenizer.encode(req.prompt);
    if (promptIds.length === 0) throw invalidArgument('prompt', 'encodes to no tokens and the tokenizer has no BOS to start from');
  } else {
    const ids = req.promptIds;
    if (!Array.isArray(ids) || ids.length === 0) throw invalidArgument('promptIds', 'must be a non-empty list of token ids');
    // The length bound first: a huge list is refused before any per-id work.
    if (ids.length >= model.contextLength) throw tooLong(ids.length, model.contextLength, 'promptIds');
    const bad = ids.findIndex((id) => !isInt(id) || id < 0 || id >= model.vocabSize);
    if (bad >= 0) throw invalidArgument('promptIds', `promptIds[${bad}] = ${String(ids[bad])} is not a token id of this model (0..${model.vocabSize - 1})`);
    promptIds = [...ids];
  }
  if (promptIds.length >= model.contextLength) throw tooLong(promptIds.length, model.contextLength, hasText ? 'prompt' : 'promptIds');
  return {
    promptIds,
    maxTokens: req.maxTokens,
    sampling: { temperature, topK, topP, repetitionPenalty, seed: req.seed ?? randomInt(0, 2 ** 47) },
    stop,
    returnLogits: req.returnLogits === true,
  };
}
