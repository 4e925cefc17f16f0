import { describe, expect, it } from 'vitest';
import { ConfigError, choosePrecision, parseSidecarArgs } from '../src/config.js';

describe('--precision: acceptable variants, best first', () => {
  it('parses a comma-separated list and rejects an unknown precision by name', () => {
    expect(parseSidecarArgs(['--model', 'm', '--precision', 'int8,fp16,fp32'], {}).precisions).toEqual(['int8', 'fp16', 'fp32']);
    expect(parseSidecarArgs(['--model', 'm', '--precision', 'int4'], {}).precisions).toEqual(['int4']);
    expect(() => parseSidecarArgs(['--model', 'm', '--precision', 'int8,int3'], {})).toThrow(/"int3"/);
  });

  it('serves the first acceptable variant the package has', () => {
    expect(choosePrecision(['int8', 'fp16', 'fp32'], ['fp32'])).toBe('fp32');
    expect(choosePrecision(['int8', 'fp32'], ['fp32', 'int8', 'int4'])).toBe('int8');
    expect(choosePrecision(undefined, ['fp32'])).toBeUndefined();
  });

  it('names both lists when the package has none of the acceptable variants', () => {
    expect(() => choosePrecision(['int4'], ['fp32', 'int8'])).toThrow(ConfigError);
    expect(() => choosePrecision(['int4'], ['fp32', 'int8'])).toThrow('the package has variants [fp32, int8], none of the acceptable [int4]');
  });
});
