/** The pure parts of `kubectl slm`: kubectl's duration formats, rollout verdicts, pod choice, top arithmetic, undo target. */
import { describe, expect, it } from 'vitest';
import { recentEvents, type CoreEvent } from '../src/kubectl-slm/describe.js';
import { choosePod } from '../src/kubectl-slm/generate.js';
import { commandFirst, parseDurationFlag } from '../src/kubectl-slm/options.js';
import { labelValue } from '@slmops/api';
import { type PodObject, podSelector } from '../src/kubectl-slm/pods.js';
import { humanDuration, table, type SlmdObject } from '../src/kubectl-slm/printers.js';
import { rolloutVerdict, undoTarget, type RevisionObject } from '../src/kubectl-slm/rollout.js';
import { SCRAPE_LIMITS } from '@slmops/metrics';
import { counterDelta, scrapeLimits, summarize, topCommand, type PodCounters } from '../src/kubectl-slm/top.js';

describe('humanDuration (k8s.io/apimachinery duration.HumanDuration)', () => {
  it.each([
    [-5_000, '<invalid>'],
    [-1_500, '0s'],
    [0, '0s'],
    [119_000, '119s'],
    [120_000, '2m'],
    [125_000, '2m5s'],
    [9 * 60_000 + 59_000, '9m59s'],
    [179 * 60_000, '179m'],
    [3 * 3_600_000 + 5 * 60_000, '3h5m'],
    [8 * 3_600_000, '8h'],
    [47 * 3_600_000, '47h'],
    [3 * 86_400_000 + 4 * 3_600_000, '3d4h'],
    [30 * 86_400_000, '30d'],
    [(2 * 365 + 30) * 86_400_000, '2y30d'],
    [9 * 365 * 86_400_000, '9y'],
  ])('%d ms -> %s', (ms, text) => expect(humanDuration(ms)).toBe(text));
});

it('commandFirst moves global flags written before the command behind it, values and all', () => {
  expect(commandFirst(['--kubeconfig', 'k', '-n', 'edge', 'get', '-o', 'wide'])).toEqual(['get', '--kubeconfig', 'k', '-n', 'edge', '-o', 'wide']);
  expect(commandFirst(['--context=c', '-A', 'rollout', 'status', 'x'])).toEqual(['rollout', 'status', '--context=c', '-A', 'x']);
  expect(commandFirst(['get', '--kubeconfig', 'k'])).toEqual(['get', '--kubeconfig', 'k']);
  expect(commandFirst(['--bogus', 'get'])).toEqual(['--bogus', 'get']);
  expect(commandFirst(['--kubeconfig', 'k'])).toEqual(['--kubeconfig', 'k']);
});

it('parseDurationFlag reads kubectl durations and names the flag when it cannot', () => {
  expect(parseDurationFlag('timeout', '1h30m')).toBe(5_400_000);
  expect(parseDurationFlag('timeout', '250ms')).toBe(250);
  expect(parseDurationFlag('timeout', '0')).toBe(0);
  expect(() => parseDurationFlag('timeout', '5 minutes')).toThrow('--timeout must be a duration');
});

it('table pads every column but the last, three spaces apart', () => {
  expect(table(['A', 'BB'], [['xxx', 'y'], ['z', '']])).toBe('A     BB\nxxx   y\nz');
});

const slmd = (generation: number, status: SlmdObject['status']): SlmdObject => ({
  apiVersion: 'slmops.io/v1alpha1',
  kind: 'SLMDeployment',
  metadata: { name: 'd', generation },
  spec: { rollout: { waves: [{ percent: 50 }, { percent: 100 }] } as SlmdObject['spec']['rollout'] },
  ...(status ? { status } : {}),
});

