/**
 * Leader election: with the fake and a manual clock (exact lease timing: the standby waits for the lease to
 * expire by its own observation, the old leader steps down before anyone else leads, stop() releases), and with
 * two electors over HTTP against the emulator (only the leader writes; release lets the standby in at once).
 */
import type { Emulator } from '@slmops/kube-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeKube } from '../src/fake.js';
import { createLeaderElector, type LeaderElectorOptions } from '../src/leader.js';
import { Resources, type KubeClient, type KubeObject } from '../src/port.js';
import { clientFor, ManualClock, startWithCrd, until } from './helpers.js';

type LeaseSpec = { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number; renewTime?: string; acquireTime?: string };
const specOf = (o: KubeObject | undefined) => o?.['spec'] as LeaseSpec | undefined;

/** A client whose requests fail while `down` is set, as a partitioned replica's would. */
function partitionable(inner: KubeClient) {
  const state = { down: false };
  const guard = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    if (state.down) throw new Error('connect ECONNREFUSED (partitioned)');
    return fn(...a);
  };
  const client: KubeClient = {
    get: guard(inner.get.bind(inner)) as KubeClient['get'],
    list: guard(inner.list.bind(inner)) as KubeClient['list'],
    watch: guard(inner.watch.bind(inner)) as KubeClient['watch'],
    create: guard(inner.create.bind(inner)) as KubeClient['create'],
    replace: guard(inner.replace.bind(inner)) as KubeClient['replace'],
    apply: guard(inner.apply.bind(inner)) as KubeClient['apply'],
    patch: guard(inner.patch.bind(inner)) as KubeClient['patch'],
    delete: guard(inner.delete.bind(inner)),
    createEvent: guard(inner.createEvent.bind(inner)),
  };
  return { client, state };
}

function elector(client: KubeClient, identity: string, log: string[], options: Partial<LeaderElectorOptions> = {}) {
  return createLeaderElector(client, {
    namespace: 'default',
    name: 'slmops-operator',
    identity,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    onStartedLeading: () => log.push(`${identity} started`),
    onStoppedLeading: () => log.push(`${identity} stopped`),
    ...options,
  });
}

describe('createLeaderElector with the fake and a manual clock', () => {
  it('keeps one leader, hands over only after the lease expires, and releases on stop', async () => {
    const fake = createFakeKube();
    const clock = new ManualClock();
    const log: string[] = [];
    const a = partitionable(fake);
    const A = elector(a.client, 'a', log, { clock });
    const B = elector(fake, 'b', log, { clock });
    A.start();
    await clock.advance(0);
    expect(log).toEqual(['a started']);
    B.start();
    await clock.advance(60_000);
    expect(A.isLeader()).toBe(true);
    expect(B.isLeader()).toBe(false);
    const lease = await fake.get(Resources.Lease, 'slmops-operator', 'default');
    expect(specOf(lease)).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(specOf(lease)?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    // The standby only reads while the lease is held.
    expect(fake.writes().filter((w) => w.resource === 'leases').length).toBeGreaterThan(20);
    fake.requests.length = 0;
    await clock.advance(10_000);
    expect(fake.requests.filter((r) => r.verb !== 'get')).toHaveLength(5);

    // A is cut off: it steps down once it has not renewed for renewDeadline; B waits out the lease.
    const lastRenew = Date.parse(specOf(await fake.get(Resources.Lease, 'slmops-operator', 'default'))!.renewTime!);
    a.state.down = true;
    const stoppedAt: number[] = [];
    const startedAt: number[] = [];
    for (let i = 0; i < 20; i++) {
      await clock.advance(1_000);
      if (!A.isLeader() && stoppedAt.length === 0) stoppedAt.push(clock.now());
      if (B.isLeader() && startedAt.length === 0) startedAt.push(clock.now());
    }
    expect(log).toEqual(['a started', 'a stopped', 'b started']);
    expect(stoppedAt[0]! - lastRenew).toBeLessThanOrEqual(12_000);
    expect(startedAt[0]! - lastRenew).toBeGreaterThanOrEqual(15_000);
    expect(specOf(await fake.get(Resources.Lease, 'slmops-operator', 'default'))).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });

    // A comes back as a standby; B's stop() clears the holder, so A takes over at its next retry.
    a.state.down = false;
    await clock.advance(5_000);
    expect(A.isLeader()).toBe(false);
    await B.stop();
    expect(specOf(await fake.get(Resources.Lease, 'slmops-operator', 'default'))?.holderIdentity).toBeUndefined();
    await clock.advance(3_000);
    expect(A.isLeader()).toBe(true);
    expect(log).toEqual(['a started', 'a stopped', 'b started', 'b stopped', 'a started']);
    await A.stop();
  });

  it('treats a 409 on create or replace as a lost race, not an error', async () => {
    const fake = createFakeKube();
    const clock = new ManualClock();
    const log: string[] = [];
    const errors: unknown[] = [];
    fake.failNext({ verb: 'create', resource: 'leases' }, 409, { reason: 'AlreadyExists' });
    const A = elector(fake, 'a', log, { clock, onError: (e) => errors.push(e) });
    A.start();
    await clock.advance(0);
    expect(A.isLeader()).toBe(false);
    await clock.advance(2_500);
    expect(A.isLeader()).toBe(true);
    fake.failNext({ verb: 'update', resource: 'leases' }, 409);
    await clock.advance(2_000);
    expect(A.isLeader()).toBe(true);
    expect(errors).toEqual([]);
    await A.stop();
  });

  it('refuses timings under which two replicas could lead at once', () => {
    const fake = createFakeKube();
    expect(() => elector(fake, 'a', [], { renewDeadlineMs: 20_000 })).toThrow('leader election: leaseDurationMs (15000) must exceed renewDeadlineMs (20000) so a leader steps down before its lease can be taken');
    expect(() => elector(fake, 'a', [], { retryPeriodMs: 10_000 })).toThrow('renewDeadlineMs (10000) must exceed retryPeriodMs (10000)');
    expect(() => elector(fake, '', [])).toThrow('identity must not be empty');
  });
});

