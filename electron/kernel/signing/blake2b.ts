/**
 * BLAKE2b (RFC 7693) with any output length from 1 to 64 bytes.
 *
 * node:crypto only offers the 64-byte variant, and BLAKE2b-256 is not a truncation of it
 * (the output length is mixed into the initial state). minisign's secret key checksum is
 * BLAKE2b-256, so this small, unhurried implementation exists for that: a few hundred bytes
 * per key load. Big inputs (files to sign) go through node:crypto's 'blake2b512'.
 */

const mask64 = (1n << 64n) - 1n;

const iv: readonly bigint[] = [
  0x6a09e667f3bcc908n, 0xbb67ae8584caa73bn, 0x3c6ef372fe94f82bn, 0xa54ff53a5f1d36f1n,
  0x510e527fade682d1n, 0x9b05688c2b3e6c1fn, 0x1f83d9abfb41bd6bn, 0x5be0cd19137e2179n,
];

const sigma: readonly (readonly number[])[] = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

/** The G mixing columns and diagonals: [a, b, c, d] indexes into the work vector. */
const mixes: readonly (readonly [number, number, number, number])[] = [
  [0, 4, 8, 12], [1, 5, 9, 13], [2, 6, 10, 14], [3, 7, 11, 15],
  [0, 5, 10, 15], [1, 6, 11, 12], [2, 7, 8, 13], [3, 4, 9, 14],
];

function rotr(x: bigint, n: bigint): bigint {
  return ((x >> n) | (x << (64n - n))) & mask64;
}

function word(v: readonly bigint[], i: number): bigint {
  const value = v[i];
  if (value === undefined) throw new RangeError(`BLAKE2b word ${i} out of range`);
  return value;
}

function compress(h: bigint[], block: Uint8Array, counter: bigint, last: boolean): void {
  const view = new DataView(block.buffer, block.byteOffset, 128);
  const m = Array.from({ length: 16 }, (_, i) => view.getBigUint64(i * 8, true));
  const v = [...h, ...iv];
  v[12] = word(v, 12) ^ (counter & mask64);
  v[13] = word(v, 13) ^ (counter >> 64n);
  if (last) v[14] = word(v, 14) ^ mask64;
  for (let round = 0; round < 12; round++) {
    const s = sigma[round % 10] ?? [];
    mixes.forEach(([a, b, c, d], g) => {
      const x = word(m, s[2 * g] ?? 0);
      const y = word(m, s[2 * g + 1] ?? 0);
      v[a] = (word(v, a) + word(v, b) + x) & mask64;
      v[d] = rotr(word(v, d) ^ word(v, a), 32n);
      v[c] = (word(v, c) + word(v, d)) & mask64;
      v[b] = rotr(word(v, b) ^ word(v, c), 24n);
      v[a] = (word(v, a) + word(v, b) + y) & mask64;
      v[d] = rotr(word(v, d) ^ word(v, a), 16n);
      v[c] = (word(v, c) + word(v, d)) & mask64;
      v[b] = rotr(word(v, b) ^ word(v, c), 63n);
    });
  }
  for (let i = 0; i < 8; i++) h[i] = word(h, i) ^ word(v, i) ^ word(v, i + 8);
}

/** The unkeyed BLAKE2b digest of `data`, `outLength` bytes long (1..64). */
export function blake2b(data: Uint8Array, outLength: number): Buffer {
  if (!Number.isInteger(outLength) || outLength < 1 || outLength > 64) throw new RangeError('BLAKE2b output is 1 to 64 bytes');
  const h = [...iv];
  h[0] = word(h, 0) ^ 0x01010000n ^ BigInt(outLength);
  const blocks = Math.max(1, Math.ceil(data.length / 128));
  for (let i = 0; i < blocks; i++) {
    const block = new Uint8Array(128);
    const chunk = data.subarray(i * 128, (i + 1) * 128);
    block.set(chunk);
    compress(h, block, BigInt(i * 128 + chunk.length), i === blocks - 1);
  }
  const out = Buffer.alloc(64);
  h.forEach((value, i) => out.writeBigUInt64LE(value, i * 8));
  return out.subarray(0, outLength);
}