describe('rolloutVerdict', () => {
  it('waits until the operator has observed the generation, whatever the phase says', () => {
    expect(rolloutVerdict(slmd(2, { observedGeneration: 1, rollout: { phase: 'Complete' } }))).toEqual({ done: false, message: 'Waiting for slmdeployment "d" spec update to be observed...' });
    expect(rolloutVerdict(slmd(1, undefined)).done).toBe(false);
  });
  it('Complete succeeds, RolledBack and Failed fail with the message, the rest report progress', () => {
    expect(rolloutVerdict(slmd(1, { observedGeneration: 1, rollout: { phase: 'Complete' } }))).toMatchObject({ done: true, ok: true });
    expect(rolloutVerdict(slmd(1, { observedGeneration: 1, rollout: { phase: 'Failed', message: 'digest mismatch' } }))).toEqual({ done: true, ok: false, message: 'slmdeployment "d" rollout Failed: digest mismatch' });
    expect(rolloutVerdict(slmd(1, { observedGeneration: 1, rollout: { phase: 'RolledBack' } }))).toMatchObject({ done: true, ok: false });
    expect(rolloutVerdict(slmd(1, { observedGeneration: 1, rollout: { wave: 1, phase: 'Paused', updatedPercent: 50 }, nodes: { desired: 4, updated: 2, ready: 3, offline: 1 } })).message).toBe(
      'Waiting for slmdeployment "d" rollout: wave 1/2, phase Paused, 50% updated (2 of 4 pods updated, 3 ready, 1 offline)...',
    );
  });
  it('never reports success for 0 desired pods: it fails and names the selector and plugins that matched nothing', () => {
    const none = { desired: 0, updated: 0, ready: 0, offline: 0 };
    const fleet = { ...slmd(1, { observedGeneration: 1, rollout: { phase: 'Complete' }, nodes: none }) };
    fleet.spec = { ...fleet.spec, placement: { mode: 'Fleet', nodeSelector: { 'node-role.slmops.io/edge': 'true' } }, hardware: { plugins: ['cpu'] } } as SlmdObject['spec'];
    expect(rolloutVerdict(fleet)).toEqual({
      done: true,
      ok: false,
      message: 'slmdeployment "d" has nothing to roll out: 0 nodes are desired: no node both matches spec.placement.nodeSelector node-role.slmops.io/edge=true and can be served by the plugins cpu (check `kubectl get nodes --show-labels`)',
    });
    const replicated = { ...slmd(1, { observedGeneration: 1, rollout: { phase: 'Complete' }, replicas: 0 }) };
    replicated.spec = { ...replicated.spec, placement: { mode: 'Replicated', replicas: 0 } } as SlmdObject['spec'];
    expect(rolloutVerdict(replicated)).toMatchObject({ done: true, ok: false, message: 'slmdeployment "d" has nothing to roll out: spec.placement.replicas is 0' });
    expect(rolloutVerdict(slmd(1, { observedGeneration: 1, rollout: { phase: 'Complete' }, nodes: { ...none, desired: 1, updated: 1, ready: 1 } }))).toMatchObject({ done: true, ok: true });
  });
});

const pod = (name: string, o: { ready?: boolean; deleting?: boolean; ip?: string } = {}): PodObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
  status: { phase: 'Running', ...(o.ip === '' ? {} : { podIP: o.ip ?? '10.0.0.1' }), conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
});

it('choosePod takes the first serving pod by name, skipping unready, terminating and IP-less pods', () => {
  const pods = [pod('d-e'), pod('d-a', { ready: false }), pod('d-b', { deleting: true }), pod('d-c', { ip: '' }), pod('d-d')];
  expect(choosePod(pods)?.metadata.name).toBe('d-d');
  expect(choosePod(pods, 'd-e')?.metadata.name).toBe('d-e');
  expect(choosePod(pods, 'd-a')).toBeUndefined();
});

describe('top arithmetic', () => {
  const c = (requests: number, errors: number, tokens: number, inferenceSeconds: number, ttft: [number, number][]): PodCounters => ({
    requests,
    errors,
    tokens,
    inferenceSeconds,
    ttft: ttft.map(([upperBound, count]) => ({ upperBound, count })),
  });
  const inf = Number.POSITIVE_INFINITY;
  it('sums pods of a class; tokens/s is per inference second without a window', () => {
    const row = summarize({ namespace: 'n', name: 'd', nodeClass: 'cpu' }, 3, [c(4, 1, 30, 2, [[0.1, 2], [1, 4], [inf, 4]]), c(6, 0, 30, 4, [[0.1, 6], [1, 6], [inf, 6]])], 0);
    expect(row).toMatchObject({ pods: 3, scraped: 2, requests: 10, errors: 1, tokensPerSecond: 10 });
    expect(row.ttftP50Seconds).toBeCloseTo(0.1 * (5 / 8));
    expect(row.ttftP95Seconds).toBeCloseTo(0.1 + 0.9 * ((9.5 - 8) / 2));
  });
  it('a window subtracts the first scrape and divides by wall time; a restarted pod counts from zero', () => {
    const d = counterDelta(c(4, 1, 30, 2, [[0.1, 2], [inf, 4]]), c(6, 1, 50, 3, [[0.1, 3], [inf, 6]]));
    expect(d).toEqual(c(2, 0, 20, 1, [[0.1, 1], [inf, 2]]));
    expect(summarize({ namespace: 'n', name: 'd', nodeClass: 'cpu' }, 1, [d], 4).tokensPerSecond).toBe(5);
    const restarted = c(1, 0, 5, 1, [[inf, 1]]);
    expect(counterDelta(c(4, 1, 30, 2, []), restarted)).toBe(restarted);
  });
});

