/** The shared stories260K fixture and a converted package per test file (built once, in a temp folder). */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli.js';

export const stories = join(import.meta.dirname, '../../../../shared/fixtures/models/stories260K');
export const ckpt = join(stories, 'stories260K.bin');
export const tok = join(stories, 'tok512.bin');
export const tmp = (prefix = 'slmops-cli-') => mkdtempSync(join(tmpdir(), prefix));

/** Converts stories260K into a fresh package folder and returns its path. */
export async function convertedPackage(): Promise<string> {
  const out = join(tmp(), 'stories260k');
  const r = await runCli(['convert', ckpt, '--tokenizer', tok, '--out', out, '--name', 'stories260k', '--version', '1.0.0']);
  if (r.code !== 0) throw new Error(`convert failed: ${r.stderr}`);
  return out;
}
