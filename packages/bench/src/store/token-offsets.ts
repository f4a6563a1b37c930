/**
 * Token-event offsets (ms from `t_send`) stored as a BLOB of little-endian float64s: 8 bytes a
 * token instead of ~10 as JSON text, exact (no rounding), and decoded without parsing. Explicit
 * little-endian so a database copied between machines reads the same.
 */

/** Encodes offsets as a little-endian float64 array. */
export function encodeOffsets(offsets: readonly number[]): Buffer {
  const buf = Buffer.allocUnsafe(offsets.length * 8);
  for (let i = 0; i < offsets.length; i++) buf.writeDoubleLE(offsets[i] ?? Number.NaN, i * 8);
  return buf;
}

/** Decodes {@link encodeOffsets}' output; a truncated trailing value is dropped. */
export function decodeOffsets(blob: Uint8Array | null): number[] {
  if (blob === null || blob.length === 0) return [];
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const out = new Array<number>(Math.floor(buf.length / 8));
  for (let i = 0; i < out.length; i++) out[i] = buf.readDoubleLE(i * 8);
  return out;
}
