/**
 * Framing for the agent RPC (shared/agentRpc.ts says what the messages mean): turns
 * messages into checksummed frames on a byte stream and back, on any link: an SSH exec
 * channel, a local pipe, or a serial console that also carries kernel messages, login
 * banners, echoed keystrokes and ANSI escapes. Pure TypeScript, no node:* (it runs on the
 * laptop and on the Pi).
 *
 * A frame, little-endian:
 *
 *   offset  size  field
 *   0       4     magic F1 4B 01 D7
 *   4       1     version (1)
 *   5       1     type: 1 = JSON RpcMessage (UTF-8), 2 = binary (u32 channel + bytes),
 *                       3 = JSON RpcMessage compressed with zstd (only once negotiated)
 *   6       2     flags, 0 (reserved: a receiver refuses bits it does not know)
 *   8       4     payload length, at most `maxPayloadBytes` (16 MiB by default)
 *   12      4     CRC32C of bytes 0-11
 *   16      n     payload
 *   16+n    4     CRC32C of the payload
 *
 * Why this magic: 0xF1 opens a four-byte UTF-8 sequence and must be followed by a
 * continuation byte (0x80-0xBF); 0x4B ('K') is not one. So the magic never occurs in
 * UTF-8 text: not in kernel logs, banners, ANSI escapes (7-bit), nor in our own JSON
 * payloads. The decoder relies on that last point to notice early that a JSON frame was
 * cut short (the next frame's magic shows up inside its payload) instead of swallowing
 * the frames after it as payload.
 *
 * Why a header CRC: a corrupted length must not make the decoder wait for, or allocate,
 * gigabytes. A header that fails its CRC (or names an unknown version, type, flag or an
 * oversized length) is treated as garbage: the decoder drops one byte and scans for the
 * next magic. A payload that fails its CRC is handled the same way, so every intact frame
 * after the damage is still found. The decoder never throws on input, and holds at most
 * one frame plus one slice of input.
 *
 * The link must be 8-bit clean: put a serial tty in raw mode (`stty raw -echo`) first.
 * Frames are not escaped, so a link that strips the 8th bit or translates CR/LF damages
 * every frame (all of them then fail their CRC and are counted as bad frames).
 */

import { crc32c } from './crc32c.ts';
import { FrameWindow } from './frameWindow.ts';

export const frameMagic = Uint8Array.of(0xf1, 0x4b, 0x01, 0xd7);
export const frameVersion = 1;
export const frameHeaderBytes = 16;
export const frameTrailerBytes = 4;
/** Default bound on a payload: one journal batch of several MB fits, a corrupted length does not. */
export const defaultMaxPayloadBytes = 16 * 1024 * 1024;

export const FrameType = { json: 1, binary: 2, zstdJson: 3 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const [magic0, magic1, magic2, magic3] = [0xf1, 0x4b, 0x01, 0xd7];
/** Input is consumed in slices of at most this size, so memory stays bounded whatever a caller pushes. */
const pushSliceBytes = 1024 * 1024;
const initialBufferBytes = 64 * 1024;

const utf8Encoder = new TextEncoder();
/** Fatal: a payload that is not UTF-8 is refused, not patched with U+FFFD. Stateless between calls (no streaming). */
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Thrown by the encoders when a payload exceeds the frame bound; the caller should send less at once. */
export class FrameTooLargeError extends RangeError {
  readonly payloadBytes: number;
  readonly maxPayloadBytes: number;
  constructor(payloadBytes: number, maxPayloadBytes: number) {
    super(`frame payload of ${payloadBytes} bytes exceeds the ${maxPayloadBytes}-byte bound`);
    this.name = 'FrameTooLargeError';
    this.payloadBytes = payloadBytes;
    this.maxPayloadBytes = maxPayloadBytes;
  }
}

function writeU32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value & 0xff;
  target[offset + 1] = (value >>> 8) & 0xff;
  target[offset + 2] = (value >>> 16) & 0xff;
  target[offset + 3] = (value >>> 24) & 0xff;
}

function readU32(source: Uint8Array, offset: number): number {
  return ((source[offset] ?? 0) | ((source[offset + 1] ?? 0) << 8) | ((source[offset + 2] ?? 0) << 16) | ((source[offset + 3] ?? 0) << 24)) >>> 0;
}

