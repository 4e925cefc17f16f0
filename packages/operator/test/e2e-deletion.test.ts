/**
 * Hardening item 5: deleted SLMDeployments must not come back as orphans. The real operator runs against the kube
 * emulator (which garbage-collects children by owner uid); a recording client sees, in the operator's own event
 * order, when its watches delivered a deletion and which writes it issued afterwards, and can hold one request or
 * one watch to force each race deterministically.
 */
import type { KubeClient, KubeObject, WatchEvent } from '@slmops/kube';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, type OperatorReplica, SLMD, fleetDeployment, readyCondition, resources, startHarness } from './harness.js';

interface Write {
  seq: number;
  verb: string;
  what: string;
  /** The SLMDeployment the write is for (its controller owner, or the deployment itself). */
  ownerUid?: string;
}

/** Wraps the operator's client: records deletions its watches delivered and writes it issued, in one order. */
class Recorder {
  private seq = 0;
  /** SLMDeployment uid -> seq at which the operator's watch delivered its deletion (DELETED or a deletionTimestamp). */
  readonly observed = new Map<string, number>();
  readonly writes: Write[] = [];
  /** uid by namespace/name of every SLMDeployment the operator's watch delivered. */
  private readonly uidByName = new Map<string, string>();
  /** Child DELETED events the operator's watches delivered, by owner uid. */
  readonly childDeletes = new Map<string, number>();

  /** Hold the first apply of a child of this deployment (by name) until `release`. */
  holdFirstApplyOf?: string;
  held = false;
  private releaseHeld?: () => void;
  /** While set, SLMDeployment watch events are buffered (the owner's watch lags its children's). */
  private lagged?: (() => void)[];

  release(): void {
    this.releaseHeld?.();
  }

  lagDeploymentWatch(): void {
    this.lagged = [];
  }

  catchUpDeploymentWatch(): void {
    const queued = this.lagged ?? [];
    this.lagged = undefined;
    for (const deliver of queued) deliver();
  }

  /** Writes for a deployment issued after its deletion was delivered to the operator. */
  writesAfterObservedDeletion(): Write[] {
    return this.writes.filter((w) => w.ownerUid !== undefined && this.observed.has(w.ownerUid) && w.seq > this.observed.get(w.ownerUid)!);
  }

  private ownerOf(o: KubeObject): string | undefined {
    if (o.kind === 'SLMDeployment') return this.uidByName.get(`${o.metadata.namespace}/${o.metadata.name}`);
    return o.metadata.ownerReferences?.find((r) => r.controller)?.uid;
  }

  private write(verb: string, o: KubeObject): void {
    const ownerUid = this.ownerOf(o);
    this.writes.push({ seq: ++this.seq, verb, what: `${o.kind}/${o.metadata.name}`, ...(ownerUid ? { ownerUid } : {}) });
  }

  wrap = (client: KubeClient): KubeClient => ({
    get: client.get.bind(client),
    list: client.list.bind(client),
    delete: client.delete.bind(client),
    patch: client.patch.bind(client),
    replace: client.replace.bind(client),
    createEvent: async (ev) => {
      const uid = (ev as { regarding?: { uid?: string } }).regarding?.uid;
      this.writes.push({ seq: ++this.seq, verb: 'create', what: `Event/${ev.reason}`, ...(uid ? { ownerUid: uid } : {}) });
      return client.createEvent(ev);
    },
    create: async (o) => {
      this.write('create', o);
      return client.create(o);
    },
    apply: async (o, options) => {
      this.write('apply', o);
      const ref = o.metadata.ownerReferences?.find((r) => r.controller);
      if (this.holdFirstApplyOf && ref?.name === this.holdFirstApplyOf && !this.held) {
        this.held = true;
        await new Promise<void>((r) => (this.releaseHeld = r));
      }
      return client.apply(o, options);
    },
    watch: (type, options, onEvent) =>
      client.watch(type, options, (e: WatchEvent) => {
        const deliver = () => {
          const o = e.object;
          if (type.kind === 'SLMDeployment') {
            if (o.metadata.uid) this.uidByName.set(`${o.metadata.namespace}/${o.metadata.name}`, o.metadata.uid);
            if ((e.type === 'DELETED' || o.metadata.deletionTimestamp) && o.metadata.uid && !this.observed.has(o.metadata.uid)) this.observed.set(o.metadata.uid, ++this.seq);
          } else if (e.type === 'DELETED') {
            const owner = o.metadata.ownerReferences?.find((r) => r.controller)?.uid;
            if (owner) this.childDeletes.set(owner, (this.childDeletes.get(owner) ?? 0) + 1);
          }
          onEvent(e as never);
        };
        if (type.kind === 'SLMDeployment' && this.lagged) this.lagged.push(deliver);
        else deliver();
      }),
  });
}

const CHILD_RESOURCES = [resources.daemonsets, resources.deployments, resources.services, resources.configmaps, resources.poddisruptionbudgets, resources.controllerrevisions];

