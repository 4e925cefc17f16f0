/** llama2.c tokenizer (.bin vocabulary) with run.c's exact encode and decode (see llama2c-format.md §4). */
import { MergeQueue } from './queue.js';
import { type Tokenizer, type TokenizerOptions, utf8Stream } from './types.js';

export interface Llama2cVocab {
  maxTokenLength: number;
  pieces: Uint8Array[];
  scores: Float32Array;
}

/**
 * Parses a llama2.c tokenizer file: uint32 max_token_length, then per token float32 score, int32 len, bytes.
 * The count is not stored, so every entry up to the end of the file is read; with `expectVocabSize` a different
 * count is an error naming the file and both sizes.
 */
export function parseLlama2cVocab(bytes: Uint8Array, file: string, expectVocabSize?: number): Llama2cVocab {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw new Error(`${file}: not a llama2.c tokenizer (${bytes.length} bytes, no header)`);
  const maxTokenLength = dv.getUint32(0, true);
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let off = 4;
  while (off < bytes.length) {
    if (off + 8 > bytes.length) throw new Error(`${file}: truncated tokenizer entry ${pieces.length} at byte ${off}`);
    const score = dv.getFloat32(off, true);
    const len = dv.getInt32(off + 4, true);
    off += 8;
    if (len < 0 || off + len > bytes.length) throw new Error(`${file}: tokenizer entry ${pieces.length} has length ${len} past the end of the file at byte ${off}`);
    if (len > maxTokenLength) throw new Error(`${file}: tokenizer entry ${pieces.length} is ${len} bytes, longer than max_token_length ${maxTokenLength}`);
    pieces.push(bytes.subarray(off, off + len));
    scores.push(score);
    off += len;
  }
  if (expectVocabSize !== undefined && pieces.length !== expectVocabSize) {
    throw new Error(`${file}: tokenizer has ${pieces.length} tokens but the checkpoint's vocab_size is ${expectVocabSize}`);
  }
  return { maxTokenLength, pieces, scores: Float32Array.from(scores) };
}

const BOS = 1;
const EOS = 2;
const key = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

/** Byte value of a `<0xXX>` piece, as run.c's sscanf("<0x%02hhX>") reads it; undefined otherwise. */
function byteOf(piece: Uint8Array): number | undefined {
  if (piece.length !== 6 || piece[0] !== 0x3c || piece[1] !== 0x30 || piece[2] !== 0x78 || piece[5] !== 0x3e) return undefined;
  const hex = String.fromCharCode(piece[3]!, piece[4]!);
  return /^[0-9A-Fa-f]{2}$/.test(hex) ? parseInt(hex, 16) : undefined;
}

