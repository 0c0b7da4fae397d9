import { describe, expect, it } from 'vitest';
import { crc32c } from '../../shared/crc32c.ts';
import { createFrameDecoder, encodeBinaryFrame, encodeFrame, frameHeaderBytes, frameTrailerBytes, type DecodedItem, type FrameDecoder } from '../../shared/rpcFrame.ts';
import { seededRandom, type SeededRandom } from '../support/seededRandom.ts';

/**
 * Fuzzing the frame decoder with fixed seeds (reproducible) and a time bound: random
 * bytes, frame sequences with random bit flips, truncations and insertions, fed in random
 * chunk sizes. Whatever the input: no throw, no hang, bounded memory, every intact frame
 * after the damage is recovered, and nothing damaged is ever delivered.
 */

const maxPayloadBytes = 64 * 1024;
/** After any push the decoder may hold at most one incomplete frame. */
const maxHeld = frameHeaderBytes + maxPayloadBytes + frameTrailerBytes;
const text = new TextEncoder();
const noiseSamples = [
  text.encode('[  12.345678] usb 1-1: new high-speed USB device number 2 using xhci_hcd\n'),
  text.encode('\x1b[1;31mUnder-voltage detected! (0x00050005)\x1b[0m\r\n'),
  text.encode('Raspbian GNU/Linux 12 pi-07 ttyS0\n\npi-07 login: '),
  Uint8Array.of(0xf1, 0x4b, 0x01, 0xd7), // a bare magic
  Uint8Array.of(0xf1, 0x4b, 0x01), // a partial one
];

type Feed = { decoder: FrameDecoder; items: DecodedItem[]; maxBuffered: number };

function feed(random: SeededRandom, stream: Uint8Array, decoder = createFrameDecoder({ maxPayloadBytes })): Feed {
  const items: DecodedItem[] = [];
  let maxBuffered = 0;
  let offset = 0;
  while (offset < stream.length) {
    const size = random.pick([1, 3, 17, 512, 4096, 65_536, 300_000]);
    const next = Math.min(stream.length, offset + 1 + random.int(size));
    items.push(...decoder.push(stream.subarray(offset, next)));
    maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes);
    offset = next;
  }
  items.push(...decoder.end());
  return { decoder, items, maxBuffered };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** A frame with a correct header CRC and a random (often huge) length: the nastiest noise. */
function plausibleHeader(random: SeededRandom): Uint8Array {
  const header = new Uint8Array(frameHeaderBytes);
  const view = new DataView(header.buffer);
  header.set([0xf1, 0x4b, 0x01, 0xd7, 1, random.pick([1, 2, 3])]);
  view.setUint32(8, random.pick([0, 5, 70_000, 2 ** 31, 0xffffffff, random.int(2 ** 32)]), true);
  view.setUint32(12, crc32c(header, 0, 12), true);
  return header;
}

function randomMessage(random: SeededRandom, n: number): unknown {
  const size = random.pick([0, 10, 200, 3000, 12_000]);
  return { type: 'item', id: n, item: { seq: n, text: 'é✓'.repeat(random.int(size) + 1), noise: Array.from(random.bytes(random.int(20))) } };
}

describe('frame decoder fuzz', () => {
  it('survives random bytes and plausible headers without a throw, a hang or unbounded memory', () => {
    const started = performance.now();
    const seen = new Set<string>();
    for (let seed = 1; seed <= 60; seed++) {
      const random = seededRandom(seed);
      const parts: Uint8Array[] = [];
      for (let i = 0; i < 200; i++) {
        const roll = random.int(10);
        parts.push(roll < 6 ? random.bytes(random.int(2000)) : roll < 8 ? random.pick(noiseSamples) : plausibleHeader(random));
      }
      const stream = concat(parts);
      const { decoder, items, maxBuffered } = feed(random, stream);
      expect(items.filter((i) => i.kind !== 'fault')).toEqual([]);
      for (const i of items) if (i.kind === 'fault') seen.add(i.fault);
      expect(maxBuffered).toBeLessThan(maxHeld);
      expect(decoder.bufferedBytes).toBe(0);
      // Every byte is accounted for: nothing was a frame, so everything was skipped.
      expect(decoder.stats.skippedBytes).toBe(stream.length);
    }
    expect([...seen].sort()).toEqual(expect.arrayContaining(['garbage', 'header_crc', 'header_field']));
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('recovers every intact frame after bit flips, truncations and insertions, and delivers nothing damaged', () => {
    const started = performance.now();
    let damagedTotal = 0;
    let recoveredTotal = 0;
    const seen = new Set<string>();
    for (let seed = 100; seed < 200; seed++) {
      const random = seededRandom(seed);
      const sent: { message: unknown; intact: boolean }[] = [];
      const parts: Uint8Array[] = [];
      for (let n = 0; n < 60; n++) {
        const message = randomMessage(random, n);
        const frame = random.int(8) === 0 ? encodeBinaryFrame(n, text.encode(JSON.stringify(message)), maxPayloadBytes) : encodeFrame(message, maxPayloadBytes);
        const damage = random.int(10);
        let intact = true;
        if (damage === 0) {
          const at = random.int(frame.length);
          frame[at] = (frame[at] ?? 0) ^ (1 << random.int(8));
          intact = false;
        } else if (damage === 1) {
          parts.push(frame.subarray(0, random.int(frame.length)));
          intact = false;
        } else if (damage === 2) {
          const at = 1 + random.int(frame.length - 1);
          parts.push(frame.subarray(0, at), random.pick(noiseSamples), random.bytes(random.int(50)), frame.subarray(at));
          intact = false;
        } else if (damage === 3) {
          parts.push(random.pick(noiseSamples), random.bytes(random.int(300)));
        }
        if (damage !== 1 && damage !== 2) parts.push(frame);
        // Binary frames come back as bytes: compare them as the JSON they carry.
        sent.push({ message, intact });
      }
      const { decoder, items, maxBuffered } = feed(random, concat(parts));
      const received = items.flatMap((i) =>
        i.kind === 'message' ? [i.message] : i.kind === 'binary' ? [JSON.parse(new TextDecoder().decode(i.data)) as unknown] : [],
      );
      const intact = sent.filter((s) => s.intact).map((s) => s.message);
      // Damage is always detected (CRC32C catches every single-bit flip, and the rest with
      // probability 1 - 2^-32), so what arrives is exactly the intact frames, in order.
      expect(received).toEqual(intact);
      expect(maxBuffered).toBeLessThan(maxHeld);
      expect(decoder.bufferedBytes).toBe(0);
      for (const i of items) if (i.kind === 'fault') seen.add(i.fault);
      damagedTotal += sent.length - intact.length;
      recoveredTotal += received.length;
      expect(decoder.stats.frames).toBe(received.length);
    }
    // The seeds really exercised damage (not a vacuous pass).
    expect(damagedTotal).toBeGreaterThan(1000);
    expect(recoveredTotal).toBeGreaterThan(3000);
    expect([...seen]).toEqual(expect.arrayContaining(['garbage', 'header_crc', 'payload_crc', 'interrupted']));
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('gives the same frames however the stream is chunked', () => {
    const random = seededRandom(4242);
    const messages = Array.from({ length: 40 }, (_, n) => randomMessage(random, n));
    const stream = concat(messages.flatMap((m) => [random.pick(noiseSamples), encodeFrame(m, maxPayloadBytes)]));
    for (let seed = 0; seed < 10; seed++) {
      const { items } = feed(seededRandom(seed), stream);
      expect(items.flatMap((i) => (i.kind === 'message' ? [i.message] : []))).toEqual(messages);
    }
  });
});
