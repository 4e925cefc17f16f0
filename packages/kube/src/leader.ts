/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's rules: a candidate takes the lease when it
 * is free (no holder: released) or when the record it observed has not changed for leaseDurationSeconds by its
 * own clock (so clock skew between replicas does not matter); the leader renews every retryPeriod and steps down
 * when it has not renewed for renewDeadline or sees another holder. Every write is a replace carrying the
 * resourceVersion it read (or a create on 404), so two candidates never both win: the loser gets 409.
 */
import { sleep, systemClock, type Clock } from './clock.js';
import { KubeApiError, Resources, type KubeClient, type KubeObject, type LeaderElector } from './port.js';

export interface LeaderElectorOptions {
  namespace: string;
  /** The Lease's name, e.g. "slmops-operator". */
  name: string;
  /** This replica, e.g. the pod name; must differ between replicas. */
  identity: string;
  /** How long a lease is valid after its last renewal (written to the Lease in whole seconds, at least 1). */
  leaseDurationMs: number;
  /** The leader steps down when it could not renew for this long; must be below leaseDurationMs. */
  renewDeadlineMs: number;
  /** Time between attempts to acquire or renew; must be below renewDeadlineMs. */
  retryPeriodMs: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  clock?: Clock;
  /** Failed attempts (the elector retries them), for logs. */
  onError?: (error: unknown) => void;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

/** MicroTime as the API writes it: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** A LeaderElector on the Lease `namespace/name`; throws when the timings cannot be safe. */
export function createLeaderElector(client: KubeClient, options: LeaderElectorOptions): LeaderElector {
  const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = options;
  if (!options.identity) throw new Error('leader election: identity must not be empty');
  if (!options.name || !options.namespace) throw new Error('leader election: the Lease needs a namespace and a name');
  if (!(retryPeriodMs > 0)) throw new Error(`leader election: retryPeriodMs must be positive (got ${retryPeriodMs})`);
  if (!(renewDeadlineMs > retryPeriodMs)) throw new Error(`leader election: renewDeadlineMs (${renewDeadlineMs}) must exceed retryPeriodMs (${retryPeriodMs})`);
  if (!(leaseDurationMs > renewDeadlineMs)) throw new Error(`leader election: leaseDurationMs (${leaseDurationMs}) must exceed renewDeadlineMs (${renewDeadlineMs}) so a leader steps down before its lease can be taken`);
  return new LeaseElector(client, options);
}

class LeaseElector implements LeaderElector {
  private readonly clock: Clock;
  private readonly durationSeconds: number;
  private leading = false;
  private running = false;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  /** The attempt in flight: stop() waits for it, so a late renewal cannot follow the release. */
  private inflight: Promise<unknown> | undefined;
  /** The lease record last seen and when (by our clock) it last changed. */
  private observed: { record: string; at: number } | undefined;
  private lastRenew = 0;
  /** The lease as last read or written, for release. */
  private lease: Lease | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly options: LeaderElectorOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.durationSeconds = Math.max(1, Math.round(options.leaseDurationMs / 1000));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.loop = this.run().catch((e: unknown) => this.options.onError?.(e));
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    await this.loop;
    await this.inflight;
    const wasLeading = this.leading;
    this.leading = false;
    try {
      await this.release();
    } catch (e) {
      // The lease then simply expires; the standby waits leaseDuration instead of taking over at once.
      this.options.onError?.(e);
    }
    if (wasLeading) this.options.onStoppedLeading();
  }

  isLeader(): boolean {
    return this.leading;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (this.running) {
      let outcome: 'renewed' | 'held' | 'failed';
      const attempt = this.tryAcquireOrRenew().catch((e: unknown) => {
        this.options.onError?.(e);
        return 'failed' as const;
      });
      this.inflight = attempt;
      if (this.leading) {
        // A hung request must not keep a leader that can no longer renew in charge.
        const left = this.lastRenew + this.options.renewDeadlineMs - this.clock.now();
        outcome = await Promise.race([attempt, sleep(this.clock, Math.max(0, left), signal).then(() => 'failed' as const)]);
      } else outcome = await attempt;
      if (!this.running) return;
      const now = this.clock.now();
      if (outcome === 'renewed') {
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.options.onStartedLeading();
        }
      } else if (this.leading && (outcome === 'held' || now - this.lastRenew >= this.options.renewDeadlineMs)) {
        this.leading = false;
        this.options.onStoppedLeading();
      }
      const jitter = this.leading ? 1 : 1 + 0.2 * Math.random();
      await sleep(this.clock, this.options.retryPeriodMs * jitter, signal);
    }
  }

  private spec(now: number, previous: LeaseSpec | undefined): LeaseSpec {
    const mine = previous?.holderIdentity === this.options.identity;
    return {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: this.durationSeconds,
      acquireTime: mine && previous?.acquireTime ? previous.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: mine ? (previous?.leaseTransitions ?? 0) : (previous?.leaseTransitions ?? -1) + 1,
    };
  }

  /** One attempt: 'renewed' when we hold the lease now, 'held' when another holder's lease is valid. */
  private async tryAcquireOrRenew(): Promise<'renewed' | 'held' | 'failed'> {
    const { namespace, name, identity } = this.options;
    const now = this.clock.now();
    const current = await this.client.get<Lease>(Resources.Lease, name, namespace);
    if (!current) {
      const lease: Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: this.spec(now, undefined) };
      try {
        this.remember(await this.client.create(lease), now);
        return 'renewed';
      } catch (e) {
        if (e instanceof KubeApiError && e.status === 409) return 'failed';
        throw e;
      }
    }
    const spec = current.spec ?? {};
    const record = JSON.stringify(spec);
    if (this.observed?.record !== record) this.observed = { record, at: now };
    this.lease = current;
    const holder = spec.holderIdentity ?? '';
    const validMs = (spec.leaseDurationSeconds ?? this.durationSeconds) * 1000;
    if (holder !== '' && holder !== identity && this.observed.at + validMs > now) return 'held';
    try {
      this.remember(await this.client.replace<Lease>({ ...current, spec: this.spec(now, spec) }), now);
      return 'renewed';
    } catch (e) {
      // Someone wrote the Lease since we read it: they won this round.
      if (e instanceof KubeApiError && e.status === 409) return 'failed';
      throw e;
    }
  }

  private remember(lease: Lease, now: number): void {
    this.lease = lease;
    this.observed = { record: JSON.stringify(lease.spec ?? {}), at: now };
  }

  /** Clears holderIdentity (client-go's release) so a standby need not wait for the lease to expire. */
  private async release(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const lease = attempt === 0 ? this.lease : await this.client.get<Lease>(Resources.Lease, this.options.name, this.options.namespace);
      if (!lease?.spec || lease.spec.holderIdentity !== this.options.identity) return;
      const now = microTime(this.clock.now());
      const { holderIdentity: _h, ...rest } = lease.spec;
      try {
        await this.client.replace<Lease>({ ...lease, spec: { ...rest, leaseDurationSeconds: 1, renewTime: now, acquireTime: now } });
        return;
      } catch (e) {
        // Our own view was stale; read again and retry while we still hold it.
        if (!(e instanceof KubeApiError && e.status === 409)) throw e;
      }
    }
  }
}
