import { createHostContext, type HostContext } from '@slmops/plugin-sdk';

/**
 * A HostContext whose /sys and /proc paths read from the given roots (the host's, mounted into the DaemonSet pod,
 * or fixture trees in tests); other paths and exec go to this machine.
 */
export function createNodeHostContext(roots: { sysfsRoot: string; procfsRoot: string }): HostContext {
  const local = createHostContext();
  const rebase = (path: string): string => {
    for (const [prefix, root] of [['/sys', roots.sysfsRoot], ['/proc', roots.procfsRoot]] as const) {
      if (path === prefix || path.startsWith(`${prefix}/`)) return root.replace(/\/+$/, '') + path.slice(prefix.length);
    }
    return path;
  };
  return {
    readFile: (path) => local.readFile(rebase(path)),
    readDir: (path) => local.readDir(rebase(path)),
    exec: (file, args, options) => local.exec(file, args, options),
  };
}
