/**
 * Shared Vitest settings for every package: resolve workspace packages to their TypeScript source and write a
 * JSON report per project that `scripts/test.mjs` sums into the closing `N passed, N failed` line.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig, type ViteUserConfig } from 'vitest/config';

const workspaceRoot = import.meta.dirname;
const sourceConditions = ['@slmops/source', 'node', 'import', 'module', 'default'];

/** `report` names the JSON report (default: the package name); a suite run by its own target needs its own. */
export function packageTestConfig(
  projectDir: string,
  overrides: { testTimeout?: number; include?: string[]; exclude?: string[]; report?: string } = {},
): ViteUserConfig {
  const name = (JSON.parse(readFileSync(resolve(projectDir, 'package.json'), 'utf8')) as { name: string }).name;
  return defineConfig({
    root: projectDir,
    resolve: { conditions: sourceConditions },
    ssr: { resolve: { conditions: sourceConditions, externalConditions: ['@slmops/source'] } },
    test: {
      name,
      environment: 'node',
      include: overrides.include ?? ['src/**/*.test.ts', 'test/**/*.test.ts'],
      ...(overrides.exclude ? { exclude: overrides.exclude } : {}),
      testTimeout: overrides.testTimeout ?? 20_000,
      hookTimeout: 60_000,
      reporters: ['default', 'json'],
      outputFile: { json: resolve(workspaceRoot, 'tmp/test-results', `${overrides.report ?? name}.json`) },
    },
  }) as ViteUserConfig;
}
