/**
 * The priority queue behind the BPE merge loops: a binary min-heap of (key, pos, stamp) entries ordered by key,
 * then by pos, so equal keys come out leftmost first. Entries are never removed early; a caller skips stale ones
 * by their stamp (lazy deletion). `work` counts pushes, pops and comparisons: the deterministic cost measure the
 * tokenizer work tests and the `onWork` hooks report.
 */
export class MergeQueue {
  private keys: number[] = [];
  private poss: number[] = [];
  private stamps: number[] = [];
  work = 0;

  /** Empties the queue and zeroes `work`, for reuse. */
  clear(): void {
    this.work = 0;
    this.keys.length = 0;
    this.poss.length = 0;
    this.stamps.length = 0;
  }

  get size(): number {
    return this.keys.length;
  }
  get topKey(): number {
    return this.keys[0]!;
  }
  get topPos(): number {
    return this.poss[0]!;
  }
  get topStamp(): number {
    return this.stamps[0]!;
  }

  private less(i: number, j: number): boolean {
    this.work++;
    const a = this.keys[i]!;
    const b = this.keys[j]!;
    return a < b || (a === b && this.poss[i]! < this.poss[j]!);
  }

  private swap(i: number, j: number): void {
    const { keys, poss, stamps } = this;
    const k = keys[i]!;
    keys[i] = keys[j]!;
    keys[j] = k;
    const p = poss[i]!;
    poss[i] = poss[j]!;
    poss[j] = p;
    const s = stamps[i]!;
    stamps[i] = stamps[j]!;
    stamps[j] = s;
  }

  push(key: number, pos: number, stamp: number): void {
    this.work++;
    this.keys.push(key);
    this.poss.push(pos);
    this.stamps.push(stamp);
    let i = this.keys.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the top entry (read it first with topKey/topPos/topStamp). */
  pop(): void {
    this.work++;
    const last = this.keys.length - 1;
    this.swap(0, last);
    this.keys.pop();
    this.poss.pop();
    this.stamps.pop();
    const n = this.keys.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(r, l) ? r : l;
      if (!this.less(c, i)) break;
      this.swap(c, i);
      i = c;
    }
  }
}
