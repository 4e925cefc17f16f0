/**
 * TEST-ONLY REFERENCE: the HF tokenizer as it was at commit 994a067 (per-word quadratic BPE loop), verbatim
 * except for this header and the import path, for the differential fuzz.
 *
 * Hugging Face tokenizer.json: byte-level BPE (GPT-2, RoBERTa, Qwen-style ByteLevel pre-tokenizer) with added
 * tokens. Other model or pre-tokenizer types are rejected with an error naming the field.
 */
import { type Tokenizer, utf8Stream } from '../../src/tokenizer/types.js';

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
export function hfTokenizer(json: string, file: string, special: { bos?: number; eos?: number } = {}): Tokenizer {
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
  const ranks = new Map<string, number>();
  model.merges.forEach((m, i) => {
    const [a, b] = typeof m === 'string' ? (m.split(' ') as [string, string]) : m;
    ranks.set(`${a} ${b}`, i);
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
  const cache = new Map<string, number[]>();
  // A TemplateProcessing post-processor that starts with a special token adds it in front (Llama/Qwen style).
  const templateBos = t.post_processor?.type === 'TemplateProcessing' ? t.post_processor.single?.[0]?.SpecialToken?.id : undefined;
  const addsBos = templateBos !== undefined;
  const bosId = special.bos ?? (templateBos !== undefined ? addedId.get(templateBos) ?? vocab.get(templateBos) : undefined);

  function bpe(word: string): number[] {
    const hit = cache.get(word);
    if (hit) return hit;
    let parts = [...word];
    for (;;) {
      let best = Infinity;
      let at = -1;
      for (let i = 0; i + 1 < parts.length; i++) {
        const r = ranks.get(`${parts[i]} ${parts[i + 1]}`);
        if (r !== undefined && r < best) {
          best = r;
          at = i;
        }
      }
      if (at < 0) break;
      const merged = parts[at]! + parts[at + 1]!;
      const next: string[] = [];
      // Merge every occurrence of the pair, left to right, as HF's BPE does for one rank.
      const [a, b] = [parts[at]!, parts[at + 1]!];
      for (let i = 0; i < parts.length; i++) {
        if (i + 1 < parts.length && parts[i] === a && parts[i + 1] === b) {
          next.push(merged);
          i++;
        } else next.push(parts[i]!);
      }
      parts = next;
    }
    const ids = parts.map((p) => {
      const id = vocab.get(p);
      if (id === undefined) throw new Error(`${file}: piece ${JSON.stringify(p)} has no id and the model has no byte fallback`);
      return id;
    });
    if (cache.size < 50_000) cache.set(word, ids);
    return ids;
  }

  function splitAll(text: string): string[] {
    let pieces = [text];
    for (const re of splitters) pieces = pieces.flatMap((p) => p.match(re) ?? []);
    return pieces;
  }

  function encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
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
        const mapped = [...new TextEncoder().encode(word)].map((b) => toChar[b]!).join('');
        ids.push(...bpe(mapped));
      }
    });
    if (opts.eos && special.eos !== undefined) ids.push(special.eos);
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
