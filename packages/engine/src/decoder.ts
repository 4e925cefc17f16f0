/** One forward pass of a KV-cache decoder over a batch, and the per-sequence views of its padded KV cache. */
import { halfsToFloat32 } from './fp16.js';
import type { DecoderIO } from '@slmops/model';
import type { SessionPort, Tensor, TensorData } from './session.js';

/** The cache tensors of a batch, in `io.pastNames.flat()` order, each [G,B,H,P,D] (G=2 stacked, 1 split). */
export interface KvCache {
  tensors: Tensor[];
  batch: number;
  /** P: the positions the tensors hold, which the graph reads as its past. */
  past: number;
  /**
   * Positions [0, end) hold data; [end, past) are room, zero and masked out of attention, where the next steps'
   * keys and values are written in place instead of copying the whole cache into a longer one. Absent: end = past.
   */
  end?: number;
  /** Its buffers come from the decoder's pool and go back with `recycle` once no sequence reads them. */
  pooled?: boolean;
}

const cacheEnd = (c: KvCache): number => c.end ?? c.past;

/** Positions to allocate for a cache that must hold `n` now: half as many again (at least 8), so it grows rarely. */
const withRoom = (n: number) => n + Math.max(8, Math.ceil(n / 2));

/** Where one sequence's cached positions live: row `row` of `cache`, positions [start, start+len). */
export interface KvView {
  cache: KvCache;
  row: number;
  start: number;
  len: number;
}

/** 'left': a row's positions end at P (models given position_ids); 'right': they start at 0 (GQA derives
 *  positions from the mask's row sums, so its valid cache must be a prefix). */
export type KvAlign = 'left' | 'right';

export interface ForwardResult {
  /** Logits [B,K,V] of each row's positions firstLogit..S-1 (K = S unless lastOnly); float16 is widened on read. */
  logits: Tensor;
  firstLogit: number;
  present: KvCache;
}

const newLike = (t: TensorData, n: number): TensorData =>
  t instanceof Float32Array ? new Float32Array(n) : t instanceof Uint16Array ? new Uint16Array(n) : t instanceof Int32Array ? new Int32Array(n) : new BigInt64Array(n);

/** `kvPoolMaxBytes` default: free KV-cache buffers kept for reuse between steps (ADR 0008), at most this many bytes. */
export const DEFAULT_KV_POOL_MAX_BYTES = 64 * 1024 * 1024;

export class Decoder {
  readonly align: KvAlign;
  /** Graph runs started so far. */
  runs = 0;
  private readonly groups: number;
  private readonly pastNames: string[];
  private readonly presentNames: string[];
  /** Outputs fetched per run when the graph offers this step's keys/values alone: logits + kv_delta.*. */
  private readonly deltaFetch: string[] | undefined;
  /** Free cache buffers. onnxruntime-node copies every fetched output into a fresh buffer, so fetching present
   *  costs an allocation, a copy and later a free of the whole cache per step; building it here reuses memory. */
  private free: ArrayBuffer[] = [];
  #freeBytes = 0;

  /** `poolMaxBytes`: the most bytes of free cache buffers kept for reuse (`kvPoolMaxBytes`). */
  constructor(
    readonly session: SessionPort,
    readonly io: DecoderIO,
    readonly poolMaxBytes = DEFAULT_KV_POOL_MAX_BYTES,
  ) {
    this.align = io.positionIds ? 'left' : 'right';
    this.groups = io.kvLayout === 'stacked' ? 2 : 1;
    this.pastNames = io.pastNames.flat();
    this.presentNames = io.presentNames.flat();
    const outputs = new Set(session.outputs.map((o) => o.name));
    const delta = io.deltaNames?.flat();
    this.deltaFetch = delta && delta.every((n) => outputs.has(n)) ? [io.logits, ...delta] : undefined;
  }