describe('hardening item 5: deleted SLMDeployments do not come back as orphans', () => {
  let h: Harness;
  let rec: Recorder;
  let op: OperatorReplica;
  /** Children of deployments in the store whose controller owner no longer exists. */
  const orphans = () => {
    const live = new Set(h.objects(SLMD, 'default').map((d) => d.metadata.uid));
    return CHILD_RESOURCES.flatMap((r) => h.objects(r, 'default', 'slmops.io/deployment')).filter((o) => {
      const owner = o.metadata.ownerReferences?.find((x) => x.controller)?.uid;
      return owner !== undefined && !live.has(owner);
    });
  };
  /** Waits until the operator's queue is empty and nothing is in flight; an operator that keeps re-creating fails here. */
  const settled = async (timeoutMs = 15_000) => {
    await new Promise((r) => setImmediate(r));
    let timer: NodeJS.Timeout | undefined;
    const idle = await Promise.race([op.operator.idle().then(() => true), new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
    clearTimeout(timer);
    if (!idle) throw new Error(`the operator did not settle within ${timeoutMs} ms; its writes so far: ${rec.writes.slice(-10).map((w) => `${w.verb} ${w.what}`).join(', ')}`);
  };

  beforeAll(async () => {
    h = await startHarness({ fleet: { nodes: 4, mix: { 'cpu-amd64': 1 }, seed: 3 } });
    rec = new Recorder();
    op = await h.startOperator({ wrapClient: rec.wrap, maxConcurrentReconciles: 4 });
  }, 90_000);
  afterAll(async () => {
    await h?.close();
  });

  it('a reconcile in flight when the delete arrives issues no further write once the operator has seen the deletion', async () => {
    const name = 'inflight';
    rec.holdFirstApplyOf = name;
    await h.apply(fleetDeployment(name));
    await h.waitFor('the operator issued its first apply for the deployment', () => rec.held);
    const uid = h.slmd(name)!.metadata.uid!;
    await h.kubectlOk(['delete', 'slmd', name, '--wait=false']);
    await h.waitFor('the operator saw the deletion', () => rec.observed.has(uid));
    rec.release();
    await settled();
    expect(rec.writesAfterObservedDeletion()).toEqual([]);
    // The one apply that was already on its way when the delete came references the gone uid: the garbage collector removes it.
    await h.waitFor('no child of the deleted deployment remains', () => orphans().length === 0, 15_000);
  }, 60_000);

  it('children deleted by garbage collection before the owner\'s own watch event are not re-created (request-log order)', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `lag-${i}`);
    await h.apply(...names.map((n) => fleetDeployment(n)));
    await h.waitFor('all Ready', () => names.every((n) => readyCondition(h.slmd(n))?.status === 'True'), 60_000);
    await settled();
    const uids = names.map((n) => h.slmd(n)!.metadata.uid!);
    const children = new Map(uids.map((u) => [u, CHILD_RESOURCES.flatMap((r) => h.objects(r, 'default', 'slmops.io/deployment')).filter((o) => o.metadata.ownerReferences?.some((x) => x.uid === u)).length]));
    expect([...children.values()].every((n) => n >= 4)).toBe(true);
    const before = new Map(uids.map((u) => [u, rec.childDeletes.get(u) ?? 0]));

    rec.lagDeploymentWatch();
    const mark = h.emu.requestLog.mark();
    await h.kubectlOk(['delete', 'slmd', ...names]);
    // The emulator's GC removed the children and the operator's child watches delivered it; its SLMDeployment watch lags.
    await h.waitFor('the operator saw every child deleted', () => uids.every((u) => (rec.childDeletes.get(u) ?? 0) - before.get(u)! >= children.get(u)!), 30_000);
    await settled();
    rec.catchUpDeploymentWatch();
    await settled();

    const deleted = new Map(h.emu.requestLog.since(mark, { verb: 'delete', resource: 'slmdeployments.slmops.io', succeeded: true }).map((e) => [e.name!, e.seq]));
    expect([...deleted.keys()].sort()).toEqual([...names].sort());
    const lateWrites = h.emu.requestLog
      .since(mark, { client: op.userAgent, verb: ['create', 'update', 'patch'] })
      .filter((e) => names.some((n) => e.name === n || e.name?.startsWith(`${n}-`)) && e.seq > deleted.get(names.find((n) => e.name === n || e.name!.startsWith(`${n}-`))!)!)
      .map((e) => `${e.verb} ${e.resource}/${e.name}`);
    expect(lateWrites).toEqual([]);
    expect(orphans()).toEqual([]);
  }, 90_000);

  it('creating and deleting many deployments while the operator converges: no write after an observed deletion, no child left', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `churn-${i}`);
    await h.apply(...names.map((n) => fleetDeployment(n)));
    // Delete while the operator is still creating children for many of them.
    await h.waitFor('the operator started creating children', () => rec.writes.some((w) => w.what.startsWith('ConfigMap/churn-')));
    await h.kubectlOk(['delete', 'slmd', ...names, '--wait=false']);
    await h.waitFor('every deletion reached the operator', () => names.every((n) => !h.slmd(n)) && h.objects(SLMD, 'default').length === 0);
    await h.waitFor('the operator saw every deletion', () => rec.observed.size >= 1 + 10 + 40, 30_000);
    await settled();
    expect(rec.writesAfterObservedDeletion()).toEqual([]);
    await h.waitFor('no child of a deleted deployment remains', () => orphans().length === 0, 15_000);
  }, 90_000);
});
