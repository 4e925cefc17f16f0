export { main, commands } from './main.js';
export type { CliContext, Command } from './context.js';
export { UsageError } from './context.js';
export { validateManifestText } from './commands/validate.js';
