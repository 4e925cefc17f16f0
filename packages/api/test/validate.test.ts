import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { InvalidSLMDeploymentError, parseSLMDeployment, validateSLMDeployment } from '../src/index.js';
import { aSLMDeployment, DIGEST, type Manifest } from './fixtures.js';

const examplesDir = join(import.meta.dirname, '../../../examples');

describe('examples', () => {
  const files = readdirSync(examplesDir).filter((f) => f.endsWith('.yaml'));

  it('has the documented examples', () => {
    expect(files).toEqual(expect.arrayContaining(['cpu-fleet.yaml', 'mixed-fleet-waves.yaml', 'replicated-gpu-autoscaling.yaml']));
  });

  it.each(files)('%s validates, starts with a comment header and creates or names its namespace', (file) => {
    const text = readFileSync(join(examplesDir, file), 'utf8');
    expect(text.startsWith('# ')).toBe(true);
    const docs = parseAllDocuments(text).map((d) => d.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } });
    const namespaces = docs.filter((d) => d.kind === 'Namespace').map((d) => d.metadata?.name);
    const slmds = docs.filter((d) => d.kind === 'SLMDeployment');
    expect(slmds.length).toBeGreaterThan(0);
    expect(docs.filter((d) => d.kind !== 'Namespace' && d.kind !== 'SLMDeployment')).toEqual([]);
    for (const doc of slmds) {
      expect(validateSLMDeployment(doc)).toEqual([]);
      // `kubectl apply -f` on a fresh cluster must work: the namespace is default or created by the file itself.
      const ns = doc.metadata?.namespace;
      expect(ns === 'default' || namespaces.includes(ns), `${file}: namespace ${ns}`).toBe(true);
    }
  });
});

describe('defaults', () => {
  it('fills every defaulted field the way the API server would', () => {
    const d = parseSLMDeployment(aSLMDeployment());
    expect(d.spec.placement.mode).toBe('Fleet');
    expect(d.spec.hardware.plugins).toEqual(['cpu']);
    expect(d.spec.model.precisions).toEqual(['int8', 'fp16', 'fp32']);
    expect(d.spec.serving).toMatchObject({ port: 50051, metricsPort: 9464, maxBatchSize: 8, maxQueue: 64, maxTokens: 256 });
    expect(d.spec.serving.generationDefaults).toEqual({ temperature: 0.8, topP: 0.95, topK: 0, repetitionPenalty: 1 });
    // No default: an operator upgrade must not change every existing pod template (and roll them all).
    expect(d.spec.serving.streamInterval).toBeUndefined();
    expect(d.spec.rollout.waves.map((w) => w.percent)).toEqual([10, 50, 100]);
    expect(d.spec.rollout.analysis).toMatchObject({ interval: '1m', maxErrorRate: 0.05, minSamples: 20 });
    expect(d.spec.rollout.offline).toEqual({ treatAs: 'Pending', maxOfflinePercent: 20 });
    expect(d.spec.privacy).toEqual({ egress: 'Allow', requestLogging: 'None' });
    expect(d.spec.autoscaling).toBeUndefined();
  });

  it('keeps what the user set', () => {
    const d = parseSLMDeployment(
      aSLMDeployment((m) => {
        m.spec.rollout = { waves: [{ percent: 100 }], paused: true };
        m.spec.serving = { streamInterval: '20ms' };
      }),
    );
    expect(d.spec.serving.streamInterval).toBe('20ms');
    expect(d.spec.rollout.waves).toEqual([{ percent: 100 }]);
    expect(d.spec.rollout.paused).toBe(true);
    expect(d.spec.rollout.strategy).toBe('Waves');
  });

  it('throws an error listing every problem', () => {
    const bad = aSLMDeployment((m) => {
      m.spec.placement = { replicas: 2 };
      m.spec.serving = { port: 0 };
    });
    expect(() => parseSLMDeployment(bad)).toThrow(InvalidSLMDeploymentError);
    try {
      parseSLMDeployment(bad);
    } catch (e) {
      expect((e as InvalidSLMDeploymentError).problems.map((p) => p.path).sort()).toEqual(['spec.placement.replicas', 'spec.serving.port']);
    }
  });
});

type Case = [title: string, mod: (m: Manifest) => void, path: string, message: RegExp];

