/**
 * When a threaded engine's worker sends its pending updates to the host thread. Every send wakes the host, and a
 * wake-up costs the sender tens to hundreds of microseconds on virtual machines, more than a whole decode step of a
 * small model (stories260K: 0.3 ms). So a request's later tokens may wait, at most `intervalMs` after they were
 * produced; anything else (a first token, an end, an error) goes at once, with everything held.
 */
export class RelayClock {
  /** When the oldest held update was produced; undefined while nothing is held. */
  #heldSince: number | undefined;
  #lastTurn: number | undefined;
  /** Time between the last two turns: about one decode step, the wait before the next chance to send. */
  #period = 0;

  constructor(readonly intervalMs: number) {}

  /**
   * Called once per turn that produced updates (`urgent`: one of them must not wait). True: send everything now.
   * False: hold, because the next turn is expected before the oldest held update is `intervalMs` old.
   */
  due(now: number, urgent: boolean): boolean {
    if (this.#lastTurn !== undefined) this.#period = now - this.#lastTurn;
    this.#lastTurn = now;
    this.#heldSince ??= now;
    return urgent || this.intervalMs <= 0 || now + this.#period >= this.#heldSince + this.intervalMs;
  }

  /** The time by which held updates must go (a backstop for a next turn that comes late); undefined if none. */
  get deadline(): number | undefined {
    return this.#heldSince === undefined ? undefined : this.#heldSince + this.intervalMs;
  }

  /** Records that everything pending was sent. */
  sent(): void {
    this.#heldSince = undefined;
  }
}
