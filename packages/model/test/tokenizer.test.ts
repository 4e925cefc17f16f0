import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hfTokenizer, llama2cTokenizer, parseLlama2cVocab } from '../src/index.js';
import { gpt2Dir, stories } from './fixtures.js';

const ref = JSON.parse(readFileSync(join(stories, 'reference-tokenizer.json'), 'utf8')) as {
  cases: Array<{ text_hex: string; ids_bos: number[]; decoded_hex: string }>;
  decode_table: Array<{ id: number; score: number; piece_hex: string; after_bos_hex: string; otherwise_hex: string }>;
};
const tok = llama2cTokenizer(parseLlama2cVocab(readFileSync(join(stories, 'tok512.bin')), 'tok512.bin', 512));
const text = (hex: string) => Buffer.from(hex, 'hex').toString('utf8');

describe('llama2.c tokenizer (tok512.bin)', () => {
  it.each(ref.cases.map((c) => [JSON.stringify(text(c.text_hex)), c] as const))('encodes %s exactly as run.c', (_name, c) => {
    expect(tok.encode(text(c.text_hex))).toEqual(c.ids_bos);
  });

  it.each(ref.cases.map((c) => [JSON.stringify(text(c.text_hex)), c] as const))('decodes %s back to the text', (_name, c) => {
    expect(Buffer.from(tok.decode(c.ids_bos)).toString('hex')).toBe(c.decoded_hex);
  });

  it('decodes every piece as run.c does after BOS and otherwise', () => {
    for (const row of ref.decode_table) {
      if (row.id === 1 || row.id === 2) continue; // BOS/EOS are not printed by decode(ids)
      const bytes = (ids: number[]) => {
        const d = tok.createStreamDecoder();
        const chunks = ids.map((id) => d.push(id));
        return Buffer.concat([...chunks.slice(1), d.flush()].map((s) => Buffer.from(s))).toString('hex');
      };
      // Byte tokens >= 0x80 are not valid UTF-8 alone; compare only complete characters.
      if (row.id >= 3 + 0x80 && row.id < 259) continue;
      expect(bytes([1, row.id])).toBe(row.after_bos_hex);
      expect(bytes([400, row.id])).toBe(row.otherwise_hex);
    }
  });

  it('stream-decodes byte-fallback UTF-8 only once a character is complete', () => {
    const ids = tok.encode('日本');
    const d = tok.createStreamDecoder();
    const outs = ids.map((id) => d.push(id));
    expect(outs.join('') + d.flush()).toBe('日本');
    expect(outs.filter((s) => s.length > 0)).toEqual(['日', '本']);
  });

  it('honours bos:false and eos:true', () => {
    expect(tok.encode('A', { bos: false, eos: true })).toEqual([410, 447, 2]);
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(2);
    expect(tok.vocabSize).toBe(512);
  });

  it('rejects a vocabulary whose size does not match the checkpoint, naming the file', () => {
    expect(() => parseLlama2cVocab(readFileSync(join(stories, 'tok512.bin')), 'tok512.bin', 32000)).toThrow(
      'tok512.bin: tokenizer has 512 tokens but the checkpoint\'s vocab_size is 32000',
    );
    const cut = readFileSync(join(stories, 'tok512.bin')).subarray(0, 3000);
    expect(() => parseLlama2cVocab(cut, 'cut.bin')).toThrow(/^cut\.bin: .*(truncated|past the end)/);
  });

  it('encodes with the 32000-token Llama-2 vocabulary (dummy prefix 29871)', () => {
    const big = llama2cTokenizer(parseLlama2cVocab(readFileSync(join(stories, 'llama2_tokenizer_32000.bin')), 'llama2'));
    const ids = big.encode('Once upon a time');
    expect(ids[0]).toBe(1);
    expect(big.decode(ids)).toBe('Once upon a time');
    // The dummy prefix and the space merge into "  " (id 259, score -1e9, still above run.c's -1e10 floor).
    expect(big.encode(' ')).toEqual([1, 259]);
    expect(big.encode('x', { bos: false })[0]).toBe(921);
  });
});

describe('Hugging Face byte-level BPE (tiny-random-gpt2 tokenizer.json)', () => {
  const hf = hfTokenizer(readFileSync(join(gpt2Dir, 'tokenizer.json'), 'utf8'), 'tokenizer.json', { bos: 98, eos: 98 });
  it.each([
    [' the a is in', [262, 257, 318, 287]],
    ['a b c d', [64, 275, 269, 288]],
    [' and of to in', [290, 286, 284, 287]],
    [' of the', [286, 262]],
    ['Hello World', [15496, 2159]],
  ])('encodes %j like @huggingface/tokenizers', (s, ids) => {
    expect(hf.encode(s)).toEqual(ids);
    expect(hf.decode(ids)).toBe(s);
  });

  it('round-trips unicode, newlines and added whitespace tokens', () => {
    for (const s of ['naïve café 日本語 🙂', 'line one\n\nline two', 'x    y', '<|endoftext|>ok']) {
      const ids = hf.encode(s, { bos: false });
      expect(hf.decode(ids)).toBe(s.replace('<|endoftext|>', ''));
    }
    expect(hf.encode('<|endoftext|>')).toEqual([50256]);
    expect(hf.kind).toBe('hf');
  });

  it('rejects unsupported tokenizer types, naming the file', () => {
    expect(() => hfTokenizer(JSON.stringify({ model: { type: 'WordPiece' } }), 'bert.json')).toThrow('bert.json: model.type "WordPiece" is not supported');
    expect(() => hfTokenizer('{', 'broken.json')).toThrow(/^broken\.json: not valid JSON/);
  });
});