/** Frames an already encoded payload. */
export function encodeRawFrame(type: FrameType, payload: Uint8Array, maxPayloadBytes = defaultMaxPayloadBytes): Uint8Array {
  if (payload.length > maxPayloadBytes) throw new FrameTooLargeError(payload.length, maxPayloadBytes);
  const frame = new Uint8Array(frameHeaderBytes + payload.length + frameTrailerBytes);
  frame.set(frameMagic, 0);
  frame[4] = frameVersion;
  frame[5] = type;
  // bytes 6-7: flags, zero
  writeU32(frame, 8, payload.length);
  writeU32(frame, 12, crc32c(frame, 0, 12));
  frame.set(payload, frameHeaderBytes);
  writeU32(frame, frameHeaderBytes + payload.length, crc32c(payload));
  return frame;
}

/**
 * Frames one message as UTF-8 JSON. Throws FrameTooLargeError when it does not fit
 * (split the work: a smaller batch).
 */
export function encodeFrame(message: unknown, maxPayloadBytes = defaultMaxPayloadBytes): Uint8Array {
  return encodeRawFrame(FrameType.json, utf8Encoder.encode(JSON.stringify(message)), maxPayloadBytes);
}

/** Frames bytes for a binary channel (file transfer): a u32 channel id, then the data. */
export function encodeBinaryFrame(channel: number, data: Uint8Array, maxPayloadBytes = defaultMaxPayloadBytes): Uint8Array {
  const payload = new Uint8Array(4 + data.length);
  writeU32(payload, 0, channel >>> 0);
  payload.set(data, 4);
  return encodeRawFrame(FrameType.binary, payload, maxPayloadBytes);
}

/** Why bytes were skipped. */
export type FrameFaultKind =
  /** Bytes that are not part of any frame (line noise, kernel messages, echoes). */
  | 'garbage'
  /** A magic whose header failed its CRC: a false start in garbage, or a damaged header. */
  | 'header_crc'
  /** A header with a valid CRC but a version, type, flag or length this decoder refuses. */
  | 'header_field'
  /** A payload that failed its CRC: bits flipped or bytes lost in transit. */
  | 'payload_crc'
  /** A payload with a valid CRC that is not valid UTF-8 JSON (or a binary frame without a channel). */
  | 'payload_invalid'
  /** A JSON frame cut short: the next frame began inside its payload. */
  | 'interrupted'
  /** The stream ended inside a frame. */
  | 'truncated';

export type DecodedItem =
  | { kind: 'message'; message: unknown; frameBytes: number }
  | { kind: 'binary'; channel: number; data: Uint8Array; frameBytes: number }
  /** A zstd-compressed JSON message: the receiver (node side) decompresses it, bounded, and parses it. */
  | { kind: 'compressed'; data: Uint8Array; frameBytes: number }
  /** `bytes`: how many bytes were skipped (garbage, truncated) or the frame's declared size. */
  | { kind: 'fault'; fault: FrameFaultKind; bytes: number; detail: string };

export type DecoderStats = {
  frames: number;
  frameBytes: number;
  /** Bytes dropped because they were not part of an intact frame. */
  skippedBytes: number;
  /** Frames (or false starts) refused: header CRC/field, payload CRC/invalid, interrupted, truncated. */
  badFrames: number;
};

export type FrameDecoder = {
  /** Feeds bytes; returns the frames completed and the faults found, in stream order. Never throws. */
  push(chunk: Uint8Array): DecodedItem[];
  /** The stream ended: reports a partial frame left behind (and any trailing garbage). */
  end(): DecodedItem[];
  readonly stats: Readonly<DecoderStats>;
  /** Bytes held waiting for the rest of a frame (bounded by one frame). */
  readonly bufferedBytes: number;
};

export type FrameDecoderOptions = { maxPayloadBytes?: number };

/** A header's verdict: what follows it, or the fault to report and why. */
type HeaderCheck = { ok: true; type: number; length: number } | { ok: false; fault: 'header_crc' | 'header_field'; detail: string };

/** Checks the 16-byte header at `at`: its CRC, then the version, type, flags and length this decoder accepts. */
function checkHeader(bytes: Uint8Array, at: number, maxPayloadBytes: number): HeaderCheck {
  if (crc32c(bytes, at, at + 12) !== readU32(bytes, at + 12)) {
    return { ok: false, fault: 'header_crc', detail: 'frame header failed its CRC32C (noise that looked like a frame start, or a damaged header)' };
  }
  const version = bytes[at + 4] ?? 0;
  const type = bytes[at + 5] ?? 0;
  const flags = (bytes[at + 6] ?? 0) | ((bytes[at + 7] ?? 0) << 8);
  const length = readU32(bytes, at + 8);
  const refusal =
    version !== frameVersion
      ? `frame version ${version} (this side speaks ${frameVersion}: update the older of agent and app)`
      : type !== FrameType.json && type !== FrameType.binary && type !== FrameType.zstdJson
        ? `unknown frame type ${type}`
        : flags !== 0
          ? `unknown frame flags 0x${flags.toString(16)}`
          : length > maxPayloadBytes
            ? `frame length ${length} exceeds the ${maxPayloadBytes}-byte bound`
            : null;
  return refusal === null ? { ok: true, type, length } : { ok: false, fault: 'header_field', detail: refusal };
}

