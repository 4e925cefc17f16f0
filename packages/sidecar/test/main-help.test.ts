/** `--help`/`-h` on the sidecar's composition root and binary: usage on stdout, exit 0, nothing started. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SIDECAR_USAGE, runSidecarMain } from '../src/index.js';

const BIN = join(import.meta.dirname, '../bin/slmops-sidecar.js');

describe('slmops-sidecar --help', () => {
  it('runSidecarMain prints usage on stdout and resolves 0 without a model, even next to unknown flags', async () => {
    for (const flag of ['--help', '-h']) {
      let out = '';
      const stdout = new PassThrough().on('data', (c: Buffer) => (out += c.toString()));
      await expect(runSidecarMain(['--bogus', flag], { stdout, stderr: new PassThrough(), env: {} })).resolves.toBe(0);
      expect(out).toBe(`Usage: ${SIDECAR_USAGE}\n`);
    }
  });

  it('the binary exits 0 with usage on stdout and nothing on stderr', () => {
    const r = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8', env: { PATH: process.env['PATH'] } });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`Usage: ${SIDECAR_USAGE}\n`);
    expect(r.stderr).toBe('');
  });
});
