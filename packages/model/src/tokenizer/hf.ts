/**
 * Hugging Face tokenizer.json: byte-level BPE (GPT-2, RoBERTa, Qwen-style ByteLevel pre-tokenizer) with added
 * tokens. Other model or pre-tokenizer types are rejected with an error naming the field.
 */
import { MergeQueue } from './queue.js';
import { type Tokenizer, type TokenizerOptions, utf8Stream } from './types.js';

interface AddedToken { id: number; content: string; special?: boolean }
interface PreTokenizer { type: string; add_prefix_space?: boolean; use_regex?: boolean; pretokenizers?: PreTokenizer[]; pattern?: { Regex?: string; String?: string }; behavior?: string }
interface TokenizerJson {
  added_tokens?: AddedToken[];
  normalizer?: { type: string } | null;
  pre_tokenizer?: PreTokenizer | null;
  post_processor?: { type: string; single?: Array<{ SpecialToken?: { id: string } }> } | null;
  decoder?: { type: string } | null;
  model?: { type?: string; vocab?: Record<string, number>; merges?: Array<string | [string, string]>; byte_fallback?: boolean };
}

// GPT-2's pre-tokenisation pattern (what ByteLevel's use_regex applies).
const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible byte -> printable character table. */
function byteLevelTables(): { toChar: string[]; toByte: Map<string, number> } {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const toChar: string[] = new Array(256);
  const toByte = new Map<string, number>();
  bs.forEach((b, i) => {
    const c = String.fromCodePoint(cs[i]!);
    toChar[b] = c;
    toByte.set(c, b);
  });
  return { toChar, toByte };
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Builds a Tokenizer from tokenizer.json text; `file` names the source in errors. */
export function hfTokenizer(json: string, file: string, special: { bos?: number; eos?: number } = {}, opts: TokenizerOptions = {}): Tokenizer {
  const onWork = opts.onWork;
  let t: TokenizerJson;
  try {
    t = JSON.parse(json) as TokenizerJson;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const model = t.model;
  if (!model || model.type !== 'BPE' || !model.vocab || !model.merges) {
    throw new Error(`${file}: model.type ${JSON.stringify(model?.type)} is not supported (only byte-level BPE)`);
  }
  if (t.normalizer) throw new Error(`${file}: normalizer ${t.normalizer.type} is not supported`);
  const pre = t.pre_tokenizer;
  const steps = pre?.type === 'Sequence' ? pre.pretokenizers ?? [] : pre ? [pre] : [];
  let addPrefixSpace = false;
  const splitters: RegExp[] = [];
  let byteLevel = false;
  for (const s of steps) {
    if (s.type === 'ByteLevel') {
      byteLevel = true;
      addPrefixSpace = !!s.add_prefix_space;
      if (s.use_regex !== false) splitters.push(GPT2_PATTERN);
    } else if (s.type === 'Split' && s.pattern?.Regex !== undefined && s.behavior === 'Isolated') {
      try {
        splitters.push(new RegExp(s.pattern.Regex, 'gu'));
      } catch {
        throw new Error(`${file}: pre_tokenizer Split regex cannot be compiled in JavaScript`);
      }
    } else throw new Error(`${file}: pre_tokenizer ${s.type} is not supported (only ByteLevel and Split)`);
  }
  if (!byteLevel) throw new Error(`${file}: only byte-level BPE tokenizers are supported (no ByteLevel pre_tokenizer)`);

  const vocab = new Map(Object.entries(model.vocab));
  const idToToken: string[] = [];
  for (const [tok, id] of vocab) idToToken[id] = tok;
  // Symbols (every string a merge can see or make) are interned to small integers, so the merge loop compares and
  // looks up numbers. A pair's key is a * SYMBOLS + b; it maps to the merge's rank (its index; the last duplicate
  // wins, as a string-keyed map would), and mergeInto[rank] is the merged symbol. Byte-level symbols never contain
  // a space, so the integer pairs find exactly the ranks that "a b" strings would.
  const symbolOf = new Map<string, number>();
  const symbols: string[] = [];
  const intern = (str: string): number => {
    let sym = symbolOf.get(str);
    if (sym === undefined) {
      sym = symbols.length;
      symbolOf.set(str, sym);
      symbols.push(str);
    }
    return sym;
  };
  const SYMBOLS = 1 << 22;
  const pairRank = new Map<number, number>();
  const mergeInto = new Int32Array(model.merges.length);
  model.merges.forEach((m, i) => {
    const [a, b] = typeof m === 'string' ? (m.split(' ') as [string, string]) : m;
    pairRank.set(intern(String(a)) * SYMBOLS + intern(String(b)), i);
    mergeInto[i] = intern(`${a}${b}`);
  });
  const added = t.added_tokens ?? [];
  const addedById = new Map<number, AddedToken>();
  for (const a of added) {
    addedById.set(a.id, a);
    idToToken[a.id] = a.content;
  }
  const addedSplit = added.length
    ? new RegExp(`(${[...added].sort((a, b) => b.content.length - a.content.length).map((a) => escapeRegex(a.content)).join('|')})`, 'u')
    : undefined;
  const addedId = new Map(added.map((a) => [a.content, a.id]));
  const { toChar, toByte } = byteLevelTables();
  const byteSymbol = Int32Array.from(toChar, (c) => intern(c));
  if (symbols.length > SYMBOLS) throw new Error(`${file}: model.merges: more than ${SYMBOLS} distinct pieces`);
  const symbolId = Int32Array.from(symbols, (str) => vocab.get(str) ?? -1);
  const cache = new Map<string, number[]>();
  // A TemplateProcessing post-processor that starts with a special token adds it in front (Llama/Qwen style).
  const templateBos = t.post_processor?.type === 'TemplateProcessing' ? t.post_processor.single?.[0]?.SpecialToken?.id : undefined;
  const addsBos = templateBos !== undefined;
  const bosId = special.bos ?? (templateBos !== undefined ? addedId.get(templateBos) ?? vocab.get(templateBos) : undefined);

  /**
   * Byte-level BPE of one pre-tokenized word, with the semantics of GPT-2's bpe(): repeatedly take the lowest-rank
   * adjacent pair and merge all its occurrences left to right. Runs in O(n log n) (a single giant "word" is not
   * quadratic): the symbols form a linked list, each candidate pair sits in a MergeQueue keyed by (rank, position)
   * and is re-queued with a new stamp when it changes. One round takes every queued entry of the lowest live rank
   * first, so pairs created during the round wait for the next one, as in the pass over a copy.
   */
  // Scratch space of bpe(), grown as needed and reused (encode is synchronous).
  let next = new Int32Array(64);
  let prev = new Int32Array(64);
  let stamp = new Int32Array(64);
  let sym = new Int32Array(64);
  const q = new MergeQueue();
  const round: number[] = [];
  const roundStamps: number[] = [];
  const utf8 = new TextEncoder();

  function bpe(word: string): number[] {
    const hit = cache.get(word);
    if (hit) return hit;
    const bytes = utf8.encode(word);
    const n = bytes.length;
    if (n > sym.length) {
      const size = Math.max(n, sym.length * 2);
      [next, prev, stamp, sym] = [new Int32Array(size), new Int32Array(size), new Int32Array(size), new Int32Array(size)];
    }
    for (let i = 0; i < n; i++) {
      sym[i] = byteSymbol[bytes[i]!]!;
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
      stamp[i] = 0;
    }
    q.clear();
    const consider = (x: number) => {
      stamp[x]!++;
      const y = next[x]!;
      if (y < 0) return;
      const r = pairRank.get(sym[x]! * SYMBOLS + sym[y]!);
      if (r !== undefined) q.push(r, x, stamp[x]!);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    while (q.size > 0) {
      if (q.topStamp !== stamp[q.topPos]) {
        q.pop();
        continue;
      }
      const rank = q.topKey;
      round.length = 0;
      roundStamps.length = 0;
      while (q.size > 0 && q.topKey === rank) {
        round.push(q.topPos);
        roundStamps.push(q.topStamp);
        q.pop();
      }
      for (let k = 0; k < round.length; k++) {
        const x = round[k]!;
        if (roundStamps[k] !== stamp[x]) continue; // consumed by an overlapping merge earlier in this round
        const y = next[x]!;
        sym[x] = mergeInto[rank]!;
        next[x] = next[y]!;
        if (next[y]! >= 0) prev[next[y]!] = x;
        stamp[y]!++;
        if (prev[x]! >= 0) consider(prev[x]!);
        consider(x);
      }
    }
    work += q.work;
    const ids: number[] = [];
    for (let i = n > 0 ? 0 : -1; i >= 0; i = next[i]!) {
      const id = symbolId[sym[i]!]!;
      if (id < 0) throw new Error(`${file}: piece ${JSON.stringify(symbols[sym[i]!])} has no id and the model has no byte fallback`);
      ids.push(id);
    }
    // Long words are rare repeats; caching them would only hold big strings.
    if (cache.size < 50_000 && word.length <= 256) cache.set(word, ids);
    return ids;
  }

  function splitAll(text: string): string[] {
    let pieces = [text];
    for (const re of splitters) pieces = pieces.flatMap((p) => p.match(re) ?? []);
    return pieces;
  }

  let work = 0;
  function encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    work = 0;
    const ids: number[] = [];
    if ((opts.bos ?? addsBos) && bosId !== undefined) ids.push(bosId);
    const segments = addedSplit ? text.split(addedSplit) : [text];
    segments.forEach((seg, i) => {
      if (seg === '') return;
      if (i % 2 === 1 && addedSplit) {
        ids.push(addedId.get(seg)!);
        return;
      }
      const src = addPrefixSpace && i === 0 && !seg.startsWith(' ') ? ` ${seg}` : seg;
      for (const word of splitAll(src)) {
        // A loop, not push(...ids): a giant word's ids would overflow the call's argument limit.
        for (const id of bpe(word)) ids.push(id);
      }
    });
    if (opts.eos && special.eos !== undefined) ids.push(special.eos);
    onWork?.(work);
    return ids;
  }

  function tokenBytes(id: number): Uint8Array {
    const tok = idToToken[id];
    if (tok === undefined) throw new RangeError(`token id ${id} is outside the vocabulary of ${file}`);
    const a = addedById.get(id);
    if (a) return a.special ? new Uint8Array(0) : new TextEncoder().encode(a.content);
    return Uint8Array.from([...tok].map((c) => toByte.get(c) ?? 0x3f));
  }

  function createStreamDecoder() {
    const out = utf8Stream();
    return { push: (id: number) => out.push(tokenBytes(id)), flush: () => out.flush() };
  }

  return {
    kind: 'hf',
    vocabSize: idToToken.length,
    // Byte-level: every byte is one symbol before merging and an added token is at least a byte; plus BOS, the
    // prefix space and EOS.
    maxTokens: (utf8Bytes) => utf8Bytes + 3,
    bosId,
    eosId: special.eos,
    encode,
    decode(ids) {
      const d = createStreamDecoder();
      return ids.map((id) => d.push(id)).join('') + d.flush();
    },
    createStreamDecoder,
  };
}
