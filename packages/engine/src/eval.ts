/** Quality of a compressed variant against fp32: greedy token agreement and perplexity on a shipped text set. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from './types.js';

export interface EvalSet {
  /** Prompts whose fp32 greedy continuations the candidate must reproduce. */
  prompts: string[];
  /** Texts for perplexity. */
  texts: string[];
}

export interface VariantEvaluation {
  /** Share of positions where the candidate's argmax equals fp32's greedy token, both fed fp32's greedy
   *  continuation (teacher forcing, so one early difference does not count every later position). */
  greedyAgreement: number;
  perplexity: number;
  /** perplexity - fp32 perplexity on the same texts. */
  perplexityDelta: number;
  prompts: number;
  /** Positions compared for agreement and tokens scored for perplexity. */
  agreementPositions: number;
  perplexityTokens: number;
}

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** The prompts and story sentences shipped in packages/engine/assets/eval. */
export function defaultEvalSet(): EvalSet {
  const dir = join(import.meta.dirname, '../assets/eval');
  return { prompts: lines(join(dir, 'prompts.txt')), texts: lines(join(dir, 'stories.txt')) };
}

async function greedyIds(engine: Engine, prompt: string, maxTokens: number): Promise<{ prompt: number[]; generated: number[] }> {
  const generated: number[] = [];
  for await (const e of engine.generate({ prompt, maxTokens, temperature: 0 })) if (e.type === 'token') generated.push(e.id);
  return { prompt: engine.tokenize(prompt), generated };
}

async function perplexity(engine: Engine, texts: readonly string[]): Promise<{ ppl: number; tokens: number }> {
  let nll = 0;
  let n = 0;
  for (const t of texts) {
    const ids = engine.tokenize(t).slice(0, engine.contextLength);
    const s = await engine.score(ids);
    nll += s.nll.reduce((a, b) => a + b, 0);
    n += s.nll.length;
  }
  return { ppl: Math.exp(nll / n), tokens: n };
}

/** Evaluates `candidate` against `reference` (the fp32 variant of the same package). */
export async function evaluateVariant(reference: Engine, candidate: Engine, set: EvalSet, opts: { maxTokens?: number } = {}): Promise<VariantEvaluation> {
  const maxTokens = opts.maxTokens ?? 48;
  let agree = 0;
  let positions = 0;
  for (const p of set.prompts) {
    const { prompt, generated } = await greedyIds(reference, p, maxTokens);
    if (generated.length === 0) continue;
    const s = await candidate.score([...prompt, ...generated]);
    generated.forEach((id, k) => {
      positions++;
      if (s.argmax[prompt.length - 1 + k] === id) agree++;
    });
  }
  const ref = await perplexity(reference, set.texts);
  const cand = await perplexity(candidate, set.texts);
  return {
    greedyAgreement: positions ? agree / positions : 0,
    perplexity: cand.ppl,
    perplexityDelta: cand.ppl - ref.ppl,
    prompts: set.prompts.length,
    agreementPositions: positions,
    perplexityTokens: cand.tokens,
  };
}

/** Perplexity of one engine on the set's texts (for the fp32 baseline's own record). */
export const evalPerplexity = async (engine: Engine, set: EvalSet) => (await perplexity(engine, set.texts)).ppl;
