/** Runs the real helm v4 on charts/slmops and returns its output; never throws on a non-zero exit. */
import { runTool, type ToolResult } from '@slmops/kube-emulator/testing';
import { join } from 'node:path';

/** The repository root, from this file's place in tests/chart/src. */
export const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
export const CHART_DIR = join(REPO_ROOT, 'charts', 'slmops');

export interface RenderOptions {
  release?: string;
  namespace?: string;
  /** Values files, applied in order. */
  valuesFiles?: string[];
  /** `--set` pairs. */
  set?: string[];
  /** Extra API versions the cluster is said to serve (`--api-versions`). */
  apiVersions?: string[];
}

/** `helm template` of the chart with the given values. */
export function helmTemplate(helm: string, options: RenderOptions = {}): Promise<ToolResult> {
  const args = ['template', options.release ?? 'slmops', CHART_DIR, '--namespace', options.namespace ?? 'slmops-system'];
  for (const f of options.valuesFiles ?? []) args.push('--values', f);
  for (const s of options.set ?? []) args.push('--set', s);
  for (const v of options.apiVersions ?? []) args.push('--api-versions', v);
  return runTool(helm, args, { timeoutMs: 60_000 });
}

/** `helm lint --strict` of the chart with the given values files. */
export function helmLint(helm: string, valuesFiles: string[] = []): Promise<ToolResult> {
  return runTool(helm, ['lint', '--strict', CHART_DIR, ...valuesFiles.flatMap((f) => ['--values', f])], { timeoutMs: 60_000 });
}
