/**
 * The linear-time tokenizers against the quadratic implementations they replaced (test/reference/, copied from
 * commit 994a067): identical ids on random and mutated inputs (fixed seeds, counted iterations), and work that
 * grows linearly with the prompt.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hfTokenizer, llama2cTokenizer, parseLlama2cVocab, type Llama2cVocab, type Tokenizer } from '../src/index.js';
import { gpt2Dir, stories } from './fixtures.js';
import { hfTokenizer as hfReference } from './reference/hf-quadratic.js';
import { llama2cTokenizer as llama2cReference } from './reference/llama2c-quadratic.js';
import { seeded } from './seeded.js';

const repo = join(import.meta.dirname, '../../..');
const tok512 = parseLlama2cVocab(readFileSync(join(repo, 'models/stories260k/tok512.bin')), 'tok512.bin', 512);
const llama32k = parseLlama2cVocab(readFileSync(join(stories, 'llama2_tokenizer_32000.bin')), 'llama2_tokenizer_32000.bin');
const gpt2Json = readFileSync(join(gpt2Dir, 'tokenizer.json'), 'utf8');

/** A vocabulary whose merges all score the same, so only the leftmost-first rule decides (run.c's tie-break). */
function tiedVocab(): Llama2cVocab {
  const bytePieces = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
  const words = ['<unk>', '\n<s>\n', '\n</s>\n', ...bytePieces, ' ', 'a', 'b', 'ab', 'ba', 'aa', 'bb', 'aab', 'aba', 'abab', ' a', 'é', 'éa'];
  const pieces = words.map((w) => new TextEncoder().encode(w));
  const scores = Float32Array.from(words, (w, i) => (i < 259 ? 0 : w.length > 2 ? -1 : 0));
  return { maxTokenLength: 8, pieces, scores };
}

/**
 * A byte-level BPE whose ranks are out of the usual order: composite merges outrank the merges that create their
 * parts (e.g. "aa a" before "a a"), which is where merge-all-occurrences rounds differ from a plain heap.
 */
const oddRanksJson = JSON.stringify({
  added_tokens: [{ id: 0, content: '<s>', special: true }],
  normalizer: null,
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, use_regex: false },
  post_processor: null,
  decoder: { type: 'ByteLevel' },
  model: {
    type: 'BPE',
    vocab: { '<s>': 0, a: 1, b: 2, 'Ġ': 3, aa: 4, aaa: 5, ab: 6, ba: 7, aab: 8, Ġa: 9, aaaa: 10, bb: 11, abab: 12, Ġaa: 13 },
    merges: [['aa', 'a'], ['aa', 'aa'], ['ab', 'ab'], ['a', 'a'], ['a', 'b'], ['b', 'a'], ['Ġ', 'a'], ['aa', 'b'], ['b', 'b'], ['Ġa', 'a']],
  },
});

const ALPHABET = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', ' ', ' ', ' ', '\n', '\t', '\r\n', '  ', '.', ',', "'s", "'ll", '!', '?',
  '-', '_', '<', '>', '/', 'é', 'ï', 'ß', 'Ω', '日', '本', '語', '🙂', '👍🏽', '\u0000', '\u00a0', '\u2028', '\ud800', '<|endoftext|>', '</s>', '<0x41>', '▁',
];
const SEEDS = ['Once upon a time, there was a little girl named Lily.', 'The quick brown fox jumps over the lazy dog.', 'café naïve 日本語 🙂', '123 4567 89', '   leading', 'aaaaaaaaab'];

/** Random strings, mutated sentences and long runs of one character (whitespace, letters, multi-byte). */
function* inputs(seed: number, count: number): Generator<string> {
  const r = seeded(seed);
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    if (kind === 0) {
      let s = '';
      for (let n = r.int(120); n > 0; n--) s += r.pick(ALPHABET);
      yield s;
    } else if (kind === 1) {
      let s = r.pick(SEEDS);
      for (let m = 1 + r.int(4); m > 0; m--) {
        const at = r.int(s.length + 1);
        const op = r.int(4);
        if (op === 0) s = s.slice(0, at) + r.pick(ALPHABET) + s.slice(at);
        else if (op === 1) s = s.slice(0, at) + s.slice(at + 1 + r.int(3));
        else if (op === 2) s = s.slice(0, at) + s.slice(at, at + 1 + r.int(8)).repeat(1 + r.int(5)) + s.slice(at);
        else s = s + r.pick(SEEDS);
      }
      yield s;
    } else if (kind === 2) {
      yield r.pick(['a', 'b', ' ', '\n', 'é', '日', '🙂', 'ab', 'aab', '.', '0']).repeat(1 + r.int(300));
    } else {
      let s = '';
      for (let n = r.int(6); n >= 0; n--) s += r.pick(['a', 'b', ' ', 'ab', 'ba', 'aa']).repeat(1 + r.int(12));
      yield s;
    }
  }
}

function expectSameIds(fresh: Tokenizer, old: Tokenizer, seed: number, count: number) {
  let compared = 0;
  for (const text of inputs(seed, count)) {
    let want: number[] | Error;
    try {
      want = old.encode(text, { bos: compared % 2 === 0, eos: compared % 3 === 0 });
    } catch (e) {
      want = e as Error;
    }
    const bytes = Buffer.byteLength(text);
    if (want instanceof Error) expect(() => fresh.encode(text, { bos: compared % 2 === 0, eos: compared % 3 === 0 }), JSON.stringify(text)).toThrow(want.message);
    else {
      const got = fresh.encode(text, { bos: compared % 2 === 0, eos: compared % 3 === 0 });
      expect(got, JSON.stringify(text)).toEqual(want);
      expect(got.length).toBeLessThanOrEqual(fresh.maxTokens!(bytes));
    }
    compared++;
  }
  expect(compared).toBe(count);
}

