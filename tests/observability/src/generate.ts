/** Writes charts/slmops/dashboards/*.json and charts/slmops/alerts/slmops-rules.yaml from the TypeScript sources. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderFiles } from './files.js';

const chart = join(import.meta.dirname, '../../../charts/slmops');
for (const [rel, text] of Object.entries(renderFiles())) {
  const path = join(chart, rel);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  process.stdout.write(`wrote charts/slmops/${rel}\n`);
}
