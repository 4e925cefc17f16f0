/**
 * Chaos scenarios against the real operator process on the kube emulator (issue 17's chaos harness): API-server
 * restarts with and without state, watch 410s, 409/429/500 on writes, kill -9 in each rollout phase, and a
 * hostile /metrics endpoint. Each scenario ends converged and with zero operator writes over two resync periods.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Labels } from '@slmops/api';
import { type Pod, resources } from '@slmops/kube-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChaosCluster, OPERATOR_CLIENT, fleetDeployment, startChaosCluster } from '../src/chaos.js';

const HOSTILE_BIN = join(import.meta.dirname, '../src/hostile-metrics.mjs');
/** Fast analysis that needs no samples: simulated pods have no /metrics, and that must not hold a rollout. */
const FAST = { strategy: 'Waves', waves: [{ percent: 100 }], analysis: { interval: '1s', minSamples: 0 } };
/** Two waves with analysis and a pause, so a rollout goes through Progressing, Analyzing, Paused and Complete. */
const PHASED = { strategy: 'Waves', waves: [{ percent: 50, pause: '2500ms' }, { percent: 100 }], analysis: { interval: '1s', minSamples: 0 }, progressDeadline: '60s' };

let cluster: ChaosCluster;
let scrapeLog: string;
/** Pods of these versions stay not Ready until released (holds a rollout in Progressing). */
const heldVersions = new Set<string>();
let hostileStarts = 0;

const phase = (name: string): string | undefined => cluster.slmd(name)?.['status']?.rollout?.phase;
const writesOf = (mark: number, code: number) => cluster.emu.requestLog.writesSince(mark, { client: OPERATOR_CLIENT }).filter((e) => e.code === code);

beforeAll(async () => {
  scrapeLog = mkdtempSync(join(tmpdir(), 'slmops-chaos-scrapes-'));
  cluster = await startChaosCluster({
    fleet: { nodes: 4, mix: { 'cpu-amd64': 1 }, seed: 11 },
    resyncPeriod: '1s',
    operatorArgs: ['--plugins=cpu', '--sidecar-image=ghcr.io/slmops/sidecar:chaos', '--log-format=json'],
    simulator: {
      readiness: (pod: Pod) => {
        const labels = pod.metadata.labels ?? {};
        if (labels[Labels.deployment] === 'hostile') return true;
        return heldVersions.has(labels[Labels.version] ?? '') ? false : undefined;
      },
      processes: {
        addressing: 'loopback-ips',
        select: (pod: Pod) => (pod.metadata.labels?.[Labels.deployment] === 'hostile' ? 'hostile' : undefined),
        registry: {
          // Alternate the two attacks over the hostile deployment's pods.
          hostile: () => ({ command: process.execPath, args: [HOSTILE_BIN, hostileStarts++ % 2 === 0 ? 'huge' : 'trickle'], env: { SCRAPE_LOG_DIR: scrapeLog } }),
        },
      },
    },
  });
  await cluster.startOperator();
  cluster.apply(fleetDeployment('alpha', '1.0.0', PHASED));
  cluster.apply(fleetDeployment('beta', '1.0.0', FAST));
  await cluster.converged('alpha', '1.0.0');
  await cluster.converged('beta', '1.0.0');
}, 90_000);

afterAll(async () => {
  await cluster?.close();
  if (scrapeLog) rmSync(scrapeLog, { recursive: true, force: true });
});

