#!/usr/bin/env node
import { exitQuietlyOnBrokenPipe } from '../dist/context.js';
import { main } from '../dist/kubectl-slm/main.js';

exitQuietlyOnBrokenPipe(process.stdout, (code) => process.exit(code));
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), env: process.env });
