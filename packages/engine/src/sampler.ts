/** Token selection: greedy, temperature, top-k, top-p, repetition penalty, with a seeded RNG. */

export interface SamplingParams {
  /** 0 = greedy (argmax, first maximum wins as in llama2.c). */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  /** 1 = off; CTRL-style: positive logits divided, negative multiplied, for every id already in the sequence. */
  repetitionPenalty: number;
  seed: number;
}

/** xorshift64* (llama2.c run.c's random_u32): the same seed gives the same stream on every platform. */
export class Rng {
  private state: bigint;

  constructor(seed: number) {
    // A zero state would stay zero forever; mix the seed so 0 is a usable seed too.
    this.state = (BigInt.asUintN(64, BigInt(seed)) ^ 0x9e3779b97f4a7c15n) || 1n;
  }

  nextU32(): number {
    let s = this.state;
    s ^= s >> 12n;
    s = BigInt.asUintN(64, s ^ (s << 25n));
    s ^= s >> 27n;
    this.state = s;
    return Number(BigInt.asUintN(64, s * 0x2545f4914f6cdd1dn) >> 32n);
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }
}

/** Index of the largest value; the first one on ties. */
export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  let max = v[0]!;
  for (let i = 1; i < v.length; i++) {
    if (v[i]! > max) {
      max = v[i]!;
      best = i;
    }
  }
  return best;
}

export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): Float32Array {
  const out = Float32Array.from(logits);
  for (const id of new Set(seen)) {
    const l = out[id];
    if (l === undefined) continue;
    out[id] = l > 0 ? l / penalty : l * penalty;
  }
  return out;
}

export class Sampler {
  private readonly rng: Rng;

  constructor(readonly params: SamplingParams) {
    this.rng = new Rng(params.seed);
  }

  /** Picks the next id from raw logits; `history` is every id of the sequence so far (for the penalty). */
  sample(rawLogits: Float32Array, history: readonly number[]): number {
    const p = this.params;
    const logits = p.repetitionPenalty !== 1 ? applyRepetitionPenalty(rawLogits, history, p.repetitionPenalty) : rawLogits;
    if (p.temperature === 0) return argmax(logits);
    const V = logits.length;
    const max = logits[argmax(logits)]!;
    const probs = new Float64Array(V);
    let sum = 0;
    for (let i = 0; i < V; i++) {
      const e = Math.exp((logits[i]! - max) / p.temperature);
      probs[i] = e;
      sum += e;
    }
    for (let i = 0; i < V; i++) probs[i]! /= sum;
    let candidates: number[] | undefined;
    if (p.topK > 0 && p.topK < V) candidates = topIndices(probs, p.topK);
    if (p.topP < 1) {
      // As in run.c: a token below (1-p)/(n-1) can never be inside the nucleus, so it need not be sorted.
      const cutoff = (1 - p.topP) / (V - 1);
      const pool = candidates ?? Array.from({ length: V }, (_, i) => i).filter((i) => probs[i]! >= cutoff);
      pool.sort((a, b) => probs[b]! - probs[a]! || a - b);
      const mass = candidates ? pool.reduce((s, i) => s + probs[i]!, 0) : 1;
      const keep: number[] = [];
      let cum = 0;
      for (const i of pool) {
        keep.push(i);
        cum += probs[i]!;
        if (cum >= p.topP * mass) break;
      }
      candidates = keep;
    }
    const coin = this.rng.nextFloat();
    if (!candidates) {
      let cdf = 0;
      for (let i = 0; i < V; i++) {
        cdf += probs[i]!;
        if (coin < cdf) return i;
      }
      return V - 1;
    }
    const total = candidates.reduce((s, i) => s + probs[i]!, 0);
    let cdf = 0;
    for (const i of candidates) {
      cdf += probs[i]! / total;
      if (coin < cdf) return i;
    }
    return candidates[candidates.length - 1]!;
  }
}

/** The k indices of the largest values, largest first (ties: lower index first). */
export function topIndices(v: ArrayLike<number>, k: number): number[] {
  const heap: number[] = [];
  const less = (a: number, b: number) => v[a]! < v[b]! || (v[a] === v[b] && a > b);
  for (let i = 0; i < v.length; i++) {
    if (heap.length < k) {
      heap.push(i);
      let c = heap.length - 1;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!less(heap[c]!, heap[p]!)) break;
        [heap[c], heap[p]] = [heap[p]!, heap[c]!];
        c = p;
      }
    } else if (less(heap[0]!, i)) {
      heap[0] = i;
      let c = 0;
      for (;;) {
        const l = 2 * c + 1;
        const r = l + 1;
        let m = c;
        if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
        if (m === c) break;
        [heap[c], heap[m]] = [heap[m]!, heap[c]!];
        c = m;
      }
    }
  }
  return heap.sort((a, b) => (less(a, b) ? 1 : less(b, a) ? -1 : 0));
}

/** Teacher-forced scores of a sequence: for each position i < n-1, -log p(ids[i+1]) and the argmax id. */
export function scoreLogits(ids: readonly number[], logitsOf: (i: number) => Float32Array): { nll: number[]; argmax: number[] } {
  const nll: number[] = [];
  const best: number[] = [];
  for (let i = 0; i + 1 < ids.length; i++) {
    const l = logitsOf(i);
    const top = argmax(l);
    const max = l[top]!;
    let sum = 0;
    for (let j = 0; j < l.length; j++) sum += Math.exp(l[j]! - max);
    nll.push(Math.log(sum) + max - l[ids[i + 1]!]!);
    best.push(top);
  }
  return { nll, argmax: best };
}
