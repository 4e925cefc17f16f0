import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convertLlama2cPackage, loadModel, packPackage, packPackageInfo, readManifest } from '../src/index.js';
import { gpt2Dir, qwenDir, stories } from './fixtures.js';
import { greedy, session } from './ort.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'slmops-model-'));
const convert = (out: string, onProgress?: (done: number, total: number, stage: string) => void) =>
  convertLlama2cPackage({ checkpoint: join(stories, 'stories260K.bin'), tokenizer: join(stories, 'tok512.bin'), out, name: 'stories260k', version: '1.0.0', onProgress });

describe('SLM packages', () => {
  it('converts to a package whose slm.json describes the files and the IO read from the graph', async () => {
    const out = join(tmp(), 'pkg');
    const steps: string[] = [];
    const m = await convert(out, (done, total, stage) => steps.push(`${done}/${total} ${stage}`));
    expect(steps).toEqual(['0/1 reading checkpoint', '1/8 building ONNX graph', ...[1, 2, 3, 4, 5].map((l) => `${1 + l}/8 layer ${l}/5`), '6/8 serialising', '7/8 writing package', '8/8 done']);
    expect(readdirSync(out).sort()).toEqual(['model.onnx', 'slm.json', 'tokenizer.bin']);
    expect(readManifest(out)).toEqual(m);
    expect(m).toMatchObject({ name: 'stories260k', version: '1.0.0', architecture: 'llama', contextLength: 512, specialIds: { bos: 1, eos: 2 } });
    expect(m.io).toMatchObject({ kvLayout: 'split', numLayers: 5, numKvHeads: 4, headDim: 8, vocabSize: 512, idsType: 'int64', maskType: 'int64', kvType: 'float32', positionIds: 'position_ids' });
    expect(m.io.pastNames[4]).toEqual(['past_key_values.4.key', 'past_key_values.4.value']);
    expect(m.io.presentNames[0]).toEqual(['present.0.key', 'present.0.value']);
    const loaded = await loadModel(out);
    expect(loaded.tokenizer.encode('Once upon a time')).toEqual([1, 403, 407, 261, 378]);
    expect(loaded.variantPath()).toBe(join(out, 'model.onnx'));
    expect(() => loaded.variantPath('int4')).toThrow(`${out}: no int4 variant; the package has fp32`);
  });

  it('never leaves partial output: a failed conversion writes nothing, an existing target is refused', async () => {
    const dir = tmp();
    const bad = join(dir, 'bad.bin');
    writeFileSync(bad, readFileSync(join(stories, 'stories260K.bin')).subarray(0, 5000));
    await expect(convertLlama2cPackage({ checkpoint: bad, tokenizer: join(stories, 'tok512.bin'), out: join(dir, 'out') })).rejects.toThrow(/bad\.bin: truncated/);
    const wrongTok = convertLlama2cPackage({ checkpoint: join(stories, 'stories260K.bin'), tokenizer: join(stories, 'llama2_tokenizer_32000.bin'), out: join(dir, 'out') });
    await expect(wrongTok).rejects.toThrow("llama2_tokenizer_32000.bin: tokenizer has 32000 tokens but the checkpoint's vocab_size is 512");
    expect(readdirSync(dir)).toEqual(['bad.bin']);
    mkdirSync(join(dir, 'taken'));
    await expect(convert(join(dir, 'taken'))).rejects.toThrow(/taken: already exists/);
  });

  it('refuses a package whose file digest does not match slm.json, naming the file', async () => {
    const out = join(tmp(), 'pkg');
    await convert(out);
    const model = readFileSync(join(out, 'model.onnx'));
    model[model.length - 1]! ^= 1;
    writeFileSync(join(out, 'model.onnx'), model);
    await expect(loadModel(out)).rejects.toThrow(`${join(out, 'model.onnx')}: sha256 mismatch: slm.json says`);
    writeFileSync(join(out, 'model.onnx'), readFileSync(join(out, 'model.onnx')).subarray(1));
    await expect(loadModel(out)).rejects.toThrow(`${join(out, 'model.onnx')}: size ${model.length - 1} does not match slm.json (${model.length} bytes)`);
    const tok = readFileSync(join(out, 'tokenizer.bin'));
    tok[10]! ^= 1;
    writeFileSync(join(out, 'tokenizer.bin'), tok);
    await expect(loadModel(out, { verifyVariants: [] })).rejects.toThrow(`${join(out, 'tokenizer.bin')}: sha256 mismatch`);
  });

  it('packs deterministically, prints the digest and loads the tar after checking it', async () => {
    const dir = tmp();
    await convert(join(dir, 'a'));
    const p1 = await packPackageInfo(join(dir, 'a'), join(dir, 'a.slm.tar'));
    const d2 = await packPackage(join(dir, 'a'), join(dir, 'b.slm.tar'));
    expect(p1.tarDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(d2).toBe(p1.tarDigest);
    expect(p1.digest).toBe(`sha256:${createHash('sha256').update(readFileSync(join(dir, 'a', 'slm.json'))).digest('hex')}`);
    // Buffer.equals: a deep toEqual over a megabyte of bytes takes vitest many seconds.
    expect(readFileSync(join(dir, 'a.slm.tar')).equals(readFileSync(join(dir, 'b.slm.tar')))).toBe(true);
    const cacheDir = join(dir, 'cache');
    const m = await loadModel(join(dir, 'a.slm.tar'), { cacheDir, digest: p1.digest });
    expect(m.dir).toBe(join(cacheDir, p1.digest.slice(7)));
    expect(m.digest).toBe(p1.digest);
    expect(m.manifest.name).toBe('stories260k');
    expect(existsSync(m.variantPath('fp32'))).toBe(true);
    // GNU tar reads it: the archive is a real ustar file
    expect(readFileSync(join(dir, 'a.slm.tar')).subarray(257, 262).toString()).toBe('ustar');
  });
});

describe('foreign layouts', () => {
  it('loads the legacy GPT-2 genai folder with its stacked past_N names and reproduces the golden greedy output', async () => {
    const m = await loadModel(gpt2Dir);
    expect(m.manifest.io).toMatchObject({ kvLayout: 'stacked', numLayers: 5, numKvHeads: 4, headDim: 8, vocabSize: 1000, idsType: 'int32', maskType: 'int32', positionIds: 'position_ids' });
    expect(m.manifest.io.pastNames[0]).toEqual(['past_0']);
    expect(m.manifest.io.presentNames[4]).toEqual(['present_4']);
    expect(m.manifest.specialIds).toEqual({ bos: 98, eos: 98, pad: 98 });
    expect(m.tokenizer.encode(' of the')).toEqual([286, 262]);
    const s = await session(m.variantPath());
    const r = await greedy(s, m.manifest.io, [[0, 0, 0, 52], [0, 0, 195, 731]], 6, { unpadded: true });
    expect(r.generated).toEqual([[204, 204, 204, 204, 204, 204], [731, 114, 114, 114, 114, 114]]);
  });

  it('loads the GQA fp16 genai folder (no position_ids, int32 ids) and reproduces its greedy output', async () => {
    const m = await loadModel(qwenDir);
    expect(m.manifest.io).toMatchObject({ kvLayout: 'split', numLayers: 2, numKvHeads: 2, headDim: 16, idsType: 'int32', maskType: 'int64', kvType: 'float16' });
    expect(m.manifest.io.positionIds).toBeUndefined();
    expect(m.manifest.variants[0]).toMatchObject({ precision: 'fp16', file: 'decoder.onnx' });
    expect(() => m.tokenizer.encode('hi')).toThrow('has no tokenizer.json');
    const r = await greedy(await session(m.variantPath()), m.manifest.io, [[1, 17, 42, 99]], 8);
    expect(r.generated[0]).toEqual([932, 484, 114, 281, 403, 874, 550, 15]);
  });

  it('loads an Optimum/transformers.js folder built from the converter output', async () => {
    const src = join(tmp(), 'pkg');
    await convert(src);
    const dir = join(tmp(), 'optimum');
    mkdirSync(join(dir, 'onnx'), { recursive: true });
    cpSync(join(src, 'model.onnx'), join(dir, 'onnx/model.onnx'));
    cpSync(join(gpt2Dir, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', num_attention_heads: 8, num_key_value_heads: 4, hidden_size: 64, vocab_size: 512, max_position_embeddings: 512, bos_token_id: 1, eos_token_id: 2 }));
    const m = await loadModel(dir);
    expect(m.manifest).toMatchObject({ architecture: 'llama', contextLength: 512, specialIds: { bos: 1, eos: 2 } });
    expect(m.manifest.variants.map((v) => [v.precision, v.file])).toEqual([['fp32', 'onnx/model.onnx']]);
    expect(m.manifest.io.numKvHeads).toBe(4);
    expect(m.tokenizer.kind).toBe('hf');
  });

  it('rejects an ONNX file that is not a decoder, and a folder that is not a model', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'genai_config.json'), JSON.stringify({ model: { decoder: { filename: 'model.onnx' } } }));
    writeFileSync(join(dir, 'model.onnx'), Buffer.from('definitely not protobuf'));
    await expect(loadModel(dir)).rejects.toThrow(join(dir, 'model.onnx'));
    await expect(loadModel(tmp())).rejects.toThrow('not a model folder');
  });
});
