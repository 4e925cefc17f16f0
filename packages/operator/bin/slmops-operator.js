#!/usr/bin/env node
// The operator container's entry point: `slmops-operator [--kubeconfig …] [--namespace …] [--leader-elect=true] …`.
import { OPERATOR_USAGE, runOperatorMain } from '../dist/index.js';

runOperatorMain(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => process.exit(code),
  (e) => {
    const usage = e.name === 'ConfigError' || e.code?.startsWith?.('ERR_PARSE_ARGS');
    process.stderr.write(`slmops-operator: ${e.message}\n${usage ? `Usage: ${OPERATOR_USAGE}\n` : ''}`);
    process.exit(usage ? 2 : 1);
  },
);
