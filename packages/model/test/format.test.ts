import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractTar, hfTokenizer, parseManifest, sha256Hex, writeTar } from '../src/index.js';
import { tarHeader } from '../src/package/tar.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'slmops-format-'));

describe('slm.json checks', () => {
  const valid = {
    schemaVersion: 1, name: 'm', version: '1', architecture: 'llama', contextLength: 8,
    tokenizer: { kind: 'llama2c', file: 'tokenizer.bin', sha256: 'a'.repeat(64) }, specialIds: {},
    io: { inputIds: 'input_ids', pastNames: [] }, variants: [{ precision: 'fp32', file: 'model.onnx', sha256: 'b'.repeat(64), bytes: 10 }],
  };
  it.each([
    [{ schemaVersion: 2 }, 'slm.json: schemaVersion: must be 1, got 2'],
    [{ name: '' }, 'slm.json: name: must be a non-empty string'],
    [{ variants: [] }, 'slm.json: variants: must list at least one variant'],
    [{ variants: [{ ...valid.variants[0], precision: 'int3' }] }, 'slm.json: variants[0].precision: must be one of fp32, fp16, int8, int4'],
    [{ variants: [{ ...valid.variants[0], file: '../etc/passwd' }] }, 'slm.json: variants[0].file: must be a plain file name inside the package'],
    [{ tokenizer: { ...valid.tokenizer, sha256: 'XYZ' } }, 'slm.json: tokenizer.sha256: must be 64 lowercase hex digits'],
  ])('rejects %j naming the field', (patch, message) => {
    expect(() => parseManifest(JSON.stringify({ ...valid, ...patch }), 'slm.json')).toThrow(message);
  });
  it('accepts a valid manifest and rejects broken JSON', () => {
    expect(parseManifest(JSON.stringify(valid), 'slm.json').name).toBe('m');
    expect(() => parseManifest('{', 'x/slm.json')).toThrow(/^x\/slm\.json: not valid JSON/);
  });
});

describe('package tar', () => {
  it('round-trips files and is byte-identical for the same input', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'b.txt'), 'bee');
    writeFileSync(join(dir, 'a.bin'), Buffer.alloc(1000, 7));
    const files = [{ name: 'b.txt', path: join(dir, 'b.txt'), size: 3 }, { name: 'a.bin', path: join(dir, 'a.bin'), size: 1000 }];
    const d1 = writeTar(join(dir, '1.tar'), files);
    const d2 = writeTar(join(dir, '2.tar'), [...files].reverse());
    expect(d1).toBe(d2);
    const bytes = readFileSync(join(dir, '1.tar'));
    expect(bytes.length).toBe(512 + 512 + 512 + 1024 + 1024); // two headers, padded data, end blocks
    expect(bytes.subarray(0, 5).toString()).toBe('a.bin'); // sorted
    mkdirSync(join(dir, 'out'));
    const want = [{ name: 'a.bin', bytes: 1000, sha256: sha256Hex(Buffer.alloc(1000, 7)) }, { name: 'b.txt', bytes: 3 }];
    expect(await extractTar(join(dir, '1.tar'), join(dir, 'out'), want)).toEqual(['a.bin', 'b.txt']);
    expect(readFileSync(join(dir, 'out/b.txt'), 'utf8')).toBe('bee');
  });

  it('refuses entries that would escape the folder, bad checksums and truncation, naming the archive', async () => {
    const dir = tmp();
    const evil = Buffer.concat([tarHeader('../evil', 1), Buffer.alloc(512), Buffer.alloc(1024)]);
    writeFileSync(join(dir, 'evil.tar'), evil);
    await expect(extractTar(join(dir, 'evil.tar'), dir, [])).rejects.toThrow(`${join(dir, 'evil.tar')}: unsafe entry name "../evil"`);
    const bad = Buffer.concat([tarHeader('ok', 1), Buffer.alloc(512), Buffer.alloc(1024)]);
    bad[0] = 0x4f; // 'O': the header no longer matches its checksum
    writeFileSync(join(dir, 'bad.tar'), bad);
    await expect(extractTar(join(dir, 'bad.tar'), dir, [])).rejects.toThrow('bad tar header checksum');
    writeFileSync(join(dir, 'cut.tar'), tarHeader('ok', 1));
    await expect(extractTar(join(dir, 'cut.tar'), dir, [])).rejects.toThrow(/cut\.tar: truncated/);
    expect(readdirSync(dir).sort()).toEqual(['bad.tar', 'cut.tar', 'evil.tar']);
  });
});

describe('Hugging Face tokenizer variants', () => {
  // A tiny byte-level BPE in the Llama-3/Qwen style: Split regex + ByteLevel without its own regex, BOS template.
  const json = JSON.stringify({
    added_tokens: [{ id: 0, content: '<s>', special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '\\s?\\p{L}+|\\s?\\p{N}|\\s+|[^\\s\\p{L}\\p{N}]+' }, behavior: 'Isolated' }, { type: 'ByteLevel', add_prefix_space: false, use_regex: false }] },
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>' } }, { Sequence: { id: 'A' } }] },
    decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', vocab: { '<s>': 0, h: 1, i: 2, 'Ġ': 3, hi: 4, 'Ġhi': 5, '1': 6, '2': 7, '!': 8 }, merges: [['h', 'i'], ['Ġ', 'hi']] },
  });
  it('splits with the Split regex, merges by rank and adds the template BOS', () => {
    const t = hfTokenizer(json, 'tiny.json');
    expect(t.bosId).toBe(0);
    expect(t.encode('hi hi12!')).toEqual([0, 4, 5, 6, 7, 8]);
    expect(t.encode('hi', { bos: false })).toEqual([4]);
    expect(t.decode([0, 4, 5, 6, 7, 8])).toBe('hi hi12!');
  });
  it('names the piece that has no id', () => {
    expect(() => hfTokenizer(json, 'tiny.json').encode('x')).toThrow('tiny.json: piece "x" has no id');
  });
});
