/** `slmops serve`: the sidecar program in the foreground, reachable on its ports, stopped by SIGTERM. */
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createServeCommand } from '../src/commands/serve.js';
import { runCli } from './cli.js';
import { convertedPackage } from './model-fixtures.js';

describe('slmops serve and generate --server', () => {
  it('serves a converted package until SIGTERM, then exits 0', async () => {
    const dir = await convertedPackage();
    const signals = new EventEmitter();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exit = createServeCommand(signals).run(['--model', dir, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '0'], { stdout, stderr, cwd: process.cwd(), env: {} });
    while (!/metrics (http\S+)/.test(out)) await new Promise((r) => setTimeout(r, 10));
    expect(out).toMatch(/^serving: gRPC 127\.0\.0\.1:\d+, metrics http:\/\/127\.0\.0\.1:\d+\/metrics/);
    const base = /metrics (http\S+)\/metrics/.exec(out)![1]!;
    while ((await fetch(`${base}/readyz`)).status !== 200) await new Promise((r) => setTimeout(r, 25));
    const res = await fetch(`${base}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 12, temperature: 0 }) });
    const body = (await res.json()) as { choices: { text: string }[] };
    expect(body.choices[0]!.text).toBe(', there was a little girl named Lily. She');
    const grpcAddress = /gRPC (\S+),/.exec(out)![1]!;
    const remote = await runCli(['generate', '--server', grpcAddress, '--prompt', 'Once upon a time', '--max-tokens', '12', '--temperature', '0', '--json']);
    expect(remote.stderr).toBe('');
    expect(JSON.parse(remote.stdout)).toMatchObject({ text: ', there was a little girl named Lily. She', finishReason: 'length' });
    const both = await runCli(['generate', '--server', grpcAddress, '--model', dir, '--prompt', 'x']);
    expect(both.code).toBe(2);
    signals.emit('SIGTERM');
    expect(await exit).toBe(0);
    expect(err).toContain('"msg":"stopped"');
  }, 60_000);

  it('generate --server reports an unreachable server with exit 1, not a crash', async () => {
    const r = await runCli(['generate', '--server', '127.0.0.1:1', '--prompt', 'Once', '--max-tokens', '4']);
    expect(r.code).toBe(1);
    // No transport internals (grpc-js status codes, resolver notes): the address and why.
    expect(r.stderr).toBe('slmops generate: cannot reach 127.0.0.1:1 (connection refused)\n');
  });

  it('exits 2 with the reason when --model is missing', async () => {
    const r = await runCli(['serve', '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--model is required');
  });
});
