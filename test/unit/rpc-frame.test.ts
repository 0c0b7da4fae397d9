import { describe, expect, it } from 'vitest';
import { crc32c } from '../../shared/crc32c.ts';
import {
  createFrameDecoder,
  encodeBinaryFrame,
  encodeFrame,
  encodeRawFrame,
  FrameTooLargeError,
  frameHeaderBytes,
  FrameType,
  type DecodedItem,
} from '../../shared/rpcFrame.ts';

const text = new TextEncoder();
const kernelLine = text.encode('[   12.345678] usb 1-1: new high-speed USB device number 2 using xhci_hcd\r\n');
const ansi = text.encode('\x1b[0m\x1b[1;32mraspberrypi login: \x1b[?2004h\x1b[K\x1b]0;pi@pi-07: ~\x07');

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function messages(items: DecodedItem[]): unknown[] {
  return items.flatMap((i) => (i.kind === 'message' ? [i.message] : []));
}

function faults(items: DecodedItem[]): string[] {
  return items.flatMap((i) => (i.kind === 'fault' ? [i.fault] : []));
}

/** A header with a correct CRC but fields of our choosing: what a buggy or newer peer could send. */
function forgedHeader(fields: { version?: number; type?: number; flags?: number; length: number }): Uint8Array {
  const header = new Uint8Array(frameHeaderBytes);
  const view = new DataView(header.buffer);
  header.set([0xf1, 0x4b, 0x01, 0xd7]);
  header[4] = fields.version ?? 1;
  header[5] = fields.type ?? FrameType.json;
  view.setUint16(6, fields.flags ?? 0, true);
  view.setUint32(8, fields.length, true);
  view.setUint32(12, crc32c(header, 0, 12), true);
  return header;
}

const first = { type: 'request', id: 1, method: 'hello', params: {}, credit: 0 };
const second = { type: 'result', id: 1, result: { ok: true, value: { text: 'ünïcödé ✓ 🍓', bytes: 'F1 4B' } } };

