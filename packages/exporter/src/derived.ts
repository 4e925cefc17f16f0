/**
 * Derived figures over a sliding window, pure: energy per generated token (where the node's energy is measurable)
 * and estimated cost per 1,000 generated tokens from an hourly node cost. The sampler feeds cumulative totals.
 */

/** One sample of the node: cumulative energy (joules, undefined when not measurable) and generated tokens. */
export interface WindowSample {
  /** Seconds, monotonic. */
  t: number;
  energyJ?: number;
  tokens: number;
}

export interface DerivedFigures {
  /** Tokens generated between the window's first and last sample. */
  tokens: number;
  seconds: number;
  energyPerTokenJ?: number;
  costPer1kTokens?: number;
}

/** Adds per-source counter increases, treating a decrease as a restart (the new value is the increase). */
export function counterIncrease(prev: ReadonlyMap<string, number>, cur: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const [k, v] of cur) {
    const p = prev.get(k);
    sum += p === undefined ? 0 : v >= p ? v - p : v;
  }
  return sum;
}

/** Energy between two readings of summed energy counters plus mean GPU power over the interval. */
export function energyBetween(
  a: { t: number; counterJ?: number; powerW?: number },
  b: { t: number; counterJ?: number; powerW?: number },
): number | undefined {
  let e: number | undefined;
  if (a.counterJ !== undefined && b.counterJ !== undefined && b.counterJ >= a.counterJ) e = b.counterJ - a.counterJ;
  if (a.powerW !== undefined && b.powerW !== undefined) e = (e ?? 0) + ((a.powerW + b.powerW) / 2) * (b.t - a.t);
  return e;
}

/** Keeps the samples of the last `windowSeconds` (plus the one just before, so the window is fully covered). */
export function pushSample(samples: readonly WindowSample[], s: WindowSample, windowSeconds: number): WindowSample[] {
  const all = [...samples, s];
  let first = 0;
  while (first + 1 < all.length && all[first + 1]!.t <= s.t - windowSeconds) first++;
  return all.slice(first);
}

/** Figures between the oldest and newest sample; per-token figures only when tokens were generated. */
export function deriveFigures(samples: readonly WindowSample[], nodeCostPerHour?: number): DerivedFigures | undefined {
  if (samples.length < 2) return undefined;
  const a = samples[0]!;
  const b = samples.at(-1)!;
  const tokens = b.tokens - a.tokens;
  const seconds = b.t - a.t;
  const out: DerivedFigures = { tokens, seconds };
  if (tokens <= 0 || seconds <= 0) return out;
  // Energy is measurable over the window only when every sample in it had a reading.
  if (samples.every((s) => s.energyJ !== undefined)) out.energyPerTokenJ = (b.energyJ! - a.energyJ!) / tokens;
  if (nodeCostPerHour !== undefined) out.costPer1kTokens = ((nodeCostPerHour * seconds) / 3600 / tokens) * 1000;
  return out;
}