/** A Tokenizer over a llama2.c vocabulary: BOS id 1, EOS id 2, byte tokens 3..258. */
export function llama2cTokenizer(vocab: Llama2cVocab, opts: TokenizerOptions = {}): Tokenizer {
  const { pieces, scores } = vocab;
  const onWork = opts.onWork;
  const lookup = new Map<string, number>();
  // run.c bsearches a sorted copy; with no duplicate pieces that is the same as a map. First id wins otherwise.
  pieces.forEach((p, i) => {
    const k = key(p);
    if (!lookup.has(k)) lookup.set(k, i);
  });
  const byteValues = pieces.map(byteOf);
  const spaceId = lookup.get(' ');

  function encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const bytes = new TextEncoder().encode(text);
    const tokens: number[] = [];
    if (opts.bos ?? true) tokens.push(BOS);
    if (bytes.length > 0 && spaceId !== undefined) tokens.push(spaceId);
    // Split into UTF-8 code points (lead byte + up to 3 continuation bytes), byte fallback when not a piece.
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      const next = bytes[i + 1];
      if (next !== undefined && (next & 0xc0) === 0x80 && i + 1 - start < 4) continue;
      const cp = bytes.subarray(start, i + 1);
      const id = lookup.get(key(cp));
      if (id !== undefined) tokens.push(id);
      else for (const b of cp) tokens.push(b + 3);
      start = i + 1;
    }
    const merged = mergePairs(tokens);
    if (opts.eos) merged.push(EOS);
    return merged;
  }

  // Merge id of each adjacent pair of ids (or -1), memoised: the same few pairs recur throughout a prompt. Small
  // vocabularies get a dense table (-2: not looked up yet), large ones a bounded map.
  const V = pieces.length;
  const dense = V * V <= 1 << 20 ? new Int32Array(V * V).fill(-2) : undefined;
  const pairIds = new Map<number, number>();
  function pairId(a: number, b: number): number {
    const k = a * V + b;
    let id = dense ? dense[k]! : pairIds.get(k) ?? -2;
    if (id === -2) {
      id = lookup.get(key(pieces[a]!) + key(pieces[b]!)) ?? -1;
      if (dense) dense[k] = id;
      else if (pairIds.size < 1 << 20) pairIds.set(k, id);
    }
    return id;
  }

  /**
   * run.c's greedy merge (repeatedly merge the best-scoring adjacent pair whose score is above -1e10, leftmost on
   * ties) in O(n log n): the tokens form a linked list and every candidate pair sits in a MergeQueue keyed by
   * (-score, position). A node's pair is re-queued with a new stamp whenever it or its right neighbour changes,
   * which makes older entries for it stale. Positions keep list order, so "smallest position" is "leftmost".
   */
  function mergePairs(tokens: number[]): number[] {
    const n = tokens.length;
    const tok = Int32Array.from(tokens);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const stamp = new Int32Array(n);
    const into = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const q = new MergeQueue();
    const consider = (x: number) => {
      stamp[x]!++;
      const y = next[x]!;
      if (y < 0) return;
      const id = pairId(tok[x]!, tok[y]!);
      if (id < 0) return;
      const score = scores[id]!;
      if (!(score > -1e10)) return; // run.c's floor: bestScore starts at -1e10 and needs a strictly greater score
      into[x] = id;
      q.push(-score, x, stamp[x]!);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    while (q.size > 0) {
      const x = q.topPos;
      const live = q.topStamp === stamp[x];
      q.pop();
      if (!live) continue;
      const y = next[x]!;
      tok[x] = into[x]!;
      next[x] = next[y]!;
      if (next[y]! >= 0) prev[next[y]!] = x;
      stamp[y]!++;
      if (prev[x]! >= 0) consider(prev[x]!);
      consider(x);
    }
    onWork?.(q.work);
    const out: number[] = [];
    for (let i = n > 0 ? 0 : -1; i >= 0; i = next[i]!) out.push(tok[i]!);
    return out;
  }

  /** Bytes run.c's decode(prev, tok) prints, before safe_printf; BOS/EOS print nothing here. */
  function pieceBytes(prev: number | undefined, id: number): Uint8Array {
    const piece = pieces[id];
    if (piece === undefined) throw new RangeError(`token id ${id} is outside the vocabulary (0..${pieces.length - 1})`);
    if (id === BOS || id === EOS) return new Uint8Array(0);
    const b = byteValues[id];
    if (b !== undefined) return Uint8Array.of(b);
    return prev === BOS && piece[0] === 0x20 ? piece.subarray(1) : piece;
  }

  function createStreamDecoder() {
    const out = utf8Stream();
    let prev: number | undefined;
    return {
      push(id: number): string {
        const bytes = pieceBytes(prev, id);
        prev = id;
        return out.push(bytes);
      },
      flush: () => out.flush(),
    };
  }

  return {
    kind: 'llama2c',
    vocabSize: pieces.length,
    maxTokens: (utf8Bytes) => utf8Bytes + 3, // one id per byte at most (byte fallback), plus BOS, dummy space, EOS
    bosId: BOS,
    eosId: EOS,
    encode,
    decode(ids) {
      const d = createStreamDecoder();
      return ids.map((id) => d.push(id)).join('') + d.flush();
    },
    createStreamDecoder,
  };
}
