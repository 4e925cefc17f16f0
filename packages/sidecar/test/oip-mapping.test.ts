import { describe, expect, it } from 'vitest';
import { buildInferResponse, decodeRawBytes, encodeRawBytes, parseInferRequest } from '../src/grpc/oip-mapping.js';

const model = { name: 'm', version: '1' };
const input = (over: Record<string, unknown> = {}) => ({ name: 'text_input', datatype: 'BYTES', shape: [1], ...over });

describe('OIP text generation mapping', () => {
  it('round-trips raw BYTES with 4-byte little-endian length prefixes', () => {
    const raw = encodeRawBytes([Buffer.from('hé'), Buffer.alloc(0), Buffer.from('xyz')]);
    expect([...raw.subarray(0, 4)]).toEqual([3, 0, 0, 0]);
    expect(decodeRawBytes(raw, 'f').map((b) => b.toString())).toEqual(['hé', '', 'xyz']);
    expect(() => decodeRawBytes(Buffer.from([9, 0, 0, 0, 1]), 'raw_input_contents[0]')).toThrow('raw_input_contents[0]: element of 9 bytes overruns the 5-byte buffer');
    expect(() => decodeRawBytes(Buffer.from([1, 0]), 'raw_input_contents[0]')).toThrow('raw_input_contents[0]: truncated length prefix at byte 0');
  });

  it('reads prompts and parameters from typed or raw contents', () => {
    const typed = parseInferRequest(
      {
        model_name: 'm',
        parameters: {
          max_tokens: { int64_param: 50, parameter_choice: 'int64_param' },
          temperature: { double_param: 0, parameter_choice: 'double_param' },
          top_k: { int64_param: 5, parameter_choice: 'int64_param' },
          top_p: { double_param: 0.9, parameter_choice: 'double_param' },
          seed: { uint64_param: 7, parameter_choice: 'uint64_param' },
          stop: { string_param: '["\\n", "."]', parameter_choice: 'string_param' },
        },
        inputs: [input({ contents: { bytes_contents: [Buffer.from('Once')] } })],
      },
      model,
    );
    expect(typed).toEqual({ id: '', prompts: ['Once'], raw: false, params: { maxTokens: 50, temperature: 0, topK: 5, topP: 0.9, seed: 7, stop: ['\n', '.'] } });
    const raw = parseInferRequest({ model_name: 'm', inputs: [input({ shape: [2] })], raw_input_contents: [encodeRawBytes([Buffer.from('a'), Buffer.from('b')])] }, model);
    expect(raw.prompts).toEqual(['a', 'b']);
    expect(raw.raw).toBe(true);
    const res = buildInferResponse(raw, model, [
      { text: 'x', finishReason: 'length', promptTokens: 2, completionTokens: 1 },
      { text: 'yz', finishReason: 'eos', promptTokens: 2, completionTokens: 2 },
    ]);
    expect(decodeRawBytes((res['raw_output_contents'] as Buffer[])[0]!, 'o').map(String)).toEqual(['x', 'yz']);
    expect(res['outputs']).toEqual([{ name: 'text_output', datatype: 'BYTES', shape: [2] }]);
  });

  it.each([
    [{ model_name: 'x', inputs: [input()] }, /^model_name: unknown model "x"/],
    [{ model_name: 'm', inputs: [] }, /^inputs: a BYTES input named "text_input" is required/],
    [{ model_name: 'm', inputs: [input({ datatype: 'FP32' })] }, /^inputs\[0\]\.datatype: must be BYTES/],
    [{ model_name: 'm', inputs: [input({ shape: [2], contents: { bytes_contents: [Buffer.from('a')] } })] }, /^inputs\[0\]\.contents: shape \[2\] needs 2 element/],
    [{ model_name: 'm', inputs: [input({ contents: { bytes_contents: [Buffer.from('a')] } })], raw_input_contents: [Buffer.from([1, 0, 0, 0, 97])] }, /^raw_input_contents: give the tensor in contents or in raw_input_contents, not both/],
    [{ model_name: 'm', inputs: [input({ contents: { bytes_contents: [Buffer.from([0xff])] } })] }, /^inputs\[0\]\.contents\[0\]: must be UTF-8 text/],
    [{ model_name: 'm', parameters: { max_tokens: { double_param: 1.5, parameter_choice: 'double_param' } }, inputs: [input({ contents: { bytes_contents: [Buffer.from('a')] } })] }, /^parameters\.max_tokens: must be an integer/],
    [{ model_name: 'm', parameters: { stop: { string_param: '[1]', parameter_choice: 'string_param' } }, inputs: [input({ contents: { bytes_contents: [Buffer.from('a')] } })] }, /^parameters\.stop: must be a JSON array of strings/],
  ])('rejects %j naming the field', (req, message) => {
    expect(() => parseInferRequest(req as never, model)).toThrow(message);
  });
});
