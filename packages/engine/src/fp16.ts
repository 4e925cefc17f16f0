/** IEEE 754 half -> number: onnxruntime-node carries float16 tensors (fp16 logits) as raw Uint16Array bits. */

/** Converts one half-precision bit pattern to a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

let table: Float32Array | undefined;

/** Widens `count` halves of `src` starting at `offset` into a new Float32Array. */
export function halfsToFloat32(src: Uint16Array, offset = 0, count = src.length - offset): Float32Array {
  if (!table) {
    // A 256 KiB table makes logits conversion a lookup per element; built on first use, not at import.
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = halfToFloat(h);
  }
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = table[src[offset + i]!]!;
  return out;
}
