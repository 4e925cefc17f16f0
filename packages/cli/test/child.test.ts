/** runChild: the child's streams reach the CLI's, forwarded signals stop it, its exit code comes back. */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { runChild } from '../src/child.js';

const dir = mkdtempSync(join(tmpdir(), 'slmops-child-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// Announces itself, then exits 3 on SIGTERM (4 on SIGINT) so the test can tell which signal arrived.
const script = join(dir, 'child.mjs');
writeFileSync(
  script,
  `process.on('SIGTERM', () => process.exit(3));
process.on('SIGINT', () => process.exit(4));
process.stdout.write('ready ' + process.argv.slice(2).join(',') + ' ' + process.env.MARK + '\\n');
process.stderr.write('to stderr\\n');
setInterval(() => {}, 1000);
`,
);

function ctx() {
  const out = { stdout: '', stderr: '' };
  const stdout = new PassThrough().on('data', (c: Buffer) => (out.stdout += c.toString()));
  const stderr = new PassThrough().on('data', (c: Buffer) => (out.stderr += c.toString()));
  return { out, ctx: { stdout, stderr, cwd: dir, env: { MARK: 'm1', PATH: process.env['PATH'] } } };
}

const until = async (cond: () => boolean) => {
  for (let i = 0; !cond(); i++) {
    if (i > 400) throw new Error('timed out waiting for the child');
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('runChild', () => {
  it.each([
    ['SIGTERM', 3],
    ['SIGINT', 4],
  ] as const)('pipes stdio with args and env, forwards %s and resolves the exit code', async (signal, code) => {
    const { out, ctx: c } = ctx();
    const signals = new EventEmitter();
    const exit = runChild(script, ['a', 'b'], c, { signals });
    await until(() => out.stdout.includes('\n') && out.stderr.includes('\n'));
    expect(out.stdout).toBe('ready a,b m1\n');
    expect(out.stderr).toBe('to stderr\n');
    expect(signals.listenerCount(signal)).toBe(1);
    signals.emit(signal);
    await expect(exit).resolves.toBe(code);
    expect(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT')).toBe(0);
  });

  it('hands stdout to onStdout instead of piping it', async () => {
    const { out, ctx: c } = ctx();
    const signals = new EventEmitter();
    let seen = '';
    const exit = runChild(script, [], c, { signals, onStdout: (s) => s.on('data', (b: Buffer) => (seen += b.toString())) });
    await until(() => seen.includes('\n'));
    signals.emit('SIGTERM');
    await expect(exit).resolves.toBe(3);
    expect(seen).toBe('ready  m1\n');
    expect(out.stdout).toBe('');
  });
});
