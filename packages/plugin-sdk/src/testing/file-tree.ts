/** Temporary directory trees standing in for /proc, /sys and /dev, read through a real HostContext. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createHostContext } from '../host-context.js';
import type { HostContext } from '../public-api.js';

export interface FileTree {
  root: string;
  /** Reads the tree as if it were "/" (exec runs real programs). */
  ctx: HostContext;
  /** Writes a file at an absolute-looking path such as "/sys/class/drm/card0/device/vendor". */
  write(path: string, text: string): void;
  remove(path: string): void;
  cleanup(): void;
}

export function createFileTree(files: Readonly<Record<string, string>> = {}): FileTree {
  const root = mkdtempSync(join(tmpdir(), 'slmops-tree-'));
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  for (const [path, text] of Object.entries(files)) write(path, text);
  return {
    root,
    ctx: createHostContext({ root }),
    write,
    remove: (path) => rmSync(join(root, path), { recursive: true, force: true }),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
