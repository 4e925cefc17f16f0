/**
 * Start-up cost of the CLI's light commands: `slmops validate -f examples/` and `kubectl slm get` (as
 * `node packages/cli/bin/kubectl-slm.js get`, against a kube emulator with one SLMDeployment) next to
 * `node -e 0`, best of 5 wall-clock runs each, on the same machine. Targets: validate <= 4x and get <= 8x
 * `node -e 0` (neither may load ONNX Runtime or the hardware plugins). Prints a Markdown table for
 * docs/BENCHMARKS.md.
 *
 *   npx nx run bench:cli-startup
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resources, startEmulator } from '@slmops/kube-emulator';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '../..');
const RUNS = 5;
const SLMOPS = join(ROOT, 'packages/cli/bin/slmops.js');
const KUBECTL_SLM = join(ROOT, 'packages/cli/bin/kubectl-slm.js');

/** Best (lowest) wall time in ms of RUNS runs of `node ...args`; every run must exit 0. Asynchronous, so the
 *  in-process emulator keeps answering while the child runs. */
async function best(args: string[]): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) =>
      execFile(process.execPath, args, { cwd: ROOT }, (e, _out, err) => (e ? reject(new Error(`node ${args.join(' ')}: ${e.message} ${err}`)) : resolve())),
    );
    min = Math.min(min, Number(process.hrtime.bigint() - t) / 1e6);
  }
  return min;
}

const emu = await startEmulator();
try {
  emu.store.create(resources.customresourcedefinitions, undefined, parse(readFileSync(join(ROOT, 'charts/slmops/crds/slmdeployments.slmops.io.yaml'), 'utf8')) as object);
  const slmd = parse(readFileSync(join(ROOT, 'examples/cpu-fleet.yaml'), 'utf8')) as object;
  emu.store.create({ group: 'slmops.io', version: 'v1alpha1', resource: 'slmdeployments' }, 'default', slmd);
  const baseline = await best(['-e', '0']);
  const rows: [string, number][] = [
    ['`node -e 0`', baseline],
    ['`slmops validate -f examples/`', await best([SLMOPS, 'validate', '-f', 'examples/'])],
    ['`kubectl slm get` (`node packages/cli/bin/kubectl-slm.js get`)', await best([KUBECTL_SLM, 'get', '--kubeconfig', emu.kubeconfigPath])],
  ];
  console.log(`| Command (best of ${RUNS}) | Wall time | vs \`node -e 0\` |\n| --- | --- | --- |`);
  for (const [what, ms] of rows) console.log(`| ${what} | ${ms.toFixed(0)} ms | ${(ms / baseline).toFixed(1)}x |`);
} finally {
  await emu.close();
}
