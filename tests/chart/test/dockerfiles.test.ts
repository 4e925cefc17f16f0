/**
 * images/*.Dockerfile without a Docker engine: every path they COPY exists (from the build context, or in the
 * build stage after `nx run-many -t build`), the runtime stage holds exactly the app's workspace closure, only
 * the sidecar image can contain onnxruntime-node, and the entrypoint each names runs `--help`.
 */
import { runTool } from '@slmops/kube-emulator/testing';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type DockerStage, parseDockerfile } from '../src/dockerfile.js';
import { REPO_ROOT } from '../src/helm.js';
import { runtimeClosure } from '../src/workspace.js';

const apps = ['operator', 'exporter', 'sidecar'] as const;
const read = (app: string) => parseDockerfile(readFileSync(join(REPO_ROOT, 'images', `${app}.Dockerfile`), 'utf8'));
const stageNamed = (stages: DockerStage[], name: string): DockerStage => {
  const s = stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage named ${name}`);
  return s;
};

describe('parseDockerfile', () => {
  it('reads stages, continuation lines, COPY flags and the ENTRYPOINT', () => {
    const d = parseDockerfile(
      ['ARG BASE=node:20', '# comment', 'FROM --platform=$BUILDPLATFORM ${BASE} AS build', 'WORKDIR /src', 'COPY a b \\', '  ./', 'RUN x \\', '  && y',
        'FROM scratch', 'COPY --from=build --chown=1:1 /src/a/ a/', 'USER 65532', 'ENTRYPOINT ["node", "a.js"]'].join('\n'),
    );
    expect(d.args).toEqual(['BASE']);
    expect(d.stages.map((s) => [s.name, s.base, s.platform])).toEqual([['build', '${BASE}', '$BUILDPLATFORM'], [undefined, 'scratch', undefined]]);
    expect(d.stages[0]!.copies).toEqual([{ line: 5, sources: ['a', 'b'], dest: './' }]);
    expect(d.stages[0]!.runs).toEqual(['x  && y']);
    expect(d.stages[1]!.copies).toEqual([{ line: 10, from: 'build', sources: ['/src/a/'], dest: 'a/' }]);
    expect(d.stages[1]!.entrypoint).toEqual(['node', 'a.js']);
    expect(() => parseDockerfile('RUN x')).toThrow(/line 1: RUN before the first FROM/);
  });
});

describe.each(apps)('images/%s.Dockerfile', (app) => {
  const file = read(app);
  const runtime = file.stages.at(-1)!;

  it('copies only paths that exist in the build context or in the build stage after the build', () => {
    const missing: string[] = [];
    for (const stage of file.stages) {
      for (const copy of stage.copies) {
        for (const src of copy.sources) {
          if (!copy.from) {
            if (!existsSync(join(REPO_ROOT, src))) missing.push(`line ${copy.line}: ${src} (build context)`);
            continue;
          }
          const from = stageNamed(file.stages, copy.from);
          const workdir = `${from.workdir ?? '/'}/`.replace(/\/+$/, '/');
          if (src.startsWith(workdir) && copy.from === 'build') {
            // The build stage copies the repository to its WORKDIR and builds there, so /src/x is the repo's x.
            const rel = src.slice(workdir.length);
            if (!existsSync(join(REPO_ROOT, rel))) missing.push(`line ${copy.line}: ${src} (repo ${rel} after the build)`);
          } else if (src.replace(/\/$/, '') !== from.workdir && !from.runs.some((r) => r.includes(`mkdir ${src.replace(/\/$/, '')}`))) {
            missing.push(`line ${copy.line}: ${src} is neither the WORKDIR of stage ${copy.from} nor made by one of its RUNs`);
          }
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('ships exactly the dist/ of every workspace package the app needs at run time', () => {
    const needed = runtimeClosure(REPO_ROOT, `packages/${app}`).workspaces;
    const shipped = runtime.copies
      .filter((c) => c.from === 'build')
      .flatMap((c) => c.sources)
      .map((s) => /^\/src\/(.+)\/dist\/$/.exec(s)?.[1])
      .filter((s): s is string => s !== undefined)
      .sort();
    expect(shipped).toEqual(needed);
  });

  it('is multi-stage, multi-arch ready and runs as uid 65532 on a small base', () => {
    expect(file.stages.length).toBeGreaterThanOrEqual(3);
    for (const s of file.stages.slice(0, -1)) expect(s.platform, s.name).toBe('$BUILDPLATFORM');
    expect(runtime.platform).toBeUndefined();
    expect(file.args).toContain('RUNTIME_IMAGE');
    const text = readFileSync(join(REPO_ROOT, 'images', `${app}.Dockerfile`), 'utf8');
    expect(text).toMatch(/ARG RUNTIME_IMAGE=gcr\.io\/distroless\/nodejs20-debian12:nonroot/);
    expect(text).not.toMatch(/x86_64|amd64\/|aarch64|linux-x64/);
    expect(runtime.user).toBe('65532:65532');
    const deps = stageNamed(file.stages, 'deps');
    expect(deps.runs.some((r) => r.includes('npm ci') && r.includes('--omit=dev') && r.includes(`--workspace @slmops/${app}`))).toBe(true);
  });

  it('contains onnxruntime-node only in the sidecar image', () => {
    const external = runtimeClosure(REPO_ROOT, `packages/${app}`).external;
    expect(external.includes('onnxruntime-node')).toBe(app === 'sidecar');
    if (app === 'sidecar') expect(runtime.copies.some((c) => !c.from && c.sources.includes('protos/'))).toBe(true);
    else expect(external.filter((e) => e.startsWith('@grpc/'))).toEqual([]);
  });

  it('names an entrypoint that runs --help and prints usage', async () => {
    const entry = runtime.entrypoint!;
    expect(entry[0]).toBe('/nodejs/bin/node');
    expect(entry[1]).toMatch(/^\/app\//);
    const script = join(REPO_ROOT, entry[1]!.slice('/app/'.length));
    expect(existsSync(script), `${script} exists`).toBe(true);
    const bins = (JSON.parse(readFileSync(join(REPO_ROOT, 'packages', app, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;
    expect(Object.values(bins).map((b) => join(REPO_ROOT, 'packages', app, b))).toContain(script);
    const r = await runTool(process.execPath, [script, '--help'], { timeoutMs: 30_000, env: { PATH: process.env['PATH'] ?? '' } });
    const out = r.stdout + r.stderr;
    // Reaching the usage text means the whole module graph loaded (an import failure exits 1 with a stack).
    expect(out).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find module/);
    expect(r.stdout).toMatch(new RegExp(`^Usage: slmops[- ](${app}|serve)\\b`));
    expect(r.code, out).toBe(0);
  });
});

describe('chart default images', () => {
  it('name the images these Dockerfiles build', () => {
    const values = parseYaml(readFileSync(join(REPO_ROOT, 'charts', 'slmops', 'values.yaml'), 'utf8')) as Record<string, { image: { repository: string } }>;
    for (const app of apps) {
      expect(values[app]!.image.repository).toBe(`ghcr.io/slmops/${app}`);
      expect(read(app).stages.at(-1)!.entrypoint![1]).toBe(`/app/packages/${app}/bin/slmops-${app}.js`);
    }
  });
});
