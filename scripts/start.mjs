#!/usr/bin/env node
// The README's main command (after `npm ci`): builds the CLI and runs the embedded default job.
// Today that is validating the bundled examples with the CRD's own rules; the sidecar replaces it with serving
// the bundled demo model.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const step = (args) => {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

step([join(root, 'node_modules', 'nx', 'dist', 'bin', 'nx.js'), 'run', '@slmops/cli:build', '--outputStyle=stream']);
step([join(root, 'packages', 'cli', 'bin', 'slmops.js'), 'validate', '-f', 'examples']);
