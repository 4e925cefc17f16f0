/**
 * The dependency closure of a workspace package, read from package.json files and package-lock.json the way npm
 * resolves them (nested node_modules first, then each parent's), so a test can say what an image must contain.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface LockEntry {
  link?: boolean;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export interface Closure {
  /** Workspace folders (e.g. `packages/api`) the package needs at run time, itself included. */
  workspaces: string[];
  /** npm package names it needs at run time (workspace packages excluded). */
  external: string[];
}

/** Run-time closure of the workspace at `folder` (e.g. `packages/operator`): dependencies, optional and required peers. */
export function runtimeClosure(root: string, folder: string): Closure {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const entries = lock.packages;
  const workspaces = new Set<string>();
  const external = new Set<string>();
  const seen = new Set<string>();
  const resolve = (from: string, name: string): string | undefined => {
    for (let dir = from; ; ) {
      const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
      if (entries[candidate]) return candidate;
      if (!dir) return undefined;
      // `a/node_modules/b` -> `a`; `node_modules/b` and a workspace folder -> the root.
      const cut = dir.lastIndexOf('node_modules/');
      dir = cut > 0 ? dir.slice(0, cut - 1) : '';
    }
  };
  const visit = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    const entry = entries[path];
    if (!entry) throw new Error(`package-lock.json has no entry ${path}`);
    if (entry.link) return visit(entry.resolved!);
    if (path.startsWith('node_modules/') || path.includes('/node_modules/')) external.add(path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    else workspaces.add(path);
    const peers = Object.keys(entry.peerDependencies ?? {}).filter((p) => !entry.peerDependenciesMeta?.[p]?.optional);
    for (const name of [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {}), ...peers]) {
      const target = resolve(path, name);
      // An optional dependency for another platform is absent from the lock's tree; a required one is an error.
      if (!target) {
        if (entry.optionalDependencies?.[name]) continue;
        throw new Error(`${path} depends on ${name}, which package-lock.json does not resolve`);
      }
      visit(target);
    }
  };
  visit(folder);
  return { workspaces: [...workspaces].sort(), external: [...external].sort() };
}
