/** Two operator replicas on the kube emulator with Lease-based leader election. */
import { Labels } from '@slmops/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, fleetDeployment, readyCondition, resources, startHarness } from './harness.js';

describe('operator e2e: leader election', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ fleet: { nodes: 12, mix: { 'cpu-amd64': 1, 'nvidia-gpu': 1 }, seed: 3 } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('only the leader writes; the standby takes over after the leader stops and releases the lease', async () => {
    const mark = h.emu.requestLog.mark();
    // A long lease, so a takeover well within it proves the leader released the lease on stop.
    const le = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 200 };
    const a = await h.startOperator({ identity: 'replica-a', leaderElection: le });
    await h.waitFor('a leads', () => a.operator.isLeader());
    const b = await h.startOperator({ identity: 'replica-b', leaderElection: le });
    await h.apply(fleetDeployment('one'));
    await h.waitFor('one Ready', () => readyCondition(h.slmd('one'))?.status === 'True', 30_000);
    expect(b.operator.isLeader()).toBe(false);

    const writesBy = (ua: string, from: number) => h.emu.requestLog.writesSince(from, { client: ua }).filter((e) => e.resource !== 'leases.coordination.k8s.io');
    expect(writesBy(a.userAgent, mark).length).toBeGreaterThan(0);
    expect(writesBy(b.userAgent, mark).map((e) => `${e.verb} ${e.resource} ${e.name} ${e.code}`)).toEqual([]);
    expect(await b.metrics()).toContain('slmops_operator_leader 0');
    expect(await a.metrics()).toContain('slmops_operator_leader 1');

    const stoppedAt = Date.now();
    // stop() lets an in-flight reconcile finish its writes while still holding the lease, then releases it.
    await a.stop();
    const handover = h.emu.requestLog.mark();
    await h.waitFor('b leads', () => b.operator.isLeader(), 10_000);
    // Released on stop, so the standby need not wait out the 15 s lease.
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    await h.apply(fleetDeployment('two'));
    await h.waitFor('two Ready', () => readyCondition(h.slmd('two'))?.status === 'True', 30_000);
    expect(writesBy(b.userAgent, handover).length).toBeGreaterThan(0);
    expect(writesBy(a.userAgent, handover)).toEqual([]);
    expect(h.objects(resources.daemonsets, 'default', `${Labels.deployment}=two`).length).toBe(2);
    const lease = h.emu.store.tryGet(resources.leases, 'kube-system', 'slmops-operator') as { spec?: { holderIdentity?: string } } | undefined;
    expect(lease?.spec?.holderIdentity).toBe('replica-b');
  }, 90_000);
});
