/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of iSCSI, ext4
 * and Vector's disk buffer: better error detection than the zlib CRC32 on short frames.
 * Pure TypeScript (it runs on the laptop and on the Pi), slicing-by-8: eight 256-entry
 * tables let the loop fold eight bytes per step, several times faster than byte-wise.
 */

const polynomial = 0x82f63b78;

function buildTables(): Uint32Array {
  const tables = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ polynomial : c >>> 1;
    tables[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n] ?? 0;
    for (let t = 1; t < 8; t++) {
      c = (tables[c & 0xff] ?? 0) ^ (c >>> 8);
      tables[t * 256 + n] = c >>> 0;
    }
  }
  return tables;
}

const tables = buildTables();
const t0 = tables.subarray(0, 256);
const t1 = tables.subarray(256, 512);
const t2 = tables.subarray(512, 768);
const t3 = tables.subarray(768, 1024);
const t4 = tables.subarray(1024, 1280);
const t5 = tables.subarray(1280, 1536);
const t6 = tables.subarray(1536, 1792);
const t7 = tables.subarray(1792, 2048);

/**
 * Continues a CRC32C over `data[start, end)`. Start with `crc = 0`; feeding a buffer in
 * pieces gives the same value as feeding it whole.
 */
export function crc32cUpdate(crc: number, data: Uint8Array, start = 0, end = data.length): number {
  let c = ~crc >>> 0;
  let i = start;
  // Out-of-range reads cannot happen inside the bounds below; `?? 0` only satisfies the
  // type checker (noUncheckedIndexedAccess) and costs nothing measurable.
  for (; i + 8 <= end; i += 8) {
    const lo = (c ^ ((data[i] ?? 0) | ((data[i + 1] ?? 0) << 8) | ((data[i + 2] ?? 0) << 16) | ((data[i + 3] ?? 0) << 24))) >>> 0;
    const hi = (data[i + 4] ?? 0) | ((data[i + 5] ?? 0) << 8) | ((data[i + 6] ?? 0) << 16) | ((data[i + 7] ?? 0) << 24);
    c =
      (t7[lo & 0xff] ?? 0) ^
      (t6[(lo >>> 8) & 0xff] ?? 0) ^
      (t5[(lo >>> 16) & 0xff] ?? 0) ^
      (t4[lo >>> 24] ?? 0) ^
      (t3[hi & 0xff] ?? 0) ^
      (t2[(hi >>> 8) & 0xff] ?? 0) ^
      (t1[(hi >>> 16) & 0xff] ?? 0) ^
      (t0[hi >>> 24] ?? 0);
  }
  for (; i < end; i++) c = (t0[(c ^ (data[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC32C of `data[start, end)` as an unsigned 32-bit number. */
export function crc32c(data: Uint8Array, start = 0, end = data.length): number {
  return crc32cUpdate(0, data, start, end);
}
