// Module boundaries of ARCHITECTURE.md, enforced by @nx/enforce-module-boundaries on the project graph.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const kubeClient = '@kubernetes/client-node';
const grpc = ['@grpc/grpc-js', '@grpc/proto-loader', '@grpc/reflection'];

/** Product dependency rules: which tags a project may import, and which npm packages it may not. */
const productConstraints = [
  { sourceTag: 'type:api', onlyDependOnLibsWithTags: [], bannedExternalImports: [...grpc, 'onnxruntime-node', 'prom-client', kubeClient] },
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:api', 'type:lib'], bannedExternalImports: [...grpc, kubeClient] },
  { sourceTag: 'type:sdk', onlyDependOnLibsWithTags: ['type:api'], bannedExternalImports: [...grpc, kubeClient] },
  { sourceTag: 'type:plugin', onlyDependOnLibsWithTags: ['type:api', 'type:sdk'], bannedExternalImports: [...grpc, kubeClient] },
  { sourceTag: 'type:io', onlyDependOnLibsWithTags: ['type:api'], bannedExternalImports: [...grpc, 'onnxruntime-node'] },
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:api', 'type:lib', 'type:sdk', 'type:plugin', 'type:io'] },
  // The `slmops` CLI is the umbrella binary: it may use the apps' public client APIs (ADR 0003); nothing may use it.
  { sourceTag: 'type:cli', onlyDependOnLibsWithTags: ['type:api', 'type:lib', 'type:sdk', 'type:plugin', 'type:io', 'type:app'], bannedExternalImports: ['onnxruntime-node'] },
  { sourceTag: 'scope:operator', bannedExternalImports: [...grpc, 'onnxruntime-node'] },
  { sourceTag: 'type:test', onlyDependOnLibsWithTags: ['type:api', 'type:lib', 'type:sdk', 'type:plugin', 'type:io'] },
  // End-to-end suites drive every binary, the CLI included; no product tag lists type:cli, so nothing else may use it.
  { sourceTag: 'type:e2e', onlyDependOnLibsWithTags: ['*'] },
];

/** Tests may also use test-only packages (the kube emulator); product code never may. */
const testConstraints = productConstraints.map((c) =>
  c.onlyDependOnLibsWithTags && !c.onlyDependOnLibsWithTags.includes('*')
    ? { ...c, onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, 'type:test'] }
    : c,
);

const boundaries = (depConstraints) => ({
  '@nx/enforce-module-boundaries': [
    'error',
    { enforceBuildableLibDependency: false, allow: [], depConstraints, checkDynamicDependenciesExceptions: [] },
  ],
});

const testFiles = ['**/*.test.ts', '**/test/**/*.ts'];

export default [
  { ignores: ['**/dist/**', '**/node_modules/**', '**/tmp/**', '**/.nx/**', '**/coverage/**', '**/*.generated.ts'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mjs', '**/*.js'],
    plugins: { '@nx': nx },
    rules: {
      ...boundaries(productConstraints),
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  { files: testFiles, rules: boundaries(testConstraints) },
  // Build configuration shares the workspace's Vitest settings; it is not part of any package's code.
  { files: ['**/vitest.config.ts', '**/vitest.*.config.ts'], rules: { '@nx/enforce-module-boundaries': 'off' } },
];