describe('frame codec', () => {
  it('round-trips messages and binary frames, even fed one byte at a time', () => {
    const stream = concat(encodeFrame(first), encodeBinaryFrame(7, Uint8Array.of(0xf1, 0x4b, 0x01, 0xd7, 0, 255)), encodeFrame(second));
    const decoder = createFrameDecoder();
    const items: DecodedItem[] = [];
    for (const byte of stream) items.push(...decoder.push(Uint8Array.of(byte)));
    expect(messages(items)).toEqual([first, second]);
    const binary = items.find((i) => i.kind === 'binary');
    expect(binary).toMatchObject({ kind: 'binary', channel: 7 });
    if (binary?.kind === 'binary') expect([...binary.data]).toEqual([0xf1, 0x4b, 0x01, 0xd7, 0, 255]);
    expect(faults(items)).toEqual([]);
    expect(decoder.stats).toMatchObject({ frames: 3, skippedBytes: 0, badFrames: 0, frameBytes: stream.length });
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('skips a kernel log line, ANSI escapes and random bytes before and between frames', () => {
    const noise = Uint8Array.from({ length: 500 }, (_, i) => (i * 131 + 17) & 0xff);
    const stream = concat(kernelLine, ansi, encodeFrame(first), noise, kernelLine, encodeFrame(second), ansi);
    const decoder = createFrameDecoder();
    const items = decoder.push(stream);
    expect(messages(items)).toEqual([first, second]);
    expect(decoder.stats.skippedBytes).toBe(kernelLine.length * 2 + ansi.length * 2 + noise.length);
    expect(faults(items).every((f) => f === 'garbage' || f === 'header_crc')).toBe(true);
  });

  it('loses only the frame that garbage landed inside, and reads the next one', () => {
    const damaged = encodeFrame({ type: 'item', id: 3, item: { n: 'x'.repeat(200) } });
    const stream = concat(damaged.subarray(0, 60), kernelLine, damaged.subarray(60), encodeFrame(second));
    const items = createFrameDecoder().push(stream);
    expect(messages(items)).toEqual([second]);
    expect(faults(items)).toContain('payload_crc');
  });

  it('detects a flipped bit in the header and in the payload, and recovers at the next frame', () => {
    for (const position of [2, 6, 9, 13, frameHeaderBytes + 5]) {
      const damaged = encodeFrame(first);
      damaged[position] = (damaged[position] ?? 0) ^ 0x10;
      const items = createFrameDecoder().push(concat(damaged, encodeFrame(second)));
      expect(messages(items), `flip at ${position}`).toEqual([second]);
      if (position >= 4) expect(faults(items)).toContain(position < frameHeaderBytes ? 'header_crc' : 'payload_crc');
    }
  });

  it('notices a JSON frame cut short as soon as the next frame starts, without waiting for its length', () => {
    const big = encodeFrame({ type: 'item', id: 9, item: 'y'.repeat(100_000) });
    const decoder = createFrameDecoder();
    const items = decoder.push(concat(big.subarray(0, 5_000), encodeFrame(second)));
    expect(messages(items)).toEqual([second]);
    expect(faults(items)).toContain('interrupted');
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('recovers after a binary frame cut short once its declared length has passed', () => {
    const cut = encodeBinaryFrame(1, new Uint8Array(1000).fill(0x55)).subarray(0, 300);
    const decoder = createFrameDecoder();
    const following = Array.from({ length: 20 }, (_, i) => ({ type: 'cancel', id: i }));
    const items = decoder.push(concat(cut, ...following.map((m) => encodeFrame(m))));
    expect(messages(items)).toEqual(following);
    expect(faults(items)).toContain('payload_crc');
  });

  it('reports a frame the link closed in the middle of', () => {
    const decoder = createFrameDecoder();
    const frame = encodeFrame(second);
    expect(decoder.push(frame.subarray(0, frame.length - 3))).toEqual([]);
    const items = decoder.end();
    expect(items[0]).toMatchObject({ kind: 'fault', fault: 'truncated', bytes: frame.length - 3 });
    expect(faults(items)).toEqual(['truncated', 'garbage']);
    expect(decoder.stats.skippedBytes).toBe(frame.length - 3);
    expect(decoder.bufferedBytes).toBe(0);
    // The decoder is usable again afterwards.
    expect(messages(decoder.push(encodeFrame(first)))).toEqual([first]);
  });

  it('refuses a 2 GB length without waiting or allocating, whether or not its header CRC holds', () => {
    const decoder = createFrameDecoder();
    const forged = forgedHeader({ length: 2 ** 31 });
    const items = decoder.push(concat(forged, encodeFrame(first)));
    expect(messages(items)).toEqual([first]);
    const refusal = items.find((i) => i.kind === 'fault' && i.fault === 'header_field');
    expect(refusal).toMatchObject({ detail: expect.stringContaining('2147483648') as unknown });
    const corrupted = forgedHeader({ length: 100 });
    corrupted[11] = 0x80; // length now ~2 GB, header CRC no longer matches
    const again = decoder.push(concat(corrupted, encodeFrame(second)));
    expect(messages(again)).toEqual([second]);
    expect(faults(again)).toContain('header_crc');
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('names an unknown version, type or flag instead of guessing', () => {
    const cases = [
      { header: forgedHeader({ version: 2, length: 0 }), says: 'version 2' },
      { header: forgedHeader({ type: 9, length: 0 }), says: 'type 9' },
      { header: forgedHeader({ flags: 4, length: 0 }), says: 'flags 0x4' },
    ];
    for (const { header, says } of cases) {
      const items = createFrameDecoder().push(concat(header, Uint8Array.of(0, 0, 0, 0), encodeFrame(first)));
      expect(messages(items)).toEqual([first]);
      expect(items.some((i) => i.kind === 'fault' && i.fault === 'header_field' && i.detail.includes(says))).toBe(true);
    }
  });

  it('at the end of the stream, finds whole frames that a cut binary frame had taken for its payload', () => {
    const decoder = createFrameDecoder();
    const cut = encodeBinaryFrame(1, new Uint8Array(5000)).subarray(0, 100);
    expect(messages(decoder.push(concat(cut, encodeFrame(first), encodeFrame(second))))).toEqual([]);
    const items = decoder.end();
    expect(messages(items)).toEqual([first, second]);
    expect(faults(items)[0]).toBe('truncated');
  });

  it('reports a payload with a good CRC that is not JSON, and goes on', () => {
    const notJson = encodeRawFrame(FrameType.json, text.encode('{"type":'));
    const notUtf8 = encodeRawFrame(FrameType.json, Uint8Array.of(0x22, 0xff, 0x22));
    const items = createFrameDecoder().push(concat(notJson, notUtf8, encodeFrame(first)));
    expect(messages(items)).toEqual([first]);
    expect(faults(items)).toEqual(['payload_invalid', 'payload_invalid']);
  });

  it('refuses to encode a payload over the bound, and the decoder honours a smaller bound', () => {
    expect(() => encodeFrame({ blob: 'z'.repeat(2000) }, 1000)).toThrow(FrameTooLargeError);
    const decoder = createFrameDecoder({ maxPayloadBytes: 1000 });
    const items = decoder.push(concat(encodeFrame({ blob: 'z'.repeat(2000) }), encodeFrame(first)));
    expect(messages(items)).toEqual([first]);
    expect(faults(items)).toContain('header_field');
  });

  it('keeps a possible partial magic at the end of a push and completes it with the next', () => {
    const frame = encodeFrame(first);
    const decoder = createFrameDecoder();
    expect(messages(decoder.push(concat(kernelLine, frame.subarray(0, 2))))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(2);
    expect(messages(decoder.push(frame.subarray(2)))).toEqual([first]);
  });
});
