import { describe, expect, it } from 'vitest';
import { crc32c, crc32cUpdate } from '../../shared/crc32c.ts';
import { seededRandom } from '../support/seededRandom.ts';

/** The textbook byte-at-a-time CRC32C, as an independent oracle for the sliced one. */
function referenceCrc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('crc32c', () => {
  it('matches the published check value and the RFC 3720 (iSCSI) vectors', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });

  it('agrees with the byte-wise definition at every length and offset around the 8-byte stride', () => {
    const random = seededRandom(7);
    const data = random.bytes(300);
    for (let start = 0; start < 9; start++) {
      for (let end = start; end <= data.length; end += 1 + (end % 5)) {
        expect(crc32c(data, start, end)).toBe(referenceCrc32c(data.subarray(start, end)));
      }
    }
  });

  it('gives the same value fed in pieces as fed whole', () => {
    const random = seededRandom(11);
    const data = random.bytes(10_000);
    let crc = 0;
    let offset = 0;
    while (offset < data.length) {
      const next = Math.min(data.length, offset + 1 + random.int(700));
      crc = crc32cUpdate(crc, data, offset, next);
      offset = next;
    }
    expect(crc).toBe(crc32c(data));
    expect(crc).toBe(referenceCrc32c(data));
  });
});