  /** A float32 array of `n` elements over a pooled buffer (contents undefined). */
  private take(n: number): Float32Array {
    const bytes = n * Float32Array.BYTES_PER_ELEMENT;
    // Smallest free buffer that fits and wastes at most half of itself.
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const len = this.free[i]!.byteLength;
      if (len >= bytes && len <= 2 * bytes + 4096 && (best < 0 || len < this.free[best]!.byteLength)) best = i;
    }
    const buf = best >= 0 ? this.free.splice(best, 1)[0]! : new ArrayBuffer(bytes + 4096 - (bytes % 4096));
    if (best >= 0) this.#freeBytes -= buf.byteLength;
    return new Float32Array(buf, 0, n);
  }

  /** Bytes of free cache buffers the pool holds now; never more than poolMaxBytes. */
  get pooledBytes(): number {
    return this.#freeBytes;
  }

  /** Drops every free buffer (the engine is idle): memory a load peak left goes back at the next GC. */
  releasePool(): void {
    this.free = [];
    this.#freeBytes = 0;
  }

  /** Returns a pooled cache's buffers; the caller guarantees nothing reads the cache any more. */
  recycle(cache: KvCache): void {
    if (!cache.pooled) return;
    cache.pooled = false;
    for (const t of cache.tensors) {
      const buf = t.data.buffer as ArrayBuffer;
      // A buffer larger than the whole pool is never kept.
      if (buf.byteLength > this.poolMaxBytes) continue;
      this.free.push(buf);
      this.#freeBytes += buf.byteLength;
    }
    // A bounded pool, in count and in bytes: the oldest buffers (a larger batch's, often) go first.
    while (this.free.length > 4 * this.pastNames.length || this.#freeBytes > this.poolMaxBytes) this.#freeBytes -= this.free.shift()!.byteLength;
  }

  private dims(batch: number, past: number): number[] {
    const d = [batch, this.io.numKvHeads, past, this.io.headDim];
    return this.groups === 2 ? [2, ...d] : d;
  }

  /** A cache of `past` zero positions (P=0 for a fresh prefill). */
  emptyCache(batch: number): KvCache {
    const dims = this.dims(batch, 0);
    const data = (): TensorData => (this.io.kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0));
    return { tensors: this.pastNames.map(() => ({ type: this.io.kvType, data: data(), dims })), batch, past: 0 };
  }

  /** True when `views` already sit, row by row, in one cache with the layout `align` wants. */
  isInPlace(views: readonly KvView[]): boolean {
    const cache = views[0]?.cache;
    if (!cache || cache.batch !== views.length) return false;
    return views.every((v, b) => v.cache === cache && v.row === b && (this.align === 'left' ? v.start + v.len === cacheEnd(cache) : v.start === 0));
  }

  /** Where row `b` of `cache`, assembled or kept for a sequence of `len` cached positions, holds them. */
  viewIn(cache: KvCache, b: number, len: number): KvView {
    return { cache, row: b, start: this.align === 'left' ? cacheEnd(cache) - len : 0, len };
  }

  /**
   * Copies each sequence's cached positions into one padded batch cache whose data ends at `end` (pads are zero).
   * In delta mode the cache gets room to grow in place; otherwise it holds exactly `end` positions.
   */
  assemble(views: readonly KvView[], end: number): KvCache {
    const { numKvHeads: H, headDim: D } = this.io;
    const G = this.groups;
    const B = views.length;
    // Delta mode implies float32 caches (DecoderIO.deltaNames), which the pool holds.
    const pooled = this.deltaFetch !== undefined;
    const past = pooled ? withRoom(end) : end;
    const tensors = this.pastNames.map((_, t): Tensor => {
      const proto = views[0]!.cache.tensors[t]!;
      const n = G * B * H * past * D;
      // Pads and room must read as zero: a pooled buffer holds old values.
      const out = pooled ? this.take(n).fill(0) : newLike(proto.data, n);
      views.forEach((v, b) => {
        const src = v.cache.tensors[t]!.data;
        const Bs = v.cache.batch;
        const Ps = v.cache.past;
        const dstStart = this.align === 'left' ? end - v.len : 0;
        for (let g = 0; g < G; g++)
          for (let h = 0; h < H; h++) {
            const s = (((g * Bs + v.row) * H + h) * Ps + v.start) * D;
            const d = (((g * B + b) * H + h) * past + dstStart) * D;
            (out as Float32Array).set((src as Float32Array).subarray(s, s + v.len * D), d);
          }
      });
      return { type: proto.type, data: out, dims: this.dims(B, past) };
    });
    return { tensors, batch: B, past, ...(past !== end ? { end } : {}), ...(pooled ? { pooled } : {}) };
  }

  /**
   * Runs the graph on `ids` [B,S] at `positions` [B,S] over `cache`; `mask` is [B, past+S] of 0/1. `lastOnly`:
   * only the last position's logits are needed, which graphs with DecoderIO.logitsToKeep then compute alone.
   */
  async forward(ids: readonly number[][], positions: readonly number[][], mask: Uint8Array, cache: KvCache, lastOnly = false): Promise<ForwardResult> {
    const B = ids.length;
    const S = ids[0]!.length;
    const io = this.io;
    const feeds: Record<string, Tensor> = { [io.inputIds]: this.ints(io.idsType, ids.flat(), [B, S]) };
    if (io.positionIds) feeds[io.positionIds] = this.ints(io.idsType, positions.flat(), [B, S]);
    if (io.attentionMask) feeds[io.attentionMask] = this.ints(io.maskType, mask, [B, cache.past + S]);
    const keep = io.logitsToKeep && lastOnly ? 1 : S;
    if (io.logitsToKeep) feeds[io.logitsToKeep] = { type: 'int64', data: BigInt64Array.of(BigInt(keep)), dims: [] };
    this.pastNames.forEach((n, i) => (feeds[n] = cache.tensors[i]!));
    this.runs++;
    const out = await this.session.run(feeds, this.deltaFetch);
    const logits = out[io.logits];
    if (!logits) throw new Error(`the model returned no ${io.logits} output`);
    const firstLogit = S - keep;
    if (this.deltaFetch) return { logits, firstLogit, present: this.appendDelta(cache, io.deltaNames!.flat().map((n) => out[n]), S) };
    const tensors = this.presentNames.map((n) => {
      const t = out[n];
      if (!t) throw new Error(`the model returned no ${n} output`);
      return t;
    });
    return { logits, firstLogit, present: { tensors, batch: B, past: cache.past + S } };
  }

  /**
   * present = past with this step's keys/values written after its data: in place while the pooled cache has room
   * (the caller must then not recycle `cache`, see `retire`), else into a longer pooled cache with room again.
   */
  private appendDelta(cache: KvCache, delta: Array<Tensor | undefined>, S: number): KvCache {
    const { numKvHeads: H, headDim: D } = this.io;
    const B = cache.batch;
    const P = cache.past;
    // A prefill's delta is its whole cache already.
    if (P === 0) return { tensors: delta.map((t, i) => t ?? this.missing(i)), batch: B, past: S };
    const end = cacheEnd(cache);
    const inPlace = cache.pooled === true && end + S <= P;
    const cap = inPlace ? P : withRoom(end + S);
    const tensors = delta.map((t, i): Tensor => {
      const d = (t ?? this.missing(i)).data as Float32Array;
      const p = cache.tensors[i]!.data as Float32Array;
      const out = inPlace ? p : this.take(B * H * cap * D);
      for (let r = 0; r < B * H; r++) {
        if (!inPlace) {
          out.set(p.subarray(r * P * D, (r * P + end) * D), r * cap * D);
          // The room is masked out, but 0 * garbage could still be NaN: keep it zero.
          out.fill(0, (r * cap + end + S) * D, (r + 1) * cap * D);
        }
        // A decode step's row is one position (D floats): a loop beats creating a subarray per row.
        const from = r * S * D;
        const to = (r * cap + end) * D;
        for (let k = 0; k < S * D; k++) out[to + k] = d[from + k]!;
      }
      return inPlace ? cache.tensors[i]! : { type: 'float32', data: out, dims: [B, H, cap, D] };
    });
    return { tensors, batch: B, past: cap, ...(cap !== end + S ? { end: end + S } : {}), pooled: true };
  }

  /** Recycles a step's input cache unless `present` kept its buffers (written in place). */
  retire(input: KvCache, present: KvCache): void {
    if (present.tensors[0]?.data.buffer !== input.tensors[0]?.data.buffer) this.recycle(input);
  }

  private missing(i: number): never {
    throw new Error(`the model returned no ${this.io.deltaNames!.flat()[i]} output`);
  }

  private ints(type: 'int32' | 'int64', values: ArrayLike<number>, dims: number[]): Tensor {
    const n = values.length;
    if (type === 'int32') return { type, data: Int32Array.from(values), dims };
    const data = new BigInt64Array(n);
    // Runs of equal values (a mask is all runs) are filled at once: a BigInt per element is the cost otherwise.
    for (let i = 0; i < n; ) {
      const v = values[i]!;
      let j = i + 1;
      while (j < n && values[j] === v) j++;
      if (v !== 0) data.fill(BigInt(v), i, j);
      i = j;
    }
    return { type, data, dims };
  }
}

/** The float32 logits of row `b` at position `s` of a [B,S,V] logits tensor (a view when already float32). */
export function logitsAt(logits: Tensor, b: number, s: number): Float32Array {
  const [, S, V] = logits.dims as [number, number, number];
  const off = (b * S + s) * V;
  if (logits.data instanceof Float32Array) return logits.data.subarray(off, off + V);
  if (logits.data instanceof Uint16Array) return halfsToFloat32(logits.data, off, V);
  throw new Error(`logits have unsupported type ${logits.type}`);
}
