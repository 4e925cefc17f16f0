import { describe, expect, it } from 'vitest';
import { counterIncrease, deriveFigures, energyBetween, pushSample } from '../src/index.js';

describe('derived figures', () => {
  it('adds counter increases per source and treats a decrease as a restart', () => {
    const prev = new Map([['a', 100], ['b', 50]]);
    expect(counterIncrease(prev, new Map([['a', 130], ['b', 55]]))).toBe(35);
    expect(counterIncrease(prev, new Map([['a', 20], ['c', 999]]))).toBe(20);
  });

  it('integrates energy counters and mean power', () => {
    expect(energyBetween({ t: 0, counterJ: 10 }, { t: 2, counterJ: 16 })).toBe(6);
    expect(energyBetween({ t: 0, powerW: 10 }, { t: 2, powerW: 30 })).toBe(40);
    expect(energyBetween({ t: 0, counterJ: 10, powerW: 10 }, { t: 2, counterJ: 16, powerW: 10 })).toBe(26);
    expect(energyBetween({ t: 0, counterJ: 16 }, { t: 2, counterJ: 10 })).toBeUndefined(); // wrapped
    expect(energyBetween({ t: 0 }, { t: 2, powerW: 5 })).toBeUndefined();
  });

  it('keeps a window that covers the last N seconds', () => {
    let w = pushSample([], { t: 0, tokens: 0 }, 10);
    for (const t of [4, 8, 12, 16]) w = pushSample(w, { t, tokens: t }, 10);
    expect(w.map((s) => s.t)).toEqual([4, 8, 12, 16]);
  });

  it('computes energy per token and cost per 1k tokens over the window', () => {
    const f = deriveFigures([{ t: 10, energyJ: 100, tokens: 1000 }, { t: 20, energyJ: 120, tokens: 1500 }, { t: 70, energyJ: 200, tokens: 3000 }], 3.6);
    expect(f).toEqual({ tokens: 2000, seconds: 60, energyPerTokenJ: 0.05, costPer1kTokens: (3.6 * 60) / 3600 / 2000 * 1000 });
    expect(deriveFigures([{ t: 0, tokens: 5 }, { t: 10, energyJ: 3, tokens: 10 }])).toEqual({ tokens: 5, seconds: 10 });
    expect(deriveFigures([{ t: 0, energyJ: 0, tokens: 5 }, { t: 10, energyJ: 3, tokens: 5 }], 1)).toEqual({ tokens: 0, seconds: 10 });
    expect(deriveFigures([{ t: 0, tokens: 0 }])).toBeUndefined();
  });
});