describe('tokenizer differential fuzz (linear vs the quadratic reference, fixed seeds)', () => {
  it('llama2.c tok512.bin: identical ids, byte fallback and whitespace runs included', () => {
    expectSameIds(llama2cTokenizer(tok512), llama2cReference(tok512), 1, 600);
  });

  it('llama2.c 32000-token Llama 2 vocabulary: identical ids', () => {
    expectSameIds(llama2cTokenizer(llama32k), llama2cReference(llama32k), 2, 300);
  });

  it('llama2.c with all merge scores tied: the leftmost pair still wins first', () => {
    const v = tiedVocab();
    const fresh = llama2cTokenizer(v);
    expect(fresh.encode('abab', { bos: false })).toEqual(llama2cReference(v).encode('abab', { bos: false }));
    expectSameIds(fresh, llama2cReference(v), 3, 400);
  });

  it('HF tiny-random-gpt2 tokenizer.json: identical ids, added tokens and unicode included', () => {
    expectSameIds(hfTokenizer(gpt2Json, 'tokenizer.json', { bos: 98, eos: 98 }), hfReference(gpt2Json, 'tokenizer.json', { bos: 98, eos: 98 }), 4, 600);
  });

  it('HF BPE with composite merges ranked before their parts: identical ids (merge-all rounds kept)', () => {
    const fresh = hfTokenizer(oddRanksJson, 'odd.json');
    const old = hfReference(oddRanksJson, 'odd.json');
    for (const s of ['aaaa', 'aaaaa', 'abab', 'aab aab', 'aaaaaaaabab']) expect(fresh.encode(s), s).toEqual(old.encode(s));
    // Letters outside the vocabulary throw "has no id" in both.
    expectSameIds(fresh, old, 5, 400);
  });
});

/** Deterministic prose of exactly `bytes` UTF-8 bytes (ASCII). */
const prose = (bytes: number) => 'Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. '.repeat(Math.ceil(bytes / 90)).slice(0, bytes);
/** The same without spaces: one giant word. */
const noSpaces = (bytes: number) => 'Onceuponatimetherewasalittlegirl'.repeat(Math.ceil(bytes / 32)).slice(0, bytes);
/** Seeded random lowercase words, so no word repeats often enough for the HF word cache to hide the work. */
function words(bytes: number): string {
  const r = seeded(bytes);
  let s = '';
  while (s.length < bytes) {
    s += ' ';
    for (let n = 3 + r.int(8); n > 0; n--) s += 'etaoinshrdlucmfwyp'[r.int(18)];
  }
  return s.slice(0, bytes);
}
/** Seeded random letters without spaces: one giant word in which few pairs repeat (every merge round is small). */
function letters(bytes: number): string {
  const r = seeded(bytes + 1);
  let s = '';
  while (s.length < bytes) s += 'etaoinshrdlucmfwyp'[r.int(18)];
  return s;
}

/** Encodes each text with one tokenizer, returning the merge work each took. */
function workOf(make: (onWork: (units: number) => void) => Tokenizer, ...texts: string[]): number[] {
  let work = 0;
  const t = make((u) => (work += u));
  return texts.map((text) => {
    work = 0;
    t.encode(text);
    return work;
  });
}

describe('hardening item 1: tokenization work grows linearly with the prompt', () => {
  const KiB = 1024;
  const cases: Array<[string, (onWork: (units: number) => void) => Tokenizer, (bytes: number) => string]> = [
    ['llama2.c tok512.bin, prose', (onWork) => llama2cTokenizer(tok512, { onWork }), prose],
    ['llama2.c tok512.bin, no spaces', (onWork) => llama2cTokenizer(tok512, { onWork }), noSpaces],
    ['HF gpt2, distinct words', (onWork) => hfTokenizer(gpt2Json, 'tokenizer.json', {}, { onWork }), words],
    ['HF gpt2, one giant word without spaces', (onWork) => hfTokenizer(gpt2Json, 'tokenizer.json', {}, { onWork }), noSpaces],
    ['HF gpt2, one giant word of random letters', (onWork) => hfTokenizer(gpt2Json, 'tokenizer.json', {}, { onWork }), letters],
  ];
  it.each(cases)('%s: work(2n) <= 2.2 x work(n) for n = 64 KiB and 128 KiB', (_name, make, text) => {
    const [w64, w128] = workOf(make, text(64 * KiB), text(128 * KiB));
    expect(w64).toBeGreaterThan(64 * KiB); // the metric counts real merge work
    expect(w128! / w64!).toBeLessThanOrEqual(2.2);
  });

  it('the work metric exposes quadratic growth: the old merge loop more than triples its work per doubling', () => {
    const [w2, w4] = workOf((onWork) => llama2cReference(tok512, { onWork }), prose(2 * KiB), prose(4 * KiB));
    expect(w4! / w2!).toBeGreaterThan(3);
  });

  it('maxTokens bounds encode() for the longest prompts without tokenizing', () => {
    const t = llama2cTokenizer(tok512);
    const worst = '\u{10FFFF}'.repeat(64 * KiB / 4); // byte fallback: one id per byte
    expect(t.encode(worst, { eos: true }).length).toBe(t.maxTokens!(64 * KiB));
  });
});
