/** `slmops generate`: streams a continuation of a prompt from a model run in-process or from a sidecar (--server). */
import { parseArgs } from 'node:util';
import type { Precision } from '@slmops/api';
import { createEngine, EngineError, type GenerateRequest, type GenerationEvent } from '@slmops/engine';
import { loadModel } from '@slmops/model';
import { remoteGenerationSource } from '@slmops/sidecar';
import { type CliContext, type Command, UsageError, writeLine } from '../context.js';

const PRECISIONS: readonly string[] = ['fp32', 'fp16', 'int8', 'int4'];

/** Where generation events come from: the in-process engine here; a remote server can give the same shape. */
export interface GenerationSource {
  generate(req: GenerateRequest, signal?: AbortSignal): AsyncIterable<GenerationEvent>;
  close(): Promise<void>;
}

export interface GenerateFlags {
  model?: string;
  /** host:port of a running sidecar; generation then happens there. */
  server?: string;
  variant?: Precision;
  threads?: number;
  json: boolean;
  request: GenerateRequest & { prompt: string };
}

/** Parses a numeric flag; a bad value is a usage error naming the flag. */
export function numberFlag(flag: string, raw: string | undefined, o: { int?: boolean; min?: number } = {}): number | undefined {
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || (o.int && !Number.isSafeInteger(v)) || (o.min !== undefined && v < o.min)) {
    throw new UsageError(`--${flag} must be ${o.int ? 'an integer' : 'a number'}${o.min !== undefined ? ` >= ${o.min}` : ''}, got "${raw}"`);
  }
  return v;
}

const flagOf = (field: string) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Parses `generate` flags (shared with other sources of generation, e.g. a server). */
export function parseGenerateFlags(argv: string[]): GenerateFlags {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string', short: 'm' },
      server: { type: 'string' },
      prompt: { type: 'string', short: 'p', default: '' },
      'max-tokens': { type: 'string', short: 'n', default: '256' },
      temperature: { type: 'string', short: 't' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      'repetition-penalty': { type: 'string' },
      seed: { type: 'string', short: 's' },
      stop: { type: 'string', multiple: true },
      variant: { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.variant !== undefined && !PRECISIONS.includes(values.variant)) throw new UsageError(`--variant must be one of ${PRECISIONS.join(', ')}, got "${values.variant}"`);
  const opt = <K extends keyof GenerateRequest>(key: K, v: GenerateRequest[K] | undefined) => (v === undefined ? {} : { [key]: v });
  const threads = numberFlag('threads', values.threads, { int: true, min: 1 });
  return {
    ...(values.model !== undefined ? { model: values.model } : {}),
    ...(values.server !== undefined ? { server: values.server } : {}),
    ...(values.variant !== undefined ? { variant: values.variant as Precision } : {}),
    ...(threads !== undefined ? { threads } : {}),
    json: values.json,
    request: {
      prompt: values.prompt,
      maxTokens: numberFlag('max-tokens', values['max-tokens'], { int: true, min: 1 })!,
      ...opt('temperature', numberFlag('temperature', values.temperature, { min: 0 })),
      ...opt('topK', numberFlag('top-k', values['top-k'], { int: true, min: 0 })),
      ...opt('topP', numberFlag('top-p', values['top-p'])),
      ...opt('repetitionPenalty', numberFlag('repetition-penalty', values['repetition-penalty'])),
      ...opt('seed', numberFlag('seed', values.seed, { int: true, min: 0 })),
      ...opt('stop', values.stop),
    },
  };
}

/** Opens the model in-process: a package folder, a .slm.tar, or an onnxruntime-genai/Optimum folder. */
export async function openLocalSource(flags: GenerateFlags): Promise<GenerationSource> {
  if (!flags.model) throw new UsageError('generate needs --model <dir|file.slm.tar>');
  const model = await loadModel(flags.model);
  return createEngine(model, { ...(flags.variant ? { precision: flags.variant } : {}), ...(flags.threads ? { intraOpThreads: flags.threads } : {}), maxBatchSize: 1 });
}

/** Writes the events: plain = prompt then the streamed continuation then a newline (as llama2.c prints);
 *  json = one object {text, tokens, finishReason} at the end. */
export async function renderGeneration(events: AsyncIterable<GenerationEvent>, flags: GenerateFlags, ctx: CliContext): Promise<void> {
  const tokens: number[] = [];
  let text = '';
  if (!flags.json) ctx.stdout.write(flags.request.prompt);
  try {
    for await (const e of events) {
      const piece = e.type === 'token' ? e.text : (e.text ?? '');
      if (e.type === 'token') tokens.push(e.id);
      text += piece;
      if (!flags.json && piece) ctx.stdout.write(piece);
      if (e.type === 'done') {
        if (flags.json) writeLine(ctx.stdout, JSON.stringify({ text, tokens, finishReason: e.finishReason }));
        else writeLine(ctx.stdout);
      }
    }
  } catch (e) {
    if (!flags.json) writeLine(ctx.stdout);
    if (e instanceof EngineError && e.code === 'INVALID_ARGUMENT' && e.field) throw new UsageError(`${flagOf(e.field === 'promptIds' ? 'prompt' : e.field)}: ${e.message.replace(`${e.field}: `, '')}`);
    throw e;
  }
}

export const generateCommand: Command = {
  summary: 'Generate a continuation of a prompt, in-process or on a running sidecar',
  usage:
    'slmops generate (--model <dir|file.slm.tar> | --server <host:port>) --prompt <text> [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] ' +
    '[--repetition-penalty R] [--seed S] [--stop <text>]... [--variant fp32|fp16|int8|int4] [--threads N] [--json]',
  async run(argv: string[], ctx: CliContext): Promise<number> {
    const flags = parseGenerateFlags(argv);
    if (flags.server !== undefined && flags.model !== undefined) throw new UsageError('use either --model or --server, not both');
    const source = flags.server !== undefined ? remoteGenerationSource(flags.server) : await openLocalSource(flags);
    try {
      await renderGeneration(source.generate(flags.request), flags, ctx);
    } finally {
      await source.close();
    }
    return 0;
  },
};