it('recentEvents keeps this object\'s newest events, oldest first', () => {
  const ev = (name: string, at: string, uid = 'u1'): CoreEvent => ({ apiVersion: 'v1', kind: 'Event', metadata: { name }, lastTimestamp: at, involvedObject: { uid } });
  const events = [ev('c', '2026-01-01T00:03:00Z'), ev('a', '2026-01-01T00:01:00Z'), ev('old', '2026-01-01T00:00:00Z', 'u0'), ev('b', '2026-01-01T00:02:00Z')];
  expect(recentEvents(events, 'u1').map((e) => e.metadata.name)).toEqual(['a', 'b', 'c']);
  expect(recentEvents(events, 'u1', 2).map((e) => e.metadata.name)).toEqual(['b', 'c']);
  const sameSecond = [{ ...ev('second', '2026-01-01T00:05:00Z'), metadata: { name: 'second', resourceVersion: '20' } }, { ...ev('first', '2026-01-01T00:05:00Z'), metadata: { name: 'first', resourceVersion: '9' } }];
  expect(recentEvents(sameSecond, 'u1').map((e) => e.metadata.name)).toEqual(['first', 'second']);
});

it('undoTarget picks the newest revision other than the one being rolled out, or the one asked for', () => {
  const rev = (n: number, hash: string): RevisionObject => ({ apiVersion: 'apps/v1', kind: 'ControllerRevision', metadata: { name: `r${n}`, labels: { 'slmops.io/revision': hash } }, revision: n });
  const history = [rev(1, 'h1'), rev(2, 'h2'), rev(3, 'h3')];
  expect(undoTarget(slmd(1, { updateRevision: 'h3' }), history).revision).toBe(2);
  expect(undoTarget(slmd(1, { updateRevision: 'h2' }), history).revision).toBe(3);
  expect(undoTarget(slmd(1, { updateRevision: 'h3' }), history, 1).revision).toBe(1);
  expect(() => undoTarget(slmd(1, {}), history)).toThrow('has no status.updateRevision');
});

describe('podSelector', () => {
  it('selects a 70-character deployment by the hashed label value the operator writes', () => {
    const name = `edge-${'x'.repeat(65)}`;
    expect(podSelector(name)).toBe(`slmops.io/deployment=${labelValue(name)}`);
    expect(podSelector(name)).not.toContain(name);
    expect(podSelector('stories')).toBe('slmops.io/deployment=stories');
    expect(podSelector()).toBe('slmops.io/deployment');
  });
});

describe('top scrape limits', () => {
  const flags = (over: Record<string, string> = {}) => ({ 'scrape-timeout': '5s', 'scrape-stall-timeout': '5s', 'scrape-max-bytes': '4Mi', ...over });
  it('defaults are the shared scrape limits; flags override each one', () => {
    const defaults = Object.fromEntries(Object.entries(topCommand.options).filter(([k]) => k.startsWith('scrape-')).map(([k, o]) => [k, String(o.default)]));
    expect(scrapeLimits(defaults)).toEqual(SCRAPE_LIMITS);
    expect(scrapeLimits(flags({ 'scrape-timeout': '2s', 'scrape-stall-timeout': '250ms', 'scrape-max-bytes': '64Ki' }))).toEqual({ maxBytes: 65536, connectTimeoutMs: 2000, stallTimeoutMs: 250 });
  });
  it('refuses sizes and durations it cannot use, naming the flag', () => {
    expect(() => scrapeLimits(flags({ 'scrape-max-bytes': 'lots' }))).toThrow(/--scrape-max-bytes/);
    expect(() => scrapeLimits(flags({ 'scrape-stall-timeout': '0s' }))).toThrow('--scrape-stall-timeout must be greater than zero');
    expect(() => scrapeLimits(flags({ 'scrape-timeout': 'soon' }))).toThrow(/--scrape-timeout must be a duration/);
  });
});
