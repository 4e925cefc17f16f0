/** Runs the real kubectl or helm against an emulator and returns what it printed. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ToolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Text for stdin (e.g. a manifest for `apply -f -`). */
  input?: string;
  /** Kill the process after this long (default 30 s); `code` is then null. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Called for every stdout chunk (for `get --watch`). */
  onStdout?: (text: string) => void;
}

/** Runs a binary to completion, never throwing on a non-zero exit. */
export function runTool(binary: string, args: readonly string[], options: RunOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env: options.env ?? { PATH: process.env['PATH'] ?? '', HOME: tmpdir() }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      options.onStdout?.(d);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A kubectl bound to one kubeconfig, with its own discovery cache so CRD changes are seen at once. */
export function kubectlFor(kubectl: string, kubeconfig: string): (args: readonly string[], options?: RunOptions) => Promise<ToolResult> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'kubectl-cache-'));
  return (args, options) => runTool(kubectl, ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args], options);
}
