/** Writes the generated CRD YAML to the path given as the first argument. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { renderCRDYaml } from './crd.js';

const target = process.argv[2];
if (!target) {
  console.error('usage: generate <path/to/crd.yaml>');
  process.exit(2);
}
const path = resolve(target);
mkdirSync(dirname(path), { recursive: true });
writeFileSync(path, renderCRDYaml());
console.log(`wrote ${path}`);
