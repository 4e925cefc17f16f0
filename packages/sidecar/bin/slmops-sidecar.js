#!/usr/bin/env node
// The sidecar container's entry point: `slmops-sidecar --model … [--port 50051] [--metrics-port 9464]`.
import { createRequire } from 'node:module';
import { SIDECAR_USAGE, runSidecarMain } from '../dist/index.js';

if (process.argv.slice(2).includes('--version')) {
  process.stdout.write(`slmops-sidecar ${createRequire(import.meta.url)('../package.json').version}\n`);
  process.exit(0);
}
runSidecarMain(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }).then(
  (code) => process.exit(code),
  (e) => {
    const usage = e.name === 'ConfigError' || e.code?.startsWith?.('ERR_PARSE_ARGS');
    process.stderr.write(`slmops-sidecar: ${e.message}\n${usage ? `Usage: ${SIDECAR_USAGE}\n` : ''}`);
    process.exit(usage ? 2 : 1);
  },
);
