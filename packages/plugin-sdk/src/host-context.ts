/** The real HostContext over node:fs and node:child_process, built once in an app's main.ts. */
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecResult, HostContext } from './public-api.js';

const DEFAULT_TIMEOUT_MS = 5_000;
const MAX_OUTPUT = 4 * 1024 * 1024;

export interface HostContextOptions {
  /**
   * Prefix for every file path, e.g. "/host" when a DaemonSet mounts the node's /proc and /sys under /host;
   * default "/" (this machine's own files).
   */
  root?: string;
}

/** A HostContext that reads this machine's files and runs its programs (no shell). */
export function createHostContext(options: HostContextOptions = {}): HostContext {
  const root = options.root ?? '/';
  const at = (path: string): string => (root === '/' ? path : join(root, path));
  return {
    async readFile(path) {
      try {
        return await readFile(at(path), 'utf8');
      } catch {
        return undefined;
      }
    },
    async readDir(path) {
      try {
        return (await readdir(at(path))).sort();
      } catch {
        return [];
      }
    },
    exec(file, args, options = {}) {
      return new Promise<ExecResult>((resolve) => {
        execFile(file, [...args], { timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBuffer: MAX_OUTPUT, encoding: 'utf8' }, (error, stdout, stderr) => {
          if (!error) return resolve({ exitCode: 0, stdout, stderr });
          const err = error as NodeJS.ErrnoException & { code?: string | number; killed?: boolean };
          const exitCode = typeof err.code === 'number' ? err.code : null;
          const reason = typeof err.code === 'string' ? err.code : err.killed ? 'ETIMEDOUT' : undefined;
          resolve({ exitCode, stdout: stdout ?? '', stderr: stderr ?? '', ...(reason ? { error: reason } : {}) });
        });
      });
    },
  };
}
