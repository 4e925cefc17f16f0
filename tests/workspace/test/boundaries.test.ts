import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../../..');

async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  return result!.messages.filter((m) => m.ruleId === '@nx/enforce-module-boundaries').map((m) => m.message);
}

describe('module boundaries are enforced by lint', () => {
  it('the api package may not import an app (here the CLI, which depends on it)', async () => {
    const errors = await boundaryErrors('packages/api/src/fixture.ts', "import { main } from '@slmops/cli';\nexport const x = main;\n");
    expect(errors.join('\n')).toMatch(/Circular dependency between "@slmops\/api" and "@slmops\/cli"/);
  });

  it('the api package may not import gRPC or ONNX Runtime', async () => {
    const grpc = await boundaryErrors('packages/api/src/fixture.ts', "import { Server } from '@grpc/grpc-js';\nexport const x = Server;\n");
    expect(grpc.join('\n')).toMatch(/@grpc\/grpc-js/);
    const ort = await boundaryErrors('packages/api/src/fixture.ts', "import * as ort from 'onnxruntime-node';\nexport const x = ort;\n");
    expect(ort.join('\n')).toMatch(/onnxruntime-node/);
  });

  it('a plugin may not import the engine (plugins stay free of ONNX Runtime)', async () => {
    const errors = await boundaryErrors('packages/plugins/amd/src/fixture.ts', "import * as e from '@slmops/engine';\nexport const x = e;\n");
    expect(errors.join('\n')).toMatch(/type:plugin/);
  });

  it('the CLI, the umbrella binary, may use the client API of an app (ADR 0003)', async () => {
    // Imported lazily, as the CLI does (a command loads only what it uses; Nx forbids mixing static and lazy).
    const code = "export const x = async () => (await import('@slmops/sidecar')).remoteGenerationSource;\n";
    expect(await boundaryErrors('packages/cli/src/fixture.ts', code)).toEqual([]);
  });

  it('product code may not import the test-only kube emulator, tests may', async () => {
    const code = "import { startEmulator } from '@slmops/kube-emulator';\nexport const x = startEmulator;\n";
    expect((await boundaryErrors('packages/cli/src/fixture.ts', code)).join('\n')).toMatch(/type:cli/);
    expect(await boundaryErrors('packages/cli/test/fixture.test.ts', code)).toEqual([]);
  });

  it('a legal import passes', async () => {
    expect(await boundaryErrors('packages/cli/src/fixture.ts', "import { KIND } from '@slmops/api';\nexport const x = KIND;\n")).toEqual([]);
  });
});

describe('package conventions', () => {
  const dirs = ['packages', 'packages/plugins', 'tests']
    .flatMap((d) => (existsSync(join(root, d)) ? readdirSync(join(root, d)).map((p) => join(d, p)) : []))
    .filter((d) => existsSync(join(root, d, 'package.json')));

  it.each(dirs)('%s has a tag, pinned dependencies and the standard targets', (dir) => {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    expect(pkg.name).toMatch(/^@slmops\//);
    expect(pkg.type).toBe('module');
    expect(pkg.nx?.tags?.some((t: string) => t.startsWith('type:'))).toBe(true);
    for (const [name, version] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies } as Record<string, string>)) {
      if (name.startsWith('@slmops/')) expect(version).toBe('*');
      else expect(version, `${dir}: ${name} must be pinned`).toMatch(/^\d+\.\d+\.\d+/);
    }
    for (const target of ['lint', 'typecheck', 'test']) expect(pkg.scripts?.[target], `${dir}: ${target}`).toBeTruthy();
    expect(pkg.scripts?.test).not.toMatch(/bench/);
  });

  it('pins the root toolchain exactly', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    for (const [name, version] of Object.entries(pkg.devDependencies as Record<string, string>)) {
      expect(version, name).toMatch(/^\d+\.\d+\.\d+$/);
    }
  });
});
