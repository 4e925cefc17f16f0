import { packageTestConfig } from '../../vitest.shared.js';

// The README test builds the workspace and regenerates files other suites read: it runs alone, after them
// (target test-readme, vitest.readme.config.ts), never beside them.
export default packageTestConfig(import.meta.dirname, { exclude: ['test/readme.test.ts'] });
