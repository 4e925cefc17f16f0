#!/usr/bin/env node
// The node exporter DaemonSet's entry point: `slmops-exporter --node-name … [--metrics-bind-address :9465]`.
import { createRequire } from 'node:module';
import { EXPORTER_USAGE, runExporterMain } from '../dist/index.js';

if (process.argv.slice(2).includes('--version')) {
  process.stdout.write(`slmops-exporter ${createRequire(import.meta.url)('../package.json').version}\n`);
  process.exit(0);
}

runExporterMain(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => process.exit(code),
  (e) => {
    const usage = e.name === 'ConfigError' || e.code?.startsWith?.('ERR_PARSE_ARGS');
    process.stderr.write(`slmops-exporter: ${e.message}\n${usage ? `Usage: ${EXPORTER_USAGE}\n` : ''}`);
    process.exit(usage ? 2 : 1);
  },
);
