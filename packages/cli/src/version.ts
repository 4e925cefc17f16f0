/** The CLI's version: the one in packages/cli/package.json (dist/ and src/ both sit one level below it). */
import { createRequire } from 'node:module';

export function cliVersion(): string {
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
}
