/**
 * Writes RPC messages as frames to the output stream, and tells producers when to pause:
 * `write()` returning false means the link is not keeping up, so streams wait for 'drain'
 * before their next item instead of piling frames up in memory. The time from a write
 * that backed up to its 'drain' is the link's rate as this side sees it (what compression
 * is weighed against).
 */
import { constants, zstdCompressSync } from 'node:zlib';
import type { RpcMessage } from '../../shared/agentRpc.ts';
import { encodeFrame, encodeRawFrame, FrameTooLargeError, FrameType } from '../../shared/rpcFrame.ts';

/** What one compressed send cost and saved. */
export type CompressedSend = { plainBytes: number; wireBytes: number; compressSeconds: number };

const utf8 = new TextEncoder();

export type FrameWriter = {
  /**
   * Encodes and writes one message; false when the link is closed (nothing written).
   * Throws FrameTooLargeError (before writing anything) when the message does not fit a frame.
   */
  send(message: RpcMessage): boolean;
  /**
   * As send, in a zstd frame (type 3) at `level`; null when the link is closed. Throws
   * FrameTooLargeError when the message, compressed or not, exceeds the frame bound (the
   * receiver decompresses into at most that much).
   */
  sendCompressed(message: RpcMessage, level: number): CompressedSend | null;
  /** The link's drain rate seen so far (bytes/s, a moving average); null before the output first backed up. */
  readonly linkBytesPerSecond: number | null;
  /** Resolves once the output has room again (at once when it has), or when it closed. */
  ready(): Promise<void>;
  readonly closed: boolean;
  /** Resolves when the output closed or failed (EPIPE: the laptop went away). */
  readonly whenClosed: Promise<void>;
  /** Frames written so far. */
  readonly frames: number;
};

export function createFrameWriter(output: NodeJS.WritableStream, maxPayloadBytes: number): FrameWriter {
  let closed = false;
  let backedUp = false;
  let frames = 0;
  let linkRate: number | null = null;
  /** When the output last backed up, and how many bytes it then held. */
  let backedUpAt = 0;
  let backedUpBytes = 0;
  let waiters: (() => void)[] = [];
  let markClosed: () => void = () => undefined;
  const whenClosed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });

  function release(): void {
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
  }

  function noteLink(bytes: number, seconds: number): void {
    const sample = bytes / Math.max(1e-4, seconds);
    linkRate = linkRate === null ? sample : 0.7 * linkRate + 0.3 * sample;
  }

  function onDrain(): void {
    if (backedUp && backedUpBytes > 64 * 1024) noteLink(backedUpBytes, (performance.now() - backedUpAt) / 1000);
    backedUp = false;
    release();
  }

  function onClosed(): void {
    if (closed) return;
    closed = true;
    backedUp = false;
    output.removeListener('drain', onDrain);
    release();
    markClosed();
  }

  output.on('drain', onDrain);
  output.once('close', onClosed);
  output.once('finish', onClosed);
  // An error (EPIPE) on the output means the reader is gone; without a listener it would crash the agent.
  output.on('error', onClosed);

  function write(frame: Uint8Array): void {
    frames++;
    const started = performance.now();
    const accepted = output.write(frame);
    // A tty (a serial console) is written synchronously on Linux: the time inside write() is the link's.
    const inside = (performance.now() - started) / 1000;
    if (accepted && inside > 0.005 && frame.length > 1024) noteLink(frame.length, inside);
    if (!accepted && !backedUp) {
      backedUp = true;
      backedUpAt = performance.now();
      backedUpBytes = (output as { writableLength?: number }).writableLength ?? frame.length;
    }
  }

  return {
    send(message) {
      if (closed) return false;
      write(encodeFrame(message, maxPayloadBytes));
      return true;
    },
    sendCompressed(message, level) {
      if (closed) return null;
      const plain = utf8.encode(JSON.stringify(message));
      if (plain.length > maxPayloadBytes) throw new FrameTooLargeError(plain.length, maxPayloadBytes);
      const started = performance.now();
      const compressed = zstdCompressSync(plain, { params: { [constants.ZSTD_c_compressionLevel]: level } });
      const frame = encodeRawFrame(FrameType.zstdJson, compressed, maxPayloadBytes);
      const compressSeconds = (performance.now() - started) / 1000;
      write(frame);
      return { plainBytes: plain.length, wireBytes: frame.length, compressSeconds };
    },
    get linkBytesPerSecond() {
      return linkRate;
    },
    ready() {
      if (!backedUp || closed) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    get closed() {
      return closed;
    },
    whenClosed,
    get frames() {
      return frames;
    },
  };
}
