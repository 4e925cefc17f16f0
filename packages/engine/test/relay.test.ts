import { describe, expect, it } from 'vitest';
import { RelayClock } from '../src/thread/relay.js';

describe('RelayClock', () => {
  it('sends every turn with interval 0, and urgent turns at once with any interval', () => {
    const zero = new RelayClock(0);
    expect([0, 1, 2].map((t) => zero.due(t, false))).toEqual([true, true, true]);
    const long = new RelayClock(1000);
    long.due(0, false);
    expect(long.due(0.3, true)).toBe(true);
  });

  it('holds later tokens while the next step is due before the oldest held one is intervalMs old', () => {
    // Steps every 0.3 ms, interval 5 ms: a send at 0, then holds until waiting one more step would pass 5 ms.
    const clock = new RelayClock(5);
    const sends: number[] = [];
    for (let step = 0; step <= 40; step++) {
      const now = step * 0.3;
      if (clock.due(now, step === 0)) {
        sends.push(Number(now.toFixed(1)));
        clock.sent();
      }
    }
    // The first held tokens date from 0.3 ms; sent at 5.1 ms, since 5.1 + 0.3 >= 0.3 + 5; then every 5.1 ms.
    expect(sends).toEqual([0, 5.1, 10.2]);
    for (let i = 1; i < sends.length; i++) expect(sends[i]! - sends[i - 1]!).toBeLessThanOrEqual(5.1);
  });

  it('sends every step when a step takes longer than the interval', () => {
    const clock = new RelayClock(5);
    const due = [0, 12, 24, 36].map((now) => {
      const d = clock.due(now, false);
      if (d) clock.sent();
      return d;
    });
    // The first turn has no step estimate yet, so it holds (the backstop timer would send it 5 ms later).
    expect(due).toEqual([false, true, true, true]);
  });

  it('gives the deadline of what it holds, and none after a send', () => {
    const clock = new RelayClock(5);
    expect(clock.deadline).toBeUndefined();
    clock.due(10, false);
    expect(clock.deadline).toBe(15);
    clock.due(10.5, false);
    expect(clock.deadline).toBe(15);
    clock.sent();
    expect(clock.deadline).toBeUndefined();
  });
});