const broken: Case[] = [
  ['wrong apiVersion', (m) => (m.apiVersion = 'slmops.io/v1'), 'apiVersion', /must be slmops\.io\/v1alpha1/],
  ['wrong kind', (m) => (m.kind = 'Deployment'), 'kind', /must be SLMDeployment/],
  ['missing name', (m) => delete m.metadata.name, 'metadata.name', /Required value/],
  ['upper-case name', (m) => (m.metadata.name = 'Demo'), 'metadata.name', /RFC 1123 subdomain/],
  ['missing spec', (m) => delete m.spec, 'spec', /Required value/],
  ['missing model', (m) => delete m.spec.model, 'spec.model', /Required value/],
  ['missing model version', (m) => delete m.spec.model.version, 'spec.model.version', /Required value/],
  ['model name wrong type', (m) => (m.spec.model.name = 42), 'spec.model.name', /must be of type string, got integer/],
  ['model name not a DNS label', (m) => (m.spec.model.name = 'Stories_260K'), 'spec.model.name', /should match/],
  ['unknown spec field', (m) => (m.spec.replicas = 3), 'spec.replicas', /unknown field "spec\.replicas"/],
  ['unknown nested field', (m) => (m.spec.model.source.sha = 'x'), 'spec.model.source.sha', /unknown field/],
  ['missing digest for https', (m) => delete m.spec.model.source.digest, 'spec.model.source.digest', /digest is required unless uri is a file:\/\/ path/],
  ['malformed digest', (m) => (m.spec.model.source.digest = 'sha256:xyz'), 'spec.model.source.digest', /should match/],
  ['unsupported uri scheme', (m) => (m.spec.model.source.uri = 'ftp://host/m.tar'), 'spec.model.source.uri', /should match/],
  ['unknown precision', (m) => (m.spec.model.precisions = ['int8', 'bf16']), 'spec.model.precisions[1]', /Unsupported value: "bf16"/],
  ['duplicate precision', (m) => (m.spec.model.precisions = ['int8', 'int8']), 'spec.model.precisions[1]', /Duplicate value: "int8"/],
  ['replicas in Fleet mode', (m) => (m.spec.placement = { mode: 'Fleet', replicas: 2 }), 'spec.placement.replicas', /only allowed when mode is Replicated/],
  ['replicas with defaulted Fleet mode', (m) => (m.spec.placement = { replicas: 2 }), 'spec.placement.replicas', /only allowed when mode is Replicated/],
  ['negative replicas', (m) => (m.spec.placement = { mode: 'Replicated', replicas: -1 }), 'spec.placement.replicas', /greater than or equal to 0/],
  ['fractional replicas', (m) => (m.spec.placement = { mode: 'Replicated', replicas: 1.5 }), 'spec.placement.replicas', /must be of type integer, got number/],
  ['unknown placement mode', (m) => (m.spec.placement = { mode: 'Everywhere' }), 'spec.placement.mode', /supported values: "Fleet", "Replicated"/],
  ['waves not ending at 100', (m) => (m.spec.rollout = { waves: [{ percent: 10 }, { percent: 50 }] }), 'spec.rollout.waves', /last wave must be 100 percent/],
  ['waves decreasing', (m) => (m.spec.rollout = { waves: [{ percent: 50 }, { percent: 10 }, { percent: 100 }] }), 'spec.rollout.waves', /increase strictly/],
  ['wave percent over 100', (m) => (m.spec.rollout = { waves: [{ percent: 150 }] }), 'spec.rollout.waves[0].percent', /less than or equal to 100/],
  ['wave pause not a duration', (m) => (m.spec.rollout = { waves: [{ percent: 100, pause: 'ten minutes' }] }), 'spec.rollout.waves[0].pause', /should match/],
  ['too many waves', (m) => (m.spec.rollout = { waves: Array.from({ length: 11 }, (_, i) => ({ percent: (i + 1) * 9 })) }), 'spec.rollout.waves', /must have at most 10 items/],
  ['maxOfflinePercent over 100', (m) => (m.spec.rollout = { offline: { maxOfflinePercent: 120 } }), 'spec.rollout.offline.maxOfflinePercent', /less than or equal to 100/],
  ['maxErrorRate negative', (m) => (m.spec.rollout = { analysis: { maxErrorRate: -0.1 } }), 'spec.rollout.analysis.maxErrorRate', /greater than or equal to 0/],
  ['autoscaling in Fleet mode', (m) => (m.spec.autoscaling = { maxReplicas: 3 }), 'spec.autoscaling', /only allowed when placement\.mode is Replicated/],
  ['autoscaling min above max', (m) => {
    m.spec.placement = { mode: 'Replicated', replicas: 1 };
    m.spec.autoscaling = { minReplicas: 5, maxReplicas: 2 };
  }, 'spec.autoscaling.minReplicas', /minReplicas must not exceed maxReplicas/],
  ['autoscaling without maxReplicas', (m) => {
    m.spec.placement = { mode: 'Replicated' };
    m.spec.autoscaling = { minReplicas: 1 };
  }, 'spec.autoscaling.maxReplicas', /Required value/],
  ['maxTokens over contextLength', (m) => (m.spec.serving = { maxTokens: 1024, contextLength: 512 }), 'spec.serving.maxTokens', /must not exceed contextLength/],
  ['port out of range', (m) => (m.spec.serving = { port: 70000 }), 'spec.serving.port', /less than or equal to 65535/],
  ['streamInterval in minutes', (m) => (m.spec.serving = { streamInterval: '1m' }), 'spec.serving.streamInterval', /should match/],
  ['port equals metricsPort', (m) => (m.spec.serving = { port: 9000, metricsPort: 9000 }), 'spec.serving.metricsPort', /must differ/],
  ['bad quantity', (m) => (m.spec.serving = { resources: { limits: { cpu: 'two' } } }), 'spec.serving.resources.limits["cpu"]', /should match/],
  ['quantity of wrong type', (m) => (m.spec.serving = { resources: { limits: { cpu: true } } }), 'spec.serving.resources.limits["cpu"]', /integer or string, got boolean/],
  ['empty plugin list', (m) => (m.spec.hardware = { plugins: [] }), 'spec.hardware.plugins', /at least 1 items/],
  ['unknown plugin name', (m) => (m.spec.hardware = { plugins: ['nvidia gpu'] }), 'spec.hardware.plugins[0]', /Unsupported value: "nvidia gpu": supported values: "nvidia"/],
  ['override without labels', (m) => (m.spec.hardware = { overrides: [{ match: { labels: {} } }] }), 'spec.hardware.overrides[0].match.labels', /at least 1 properties/],
  ['override threads zero', (m) => (m.spec.hardware = { overrides: [{ match: { labels: { a: 'b' } }, threads: 0 }] }), 'spec.hardware.overrides[0].threads', /greater than or equal to 1/],
  ['duplicate override env', (m) => (m.spec.hardware = { overrides: [{ match: { labels: { a: 'b' } }, env: [{ name: 'X', value: '1' }, { name: 'X', value: '2' }] }] }), 'spec.hardware.overrides[0].env[1]', /Duplicate value: \{"name":"X"\}/],
  ['toleration with unknown effect', (m) => (m.spec.placement = { tolerations: [{ key: 'k', effect: 'Sometimes' }] }), 'spec.placement.tolerations[0].effect', /Unsupported value/],
  ['nodeSelector value not a string', (m) => (m.spec.placement = { nodeSelector: { gpu: true } }), 'spec.placement.nodeSelector["gpu"]', /must be of type string, got boolean/],
  ['privacy egress unknown', (m) => (m.spec.privacy = { egress: 'Maybe' }), 'spec.privacy.egress', /supported values: "Deny", "Allow"/],
  ['huge version string', (m) => (m.spec.model.version = 'v'.repeat(100_000)), 'spec.model.version', /Too long: may not be longer than 64/],
  ['huge uri', (m) => (m.spec.model.source.uri = `https://x/${'a'.repeat(5000)}`), 'spec.model.source.uri', /Too long/],
  ['temperature out of range', (m) => (m.spec.serving = { generationDefaults: { temperature: 3 } }), 'spec.serving.generationDefaults.temperature', /less than or equal to 2/],
  ['spec is a string', (m) => (m.spec = 'serve it'), 'spec', /must be of type object, got string/],
  ['paused not a boolean', (m) => (m.spec.rollout = { paused: 'yes' }), 'spec.rollout.paused', /must be of type boolean, got string/],
];

