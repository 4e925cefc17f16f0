/**
 * Writes the generated CRD YAML to the path given as the first argument and, when a second is given, the
 * precomputed openAPIV3Schema module that offline validation reads there.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { renderCRDYaml, renderOpenAPISchemaModule } from './crd.js';

const [crdTarget, schemaTarget] = process.argv.slice(2);
if (!crdTarget) {
  console.error('usage: generate <path/to/crd.yaml> [path/to/slmdeployment-schema.generated.ts]');
  process.exit(2);
}
for (const [target, text] of [[crdTarget, renderCRDYaml()], ...(schemaTarget ? [[schemaTarget, renderOpenAPISchemaModule()]] : [])] as const) {
  const path = resolve(target);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  console.log(`wrote ${path}`);
}
