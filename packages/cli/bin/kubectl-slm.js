#!/usr/bin/env node
import { registerLeanClientNode, skipWasmTierUp } from '@slmops/kube/lean';

// First, before anything imports @kubernetes/client-node (hence the dynamic imports below): each of these takes
// a large share of a one-request command's wall time otherwise (bench/cli-startup.ts).
registerLeanClientNode();
skipWasmTierUp();
const { exitQuietlyOnBrokenPipe } = await import('../dist/context.js');
const { main } = await import('../dist/kubectl-slm/main.js');

exitQuietlyOnBrokenPipe(process.stdout, (code) => process.exit(code));
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env });