/** Decodes the payload of a frame whose CRCs held. */
function decodePayload(type: number, payload: Uint8Array, frameBytes: number): DecodedItem {
  if (type === FrameType.binary) {
    if (payload.length < 4) return { kind: 'fault', fault: 'payload_invalid', bytes: frameBytes, detail: 'binary frame shorter than its 4-byte channel id' };
    // A copy: the buffer is reused for the next frames.
    return { kind: 'binary', channel: readU32(payload, 0), data: payload.slice(4), frameBytes };
  }
  if (type === FrameType.zstdJson) return { kind: 'compressed', data: payload.slice(), frameBytes };
  try {
    return { kind: 'message', message: JSON.parse(utf8Decoder.decode(payload)) as unknown, frameBytes };
  } catch (error) {
    return { kind: 'fault', fault: 'payload_invalid', bytes: frameBytes, detail: `frame payload is not UTF-8 JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/**
 * The resynchronising scan behind createFrameDecoder: finds each magic in the held bytes,
 * checks the header and payload after it, and accounts for every byte it skips (one
 * 'garbage' item per run of skipped bytes, and the counts in `stats`).
 */
class FrameScanner {
  readonly window = new FrameWindow(initialBufferBytes);
  readonly stats: DecoderStats = { frames: 0, frameBytes: 0, skippedBytes: 0, badFrames: 0 };
  private readonly maxPayloadBytes: number;
  /** Dropped bytes not yet reported, coalesced into one 'garbage' item per run. */
  private pendingGarbage = 0;
  /** For a JSON frame waiting on its payload: how far the payload was searched for a magic. */
  private interruptScannedTo = -1;

  constructor(maxPayloadBytes: number) {
    this.maxPayloadBytes = maxPayloadBytes;
  }

  /** Takes one slice of input and appends the frames and faults it completes to `out`. */
  push(piece: Uint8Array, out: DecodedItem[]): void {
    const moved = this.window.append(piece);
    if (this.interruptScannedTo >= 0) this.interruptScannedTo -= moved;
    this.drain(out);
    this.window.releaseIfIdle();
  }

  /**
   * The stream ended, so what is held is incomplete. A frame cut short may have swallowed
   * whole frames after it as its (binary) payload: report it, step past its magic and rescan.
   */
  finish(out: DecodedItem[]): void {
    const window = this.window;
    while (window.end > window.start) {
      if (window.held >= 4 && this.isMagicAt(window.start)) {
        this.fault(out, 'truncated', window.held, `the link closed ${window.held} bytes into a frame`);
        this.drop(1);
      } else {
        this.drop(window.held);
      }
      this.drain(out);
    }
    this.flushGarbage(out);
    window.clear();
    this.interruptScannedTo = -1;
    window.releaseIfIdle();
  }

  flushGarbage(out: DecodedItem[]): void {
    if (this.pendingGarbage > 0) {
      out.push({ kind: 'fault', fault: 'garbage', bytes: this.pendingGarbage, detail: `skipped ${this.pendingGarbage} bytes outside frames` });
      this.pendingGarbage = 0;
    }
  }

  private drop(n: number): void {
    this.window.start += n;
    this.pendingGarbage += n;
    this.stats.skippedBytes += n;
    this.interruptScannedTo = -1;
  }

  private fault(out: DecodedItem[], kind: FrameFaultKind, bytes: number, detail: string): void {
    this.stats.badFrames++;
    this.flushGarbage(out);
    out.push({ kind: 'fault', fault: kind, bytes, detail });
  }

  private isMagicAt(i: number): boolean {
    const bytes = this.window.bytes;
    return bytes[i] === magic0 && bytes[i + 1] === magic1 && bytes[i + 2] === magic2 && bytes[i + 3] === magic3;
  }

  /** True when the bytes held so far (fewer than four) could still grow into a magic. */
  private isMagicPrefixAt(i: number): boolean {
    for (let k = i; k < this.window.end; k++) if (this.window.bytes[k] !== frameMagic[k - i]) return false;
    return true;
  }

  /** Moves the window's start to the next magic; false when more input is needed. */
  private seekMagic(): boolean {
    const window = this.window;
    for (;;) {
      const found = window.bytes.subarray(window.start, window.end).indexOf(magic0);
      if (found < 0) {
        this.drop(window.held);
        return false;
      }
      if (found > 0) this.drop(found);
      if (window.held < 4) {
        if (this.isMagicPrefixAt(window.start)) return false;
      } else if (this.isMagicAt(window.start)) {
        return true;
      }
      this.drop(1);
    }
  }

  /** Decodes what is held; appends frames and faults to `out`. */
  private drain(out: DecodedItem[]): void {
    const window = this.window;
    for (;;) {
      if (!this.seekMagic()) return;
      if (window.held < frameHeaderBytes) return;
      const header = checkHeader(window.bytes, window.start, this.maxPayloadBytes);
      if (!header.ok) {
        this.fault(out, header.fault, frameHeaderBytes, header.detail);
        this.drop(1);
        continue;
      }
      const { type, length } = header;
      const payloadStart = window.start + frameHeaderBytes;
      const frameEnd = payloadStart + length + frameTrailerBytes;
      if (window.end < frameEnd) {
        if (type === FrameType.json && this.interruptedAt(payloadStart, Math.min(window.end, payloadStart + length), out)) continue;
        return;
      }
      this.interruptScannedTo = -1;
      if (crc32c(window.bytes, payloadStart, payloadStart + length) !== readU32(window.bytes, payloadStart + length)) {
        this.fault(out, 'payload_crc', frameHeaderBytes + length + frameTrailerBytes, `frame payload of ${length} bytes failed its CRC32C (bits flipped or bytes lost on the link)`);
        this.drop(1);
        continue;
      }
      this.emitFrame(type, payloadStart, length, frameEnd, out);
    }
  }

  /** A frame whose CRCs held: decodes it, counts it, and moves past it. */
  private emitFrame(type: number, payloadStart: number, length: number, frameEnd: number, out: DecodedItem[]): void {
    const window = this.window;
    const frameBytes = frameEnd - window.start;
    const item = decodePayload(type, window.bytes.subarray(payloadStart, payloadStart + length), frameBytes);
    this.flushGarbage(out);
    if (item.kind === 'fault') {
      this.stats.badFrames++;
      this.stats.skippedBytes += frameBytes;
    } else {
      this.stats.frames++;
      this.stats.frameBytes += frameBytes;
    }
    out.push(item);
    window.start = frameEnd;
  }

  /**
   * A JSON payload can never contain the magic (it is invalid UTF-8), so a magic inside
   * it means this frame lost bytes and the next frame has begun: give up on this one now
   * rather than swallow the following frames as its payload.
   */
  private interruptedAt(payloadStart: number, searchEnd: number, out: DecodedItem[]): boolean {
    const window = this.window;
    let from = Math.max(payloadStart, this.interruptScannedTo);
    for (;;) {
      const found = from < searchEnd ? window.bytes.subarray(from, searchEnd).indexOf(magic0) : -1;
      if (found < 0) {
        // Re-check the last three bytes next time: a magic may be arriving across pushes.
        this.interruptScannedTo = Math.max(payloadStart, searchEnd - 3);
        return false;
      }
      const at = from + found;
      if (window.end - at < 4) {
        this.interruptScannedTo = at;
        return false;
      }
      if (this.isMagicAt(at)) {
        const cut = at - window.start;
        this.fault(out, 'interrupted', cut, `a frame was cut short after ${cut - frameHeaderBytes} payload bytes (the link lost bytes); the next frame follows`);
        this.drop(cut);
        return true;
      }
      from = at + 1;
    }
  }
}

/** An incremental, resynchronising frame decoder (see the file comment for the format). */
export function createFrameDecoder(options: FrameDecoderOptions = {}): FrameDecoder {
  const scanner = new FrameScanner(options.maxPayloadBytes ?? defaultMaxPayloadBytes);
  return {
    push(chunk) {
      const out: DecodedItem[] = [];
      for (let offset = 0; offset < chunk.length; offset += pushSliceBytes) {
        scanner.push(chunk.subarray(offset, Math.min(chunk.length, offset + pushSliceBytes)), out);
      }
      scanner.flushGarbage(out);
      return out;
    },
    end() {
      const out: DecodedItem[] = [];
      scanner.finish(out);
      return out;
    },
    get stats() {
      return scanner.stats;
    },
    get bufferedBytes() {
      return scanner.window.held;
    },
  };
}
