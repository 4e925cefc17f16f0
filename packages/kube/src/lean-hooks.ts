/**
 * Module hooks behind `registerLeanClientNode` (lean.ts). They change one import edge: client-node's
 * `dist/config.js` (KubeConfig) imports its generated client's index, which loads every API class and model, for
 * two names used only by `KubeConfig.makeApiClient`. That edge is resolved to a small module that re-exports
 * those two names from the same generated files, so they stay the very same classes; any other importer of the
 * index, client-node's own index included, still gets the whole generated client.
 *
 * The hooks are synchronous-compatible (they return what the next hook returns), so they work both off-thread
 * through `module.register` and in-thread.
 */

const CONFIG_MODULE = '/@kubernetes/client-node/dist/config.js';
const GENERATED_INDEX = './gen/index.js';
/** Marks the lean stand-in; beside the real index, so its relative imports name the same module URLs. */
const LEAN_QUERY = '?slmops-lean';
/**
 * Everything @kubernetes/client-node 2.0.1's config.js imports from './gen/index.js'. Should a later version
 * import another name, linking config.js fails with "does not provide an export named …" (and test/lean.test.ts
 * with it), never silently.
 */
const LEAN_SOURCE = `export { createConfiguration } from './configuration.js';\nexport { ServerConfiguration } from './servers.js';\n`;

interface ResolveContext {
  parentURL?: string | undefined;
}
interface Resolved {
  url: string;
  shortCircuit?: boolean;
}
interface Loaded {
  format: string;
  source?: string;
  shortCircuit?: boolean;
}

export function resolve<C extends ResolveContext, R>(specifier: string, context: C, nextResolve: (specifier: string, context: C) => R): R | Resolved {
  if (specifier === GENERATED_INDEX && context.parentURL?.endsWith(CONFIG_MODULE)) {
    return { url: new URL(specifier, context.parentURL).href + LEAN_QUERY, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export function load<C, L>(url: string, context: C, nextLoad: (url: string, context: C) => L): L | Loaded {
  if (url.endsWith(`/gen/index.js${LEAN_QUERY}`)) return { format: 'module', source: LEAN_SOURCE, shortCircuit: true };
  return nextLoad(url, context);
}
