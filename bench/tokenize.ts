/**
 * bench:tokenize — encode time vs prompt size (1, 2, 4 ... 256 KiB) of the llama2.c tokenizer (stories260K's
 * tok512.bin and the 32000-token Llama 2 vocabulary) and the Hugging Face byte-level BPE (tiny-random-gpt2's
 * tokenizer.json, 50k merges), on prose and on one giant word without spaces. Linear growth shows as a flat
 * µs/KiB column; the merge loops' work units (queue pushes, pops, comparisons) are printed too. Not a test.
 *
 *   npx nx run bench:tokenize          (BENCH_MAX_KIB=256 BENCH_ROUNDS=5 by default)
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hfTokenizer, llama2cTokenizer, parseLlama2cVocab, type Tokenizer } from '@slmops/model';

const repo = join(import.meta.dirname, '../..');
const fixture = (rel: string) => {
  const p = join(repo, '../shared/fixtures/models', rel);
  if (!existsSync(p)) throw new Error(`${p} not found (the shared model fixtures)`);
  return p;
};
const maxKiB = Number(process.env['BENCH_MAX_KIB'] ?? 256);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 5);

/** A deterministic xorshift generator of integers below n. */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

/** Pseudo-random lowercase words (no word repeats often enough for a word cache to hide work). */
function words(bytes: number): string {
  const rnd = rng(0x9e3779b9);
  let out = '';
  while (out.length < bytes) {
    out += ' ';
    for (let n = 3 + rnd(8); n > 0; n--) out += 'etaoinshrdlucmfwypvbgkqjxz'[rnd(26)];
  }
  return out.slice(0, bytes);
}

/** One giant "word": pseudo-random letters without spaces. */
function giantWord(bytes: number): string {
  const rnd = rng(0x85ebca6b);
  let out = '';
  while (out.length < bytes) out += 'etaoinshrdlucmfwyp'[rnd(18)];
  return out;
}

interface Case {
  name: string;
  make: (onWork: (u: number) => void) => Tokenizer;
  text: (bytes: number) => string;
  /** A fresh tokenizer per round (the HF word cache would otherwise serve repeats). */
  fresh: boolean;
}

const tok512 = parseLlama2cVocab(readFileSync(join(repo, 'models/stories260k/tok512.bin')), 'tok512.bin', 512);
const llama32k = parseLlama2cVocab(readFileSync(fixture('stories260K/llama2_tokenizer_32000.bin')), 'llama2_tokenizer_32000.bin');
const gpt2 = readFileSync(fixture('ort-genai-tiny/tiny-random-gpt2-fp32/tokenizer.json'), 'utf8');

const CASES: Case[] = [
  { name: 'llama2.c tok512, words', make: (onWork) => llama2cTokenizer(tok512, { onWork }), text: words, fresh: false },
  { name: 'llama2.c tok512, one word', make: (onWork) => llama2cTokenizer(tok512, { onWork }), text: giantWord, fresh: false },
  { name: 'llama2.c 32k, words', make: (onWork) => llama2cTokenizer(llama32k, { onWork }), text: words, fresh: false },
  { name: 'HF gpt2, words', make: (onWork) => hfTokenizer(gpt2, 'tokenizer.json', {}, { onWork }), text: words, fresh: true },
  { name: 'HF gpt2, one word', make: (onWork) => hfTokenizer(gpt2, 'tokenizer.json', {}, { onWork }), text: giantWord, fresh: true },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function measure(c: Case, kib: number): { ms: number; work: number; tokens: number } {
  const text = c.text(kib * 1024);
  let work = 0;
  let tok = c.make((u) => (work += u));
  tok.encode(text.slice(0, 4096)); // warm-up
  const times: number[] = [];
  let tokens = 0;
  for (let r = 0; r < rounds; r++) {
    if (c.fresh) tok = c.make((u) => (work += u));
    work = 0;
    const t = performance.now();
    tokens = tok.encode(text).length;
    times.push(performance.now() - t);
  }
  return { ms: median(times), work, tokens };
}

const sizes: number[] = [];
for (let k = 1; k <= maxKiB; k *= 2) sizes.push(k);

console.log(`tokenize bench: node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${availableParallelism()}, median of ${rounds} rounds\n`);
for (const c of CASES) {
  console.log(`### ${c.name}\n`);
  console.log('| prompt | tokens | encode ms | µs / KiB | work units | work / KiB |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const kib of sizes) {
    const { ms, work, tokens } = measure(c, kib);
    console.log(`| ${kib} KiB | ${tokens} | ${ms.toFixed(2)} | ${((ms * 1000) / kib).toFixed(0)} | ${work} | ${(work / kib).toFixed(0)} |`);
  }
  console.log('');
}