describe('createLeaderElector over HTTP with two replicas', () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startWithCrd();
  });
  afterAll(async () => emu?.close());

  it('lets only the leader write, and hands over at once when the leader stops', async () => {
    const log: string[] = [];
    const timing = { leaseDurationMs: 60_000, renewDeadlineMs: 40_000, retryPeriodMs: 100 };
    const A = elector(clientFor(emu, { userAgent: 'slmops-operator/test (a)' }), 'a', log, timing);
    const B = elector(clientFor(emu, { userAgent: 'slmops-operator/test (b)' }), 'b', log, timing);
    A.start();
    await until('a leads', () => A.isLeader());
    B.start();
    const mark = emu.requestLog.mark();
    await until('several renewals', () => (emu.requestLog.writesByClientSince(mark)['slmops-operator/test (a)'] ?? 0) >= 5);
    expect(B.isLeader()).toBe(false);
    expect(emu.requestLog.writesByClientSince(mark)['slmops-operator/test (b)']).toBeUndefined();
    expect(emu.requestLog.since(mark, { client: 'slmops-operator/test (b)' }).length).toBeGreaterThan(0);
    expect(emu.requestLog.writesByClient()['slmops-operator/test (b)']).toBeUndefined();

    // The lease is valid for 60 s: B can only lead within this test because A's stop() released it.
    await A.stop();
    expect(log).toEqual(['a started', 'a stopped']);
    await until('b leads', () => B.isLeader());
    const lease = emu.store.get({ group: 'coordination.k8s.io', version: 'v1', resource: 'leases' }, 'default', 'slmops-operator');
    expect(lease['spec']).toMatchObject({ holderIdentity: 'b', leaseDurationSeconds: 60, leaseTransitions: 1 });
    expect(log).toEqual(['a started', 'a stopped', 'b started']);
    await B.stop();
    expect(B.isLeader()).toBe(false);
  });

  it('lets exactly one of two simultaneous candidates win', async () => {
    const log: string[] = [];
    const timing = { name: 'race', leaseDurationMs: 60_000, renewDeadlineMs: 40_000, retryPeriodMs: 100 };
    const C = elector(clientFor(emu, { userAgent: 'c' }), 'c', log, timing);
    const D = elector(clientFor(emu, { userAgent: 'd' }), 'd', log, timing);
    C.start();
    D.start();
    await until('someone leads', () => C.isLeader() || D.isLeader());
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 50));
      expect(Number(C.isLeader()) + Number(D.isLeader())).toBe(1);
    }
    expect(log).toHaveLength(1);
    await Promise.all([C.stop(), D.stop()]);
    // A loser's failed writes can only be lost races (409): nothing else went wrong.
    const failed = emu.requestLog.entries({ resource: 'leases.coordination.k8s.io', succeeded: false, verb: ['create', 'update'] }).filter((e) => e.client === 'c' || e.client === 'd');
    expect(failed.map((e) => `${e.verb} ${e.code}`).filter((x) => !x.endsWith(' 409'))).toEqual([]);
  });
});

