/**
 * TEST-ONLY REFERENCE: the llama2.c tokenizer as it was at commit 994a067 (quadratic merge loop), kept verbatim
 * except for this header, the import paths and the `onWork` counter (pairs scanned per merge step), so the
 * differential fuzz can compare the linear implementation's ids with it.
 */
import { type Tokenizer, utf8Stream } from '../../src/tokenizer/types.js';

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
export function llama2cTokenizer(vocab: Llama2cVocab, opts: { onWork?: (units: number) => void } = {}): Tokenizer {
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
    // Greedy merge of the best-scoring adjacent pair (leftmost on ties), as run.c does; pair scores are cached
    // and only the neighbours of a merge are looked up again.
    const pairScore = (i: number): [number, number] => {
      const id = lookup.get(key(pieces[tokens[i]!]!) + key(pieces[tokens[i + 1]!]!));
      return id === undefined ? [-Infinity, -1] : [scores[id]!, id];
    };
    const best: Array<[number, number]> = [];
    for (let i = 0; i + 1 < tokens.length; i++) best.push(pairScore(i));
    let work = 0;
    for (;;) {
      let bestScore = -1e10;
      let bestIdx = -1;
      work += best.length + 1;
      for (let i = 0; i < best.length; i++) {
        if (best[i]![1] !== -1 && best[i]![0] > bestScore) {
          bestScore = best[i]![0];
          bestIdx = i;
        }
      }
      if (bestIdx === -1) break;
      tokens[bestIdx] = best[bestIdx]![1];
      tokens.splice(bestIdx + 1, 1);
      best.splice(bestIdx, 1);
      if (bestIdx > 0) best[bestIdx - 1] = pairScore(bestIdx - 1);
      if (bestIdx < best.length) best[bestIdx] = pairScore(bestIdx);
    }
    onWork?.(work);
    if (opts.eos) tokens.push(EOS);
    return tokens;
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