describe('broken manifests', () => {
  it('covers at least 20 distinct mistakes', () => {
    expect(new Set(broken.map(([, , path]) => path)).size).toBeGreaterThanOrEqual(20);
  });

  it.each(broken)('%s -> %s', (_title, mod, path, message) => {
    const problems = validateSLMDeployment(aSLMDeployment(mod));
    expect(problems.map((p) => p.path)).toContain(path);
    const atPath = problems.filter((p) => p.path === path);
    expect(atPath.some((p) => message.test(p.message)), JSON.stringify(problems)).toBe(true);
  });

  it('reports every problem at once, not only the first', () => {
    const problems = validateSLMDeployment(
      aSLMDeployment((m) => {
        m.spec.model.precisions = ['bf16'];
        m.spec.serving = { port: -1 };
        m.spec.extra = true;
      }),
    );
    expect(problems.map((p) => p.path).sort()).toEqual(['spec.extra', 'spec.model.precisions[0]', 'spec.serving.port']);
  });

  it('does not echo huge values back in messages', () => {
    const [problem] = validateSLMDeployment(aSLMDeployment((m) => (m.spec.model.version = 'v'.repeat(100_000))));
    expect(problem!.message.length).toBeLessThan(200);
  });

  it('rejects non-objects', () => {
    expect(validateSLMDeployment('kind: SLMDeployment')).toEqual([
      { path: '', type: 'TypeInvalid', message: 'an SLMDeployment must be a YAML/JSON object' },
    ]);
    expect(validateSLMDeployment(null)[0]!.path).toBe('');
  });

  it('accepts file:// sources without a digest and replicas in Replicated mode', () => {
    const ok = aSLMDeployment((m) => {
      m.spec.model.source = { uri: 'file:///models/stories' };
      m.spec.placement = { mode: 'Replicated', replicas: 3 };
      m.spec.autoscaling = { minReplicas: 1, maxReplicas: 3 };
    });
    expect(validateSLMDeployment(ok)).toEqual([]);
    expect(DIGEST).toMatch(/^sha256:/);
  });
});
