import { packageTestConfig } from '../../vitest.shared.js';

/** The README's "Working in the repo" block (test/readme.test.ts), run by `scripts/test.mjs` once every other suite is done. */
export default packageTestConfig(import.meta.dirname, { include: ['test/readme.test.ts'], report: '@slmops/cli-readme' });
