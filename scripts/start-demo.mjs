#!/usr/bin/env node
// The embedded default, run by `npm start`: builds the CLI, converts the bundled
// stories260K model into a package under .cache/ (once), starts `slmops serve` on 127.0.0.1, streams a sample
// story through the gRPC client, then leaves the server running with its addresses printed. Ctrl-C stops it.
// Ports: SLMOPS_GRPC_PORT (default 50051) and SLMOPS_METRICS_PORT (default 9464); 0 picks free ones.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const root = join(import.meta.dirname, '..');
const cache = join(root, '.cache');
const modelDir = join(cache, 'models', 'stories260k');
const slmops = join(root, 'packages', 'cli', 'bin', 'slmops.js');
const grpcPort = process.env.SLMOPS_GRPC_PORT ?? '50051';
const metricsPort = process.env.SLMOPS_METRICS_PORT ?? '9464';

const step = (args) => {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

step([join(root, 'node_modules', 'nx', 'dist', 'bin', 'nx.js'), 'run', '@slmops/cli:build', '--outputStyle=stream']);
if (!existsSync(join(modelDir, 'slm.json'))) {
  const bundled = join(root, 'models', 'stories260k');
  step([slmops, 'convert', join(bundled, 'stories260K.bin'), '--tokenizer', join(bundled, 'tok512.bin'), '--out', modelDir, '--name', 'stories260k', '--version', '1.0.0']);
}

mkdirSync(cache, { recursive: true });
const logPath = join(cache, 'sidecar.log');
const server = spawn(process.execPath, [slmops, 'serve', '--model', modelDir, '--host', '127.0.0.1', '--port', grpcPort, '--metrics-port', metricsPort, '--cache-dir', join(cache, 'models')], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'pipe'],
});
server.stderr.pipe(createWriteStream(logPath, { flags: 'a' }));
// The last few KB of its log, to say why it stopped when it stops before serving (a busy port, most often).
let recent = '';
server.stderr.on('data', (d) => (recent = (recent + d.toString()).slice(-8192)));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.kill('SIGTERM'));
let serving = false;
server.on('exit', (code) => {
  if (!serving) {
    const busy = /EADDRINUSE\D*?(\S+:\d+)/.exec(recent);
    console.error(
      busy
        ? `slmops serve could not start: ${busy[1]} is already in use (gRPC ${grpcPort}, metrics ${metricsPort}). ` +
            'Stop what uses it, or set SLMOPS_GRPC_PORT / SLMOPS_METRICS_PORT (0 picks free ports).'
        : `slmops serve exited with code ${code} before serving; its last log lines (all in ${logPath}):\n${recent.trim().split('\n').slice(-10).join('\n')}`,
    );
  }
  process.exit(code ?? 1);
});

const announced = await new Promise((resolve) => createInterface({ input: server.stdout }).once('line', resolve));
serving = true;
const address = /gRPC (\S+),/.exec(announced)?.[1];
const metrics = /metrics (\S+)/.exec(announced)?.[1];
if (!address) {
  console.error(`slmops serve did not start: ${announced}\nSee ${logPath}`);
  server.kill('SIGTERM');
  process.exit(1);
}

const { createClient, generateRemote } = await import(join(root, 'packages', 'sidecar', 'dist', 'index.js'));
const health = createClient('health', address);
for (let i = 0; ; i++) {
  const status = await new Promise((resolve) => health.Check({ service: '' }, (e, r) => resolve(e ? 'DOWN' : r.status)));
  if (status === 'SERVING') break;
  if (i > 600) {
    console.error(`the model did not become ready; see ${logPath}`);
    server.kill('SIGTERM');
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 50));
}
health.close();

const prompt = 'Once upon a time';
process.stdout.write(`\n${prompt}`);
let usage = '';
for await (const ev of generateRemote(address, { prompt, max_tokens: 200, temperature: 0.8, top_p: 0.9, seed: 42 })) {
  if (ev.type === 'token') process.stdout.write(ev.text);
  else usage = `${ev.completionTokens} tokens, ${ev.finishReason}, first token after ${ev.timings.ttft_ms?.toFixed(1)} ms`;
}
process.stdout.write(`\n\n(${usage})\n\n`);
console.log(`The sidecar keeps serving stories260k (Ctrl-C to stop):
  gRPC     ${address}   (slmops.inference.v1.Inference, inference.GRPCInferenceService, grpc.health.v1.Health, reflection)
  metrics  ${metrics}
  OpenAI   http://${metrics?.replace(/^http:\/\//, '').replace(/\/metrics$/, '')}/v1/completions
  try      node packages/cli/bin/slmops.js generate --server ${address} --prompt "Lily saw a"
  logs     ${logPath}`);
