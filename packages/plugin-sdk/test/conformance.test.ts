import { describe, expect, it } from 'vitest';
import { defineHardwarePlugin, readNode, type HardwarePlugin } from '../src/index.js';
import { describeHardwarePluginConformance, detectionProblems, garbageValue, mulberry32, mutateNode, nodeFactories, qualcommEdgeNode } from '../src/testing/index.js';

/** An example plugin written as a plugin author would: detects boards labelled slmops.io/accelerator=example. */
const example = (): HardwarePlugin =>
  defineHardwarePlugin({
    name: 'example',
    precisions: ['int8', 'fp32'],
    detect(node) {
      const f = readNode(node);
      return f.labels['slmops.io/accelerator'] === 'example' ? { plugin: 'example', device: { kind: 'npu', vendor: 'example', count: 1, arch: f.arch, attributes: {} }, evidence: ['label'] } : null;
    },
    schedule: (req) => ({ resources: { limits: { ...Object.fromEntries(Object.entries(req.resources?.limits ?? {}).map(([k, v]) => [k, String(v)])) }, requests: Object.fromEntries(Object.entries(req.resources?.requests ?? {}).map(([k, v]) => [k, String(v)])) }, nodeSelector: { 'slmops.io/accelerator': 'example' }, tolerations: [], env: [], threads: 1 }),
    executionProviders: () => [{ name: 'cpu' }],
  });

describeHardwarePluginConformance(example, { detects: [qualcommEdgeNode({ name: 'ex-1', labels: { 'slmops.io/accelerator': 'example' } })], fuzzRuns: 200 });

describe('conformance building blocks', () => {
  it('the fuzzer is seeded: same seed, same values', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 50 }, () => JSON.stringify(garbageValue(a, 4)) ?? 'undefined');
    const ys = Array.from({ length: 50 }, () => JSON.stringify(garbageValue(b, 4)) ?? 'undefined');
    expect(xs).toEqual(ys);
    expect(new Set(xs).size).toBeGreaterThan(10);
  });

  it('mutateNode changes a copy, never the original', () => {
    const node = nodeFactories['nvidia-gpu']();
    const before = JSON.stringify(node);
    const random = mulberry32(7);
    const mutated = Array.from({ length: 20 }, () => JSON.stringify(mutateNode(node, random)));
    expect(JSON.stringify(node)).toBe(before);
    expect(mutated.some((m) => m !== before)).toBe(true);
  });

  it('detectionProblems finds what the suite must reject', () => {
    const good = example().detect(qualcommEdgeNode({ labels: { 'slmops.io/accelerator': 'example' } }))!;
    expect(detectionProblems(good, 'example')).toEqual([]);
    expect(detectionProblems({ ...good, plugin: 'other' }, 'example')).toEqual(['plugin is "other", expected "example"']);
    expect(detectionProblems({ ...good, evidence: [] }, 'example')).toEqual(['evidence must be a non-empty string list']);
    expect(detectionProblems({ ...good, variant: 'Bad_Variant' }, 'example')).toEqual(['variant "Bad_Variant" is not a DNS label']);
    expect(detectionProblems({ ...good, device: { ...good.device, count: NaN } }, 'example')).toEqual(['device.count NaN must be a finite number >= 0']);
    expect(detectionProblems({ ...good, device: { ...good.device, kind: 'tpu' as never } }, 'example')).toEqual(['device.kind "tpu" is not cpu, gpu, igpu or npu']);
  });
});

describe('the suite catches broken plugins', () => {
  it('fails exactly the rules each broken plugin breaks', async () => {
    const { execFile } = await import('node:child_process');
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const out = mkdtempSync(join(tmpdir(), 'slmops-conformance-'));
    try {
      const vitest = join(import.meta.dirname, '../../../node_modules/vitest/vitest.mjs');
      const config = join(import.meta.dirname, 'fixtures/vitest.fixture.config.ts');
      await new Promise<void>((resolve) => {
        execFile(process.execPath, [vitest, 'run', '--config', config, '--reporter=json', `--outputFile=${join(out, 'r.json')}`], { timeout: 60_000 }, () => resolve());
      });
      const report = JSON.parse(readFileSync(join(out, 'r.json'), 'utf8')) as { testResults: Array<{ assertionResults: Array<{ fullName: string; status: string }> }> };
      const failed = report.testResults.flatMap((f) => f.assertionResults).filter((a) => a.status === 'failed').map((a) => a.fullName).sort();
      expect(failed).toEqual([
        'hardware plugin conformance: bad-patch schedule() returns schema-valid, deterministic patches for every detected device and precision',
        'hardware plugin conformance: cpu-not-last executionProviders() lists known providers once each, in priority order, ending in cpu',
        'hardware plugin conformance: flaky schedule() returns schema-valid, deterministic patches for every detected device and precision',
        'hardware plugin conformance: partial detect() is total: 200 arbitrary objects and mutated nodes (seed 24301)',
      ]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
