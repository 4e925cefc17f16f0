import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHostContext, createSampleRegistry } from '../src/index.js';

describe('sample registry', () => {
  it('renders the Prometheus text format with escaping', async () => {
    const r = createSampleRegistry();
    r.counter({ name: 'x_total', help: 'A "counter"\nwith a newline', labelNames: ['mode'], collect: () => [{ labels: { mode: 'us"er' }, value: 1.5 }] });
    r.gauge({ name: 'y', help: 'A gauge', collect: async () => [{ value: -2 }] });
    expect(await r.render()).toBe('# HELP x_total A "counter"\\nwith a newline\n# TYPE x_total counter\nx_total{mode="us\\"er"} 1.5\n# HELP y A gauge\n# TYPE y gauge\ny -2\n');
  });

  it('rejects what a Prometheus client would reject', async () => {
    const r = createSampleRegistry();
    expect(() => r.counter({ name: 'x', help: 'h', collect: () => [] })).toThrow('counter "x" must end in _total');
    expect(() => r.gauge({ name: 'bad-name', help: 'h', collect: () => [] })).toThrow('not a valid Prometheus name');
    expect(() => r.gauge({ name: 'g', help: 'h', labelNames: ['__x'], collect: () => [] })).toThrow('label name "__x" is invalid');
    r.gauge({ name: 'g', help: 'h', collect: () => [{ labels: { undeclared: 'x' }, value: 1 }] });
    expect(() => r.gauge({ name: 'g', help: 'h', collect: () => [] })).toThrow('already registered');
    await expect(r.collect()).rejects.toThrow('label "undeclared" is not declared');
  });
});

describe('host context', () => {
  it('reads files and directories, answering undefined and [] for what is missing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'slmops-hostctx-'));
    try {
      writeFileSync(join(root, 'b'), 'hello');
      writeFileSync(join(root, 'a'), '');
      const ctx = createHostContext({ root });
      expect(await ctx.readFile('/b')).toBe('hello');
      expect(await ctx.readFile('/missing')).toBeUndefined();
      expect(await ctx.readDir('/')).toEqual(['a', 'b']);
      expect(await ctx.readDir('/missing')).toEqual([]);
      expect(await createHostContext().readFile(join(root, 'b'))).toBe('hello');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('runs programs without a shell and never rejects', async () => {
    const ctx = createHostContext();
    expect(await ctx.exec(process.execPath, ['-e', 'process.stdout.write("out")'])).toEqual({ exitCode: 0, stdout: 'out', stderr: '' });
    expect((await ctx.exec(process.execPath, ['-e', 'process.exit(3)'])).exitCode).toBe(3);
    expect(await ctx.exec('definitely-not-a-program-slmops', [])).toMatchObject({ exitCode: null, error: 'ENOENT' });
    expect(await ctx.exec(process.execPath, ['-e', 'setTimeout(() => {}, 5000)'], { timeoutMs: 100 })).toMatchObject({ exitCode: null, error: 'ETIMEDOUT' });
  });
});