describe('chaos: the operator converges and then writes nothing', () => {
  it('steady state: two resync periods without a write', async () => {
    expect(await cluster.steadyStateWrites(2)).toEqual([]);
    expect(cluster.crashes).toEqual([]);
  }, 30_000);

  it('API server restart with its state: watches resume, and a change made after the restart converges', async () => {
    await cluster.restartApiServer({ keepState: true });
    cluster.apply(fleetDeployment('beta', '1.1.0', FAST));
    await cluster.converged('beta', '1.1.0');
    await cluster.converged('alpha', '1.0.0');
    expect(await cluster.steadyStateWrites(2)).toEqual([]);
  }, 60_000);

  it('API server restart with its storage lost: the operator learns it from a 410, relists, and re-creates what it owns', async () => {
    // A long resync, so only the 410 (not a periodic relist) can bring the operator's caches back in time.
    await cluster.startOperator(['--resync-period=10m']);
    await cluster.restartApiServer({ keepState: false });
    expect(cluster.slmd('alpha')).toBeUndefined();
    // What GitOps would do after a restore: the SLMDeployments come back (new uids); their children must follow.
    cluster.apply(fleetDeployment('alpha', '1.0.0', PHASED));
    cluster.apply(fleetDeployment('beta', '1.1.0', FAST));
    await cluster.converged('alpha', '1.0.0');
    await cluster.converged('beta', '1.1.0');
    const uid = cluster.slmd('alpha')!['metadata'].uid;
    for (const ds of cluster.objects(resources.daemonsets, `${Labels.deployment}=alpha`)) expect(ds['metadata'].ownerReferences[0].uid).toBe(uid);
    await cluster.startOperator();
    expect(await cluster.steadyStateWrites(2)).toEqual([]);
    expect(cluster.crashes).toEqual([]);
  }, 90_000);

  it('watch 410s: expired watches and a compaction make it relist; a change converges', async () => {
    const mark = cluster.emu.requestLog.mark();
    cluster.emu.faults.expireNextWatches(30);
    cluster.emu.faults.compact();
    cluster.emu.faults.closeAllWatches();
    cluster.apply(fleetDeployment('beta', '1.2.0', FAST));
    await cluster.converged('beta', '1.2.0');
    // Every informer re-watched into a 410 and relisted.
    expect(cluster.emu.requestLog.since(mark, { client: OPERATOR_CLIENT, verb: 'watch' }).length).toBeGreaterThanOrEqual(11);
    expect(await cluster.steadyStateWrites(2)).toEqual([]);
  }, 60_000);

  it('409, 429 and 500 on writes: the operator retries until the change converges', async () => {
    const mark = cluster.emu.requestLog.mark();
    // Aimed at the rollout's own writes (not the Lease, whose renewals would soak them up).
    cluster.emu.faults.failNext({ verb: 'patch', resource: 'daemonsets.apps', code: 409, count: 2, message: 'injected conflict' });
    cluster.emu.faults.failNext({ verb: ['patch', 'update'], resource: 'slmdeployments.slmops.io', subresource: 'status', code: 429, count: 2, retryAfterSeconds: 1 });
    cluster.emu.faults.failNext({ verb: 'delete', resource: 'pods', code: 500, count: 2 });
    cluster.apply(fleetDeployment('beta', '1.3.0', FAST));
    await cluster.converged('beta', '1.3.0');
    // Each failure was really served to the operator, which retried past it.
    expect([409, 429, 500].map((code) => writesOf(mark, code).length)).toEqual([2, 2, 2]);
    expect(await cluster.steadyStateWrites(2)).toEqual([]);
  }, 60_000);

  it('kill -9 in each rollout phase: the restarted operator resumes the rollout and completes it', async () => {
    const nodes = cluster.sim.nodeNames().length;
    for (const [version, target] of [
      ['2.0.0', 'Progressing'],
      ['3.0.0', 'Analyzing'],
      ['4.0.0', 'Paused'],
    ] as const) {
      if (target === 'Progressing') heldVersions.add(version);
      const mark = cluster.emu.requestLog.mark();
      cluster.apply(fleetDeployment('alpha', version, PHASED));
      await cluster.waitFor(`alpha rolling out ${version} in phase ${target}`, () => cluster.slmd('alpha')?.['status']?.updateRevision !== cluster.slmd('alpha')?.['status']?.currentRevision && phase('alpha') === target, 30_000);
      await cluster.killOperator();
      heldVersions.delete(version);
      cluster.sim.resync();
      await cluster.startOperator();
      await cluster.converged('alpha', version, 45_000);
      // Resumed, not restarted: each node's old pod was replaced exactly once across the kill.
      const deleted = cluster.emu.requestLog.since(mark, { client: OPERATOR_CLIENT, verb: 'delete', resource: 'pods' }).filter((e) => e.code < 300);
      expect(deleted, `pod deletions of the ${version} rollout (killed while ${target})`).toHaveLength(nodes);
      expect(new Set(deleted.map((e) => e.name)).size).toBe(nodes);
    }
    expect(await cluster.steadyStateWrites(2)).toEqual([]);
    expect(cluster.crashes).toEqual([]);
  }, 120_000);

  it('a hostile /metrics (endless body, trickled body) neither takes the operator down nor stops other deployments', async () => {
    await cluster.startOperator(['--scrape-max-bytes=1Mi', '--scrape-timeout=2s', '--scrape-stall-timeout=2s']);
    cluster.apply(fleetDeployment('hostile', '1.0.0', FAST));
    await cluster.converged('hostile', '1.0.0');
    // The new version's pods are analysed: their /metrics attack the scraper. minSamples 1 keeps the wave
    // analysing while nothing readable comes back.
    cluster.apply(fleetDeployment('hostile', '2.0.0', { ...FAST, analysis: { interval: '1s', minSamples: 1, timeout: '120s' } }));
    await cluster.waitFor('both attacks scraped', () => existsSync(join(scrapeLog, 'huge')) && existsSync(join(scrapeLog, 'trickle')), 30_000);
    // Meanwhile another deployment changes and converges.
    cluster.apply(fleetDeployment('beta', '1.4.0', FAST));
    await cluster.converged('beta', '1.4.0');
    // The attacks were read again on later reconciles: the operator kept analysing, it did not hang or die.
    const scrapes = () => readFileSync(join(scrapeLog, 'huge'), 'utf8').split('\n').filter(Boolean).length;
    const before = scrapes();
    await cluster.waitFor('another scrape of the endless body', () => scrapes() > before, 30_000);
    // Unreadable metrics never pass analysis: the wave analyses (inconclusive) and is not promoted.
    await cluster.waitFor('the hostile wave analysing', () => phase('hostile') === 'Analyzing', 30_000);
    const st = cluster.slmd('hostile')!['status'];
    expect(st.currentRevision).not.toBe(st.updateRevision);
    expect(cluster.crashes).toEqual([]);
    expect(cluster.operator!.proc.exitCode).toBeNull();
  }, 90_000);
});
