/**
 * Writes RPC messages as frames to the output stream, and tells producers when to pause:
 * `write()` returning false means the link is not keeping up, so streams wait for 'drain'
 * before their next item instead of piling frames up in memory. The bytes written per
 * second since the first frame are the link's rate as this side sees it (what compression
 * is weighed against): the drain time of one write would measure only the buffers between
 * us and the network (sshd's, the socket's), which swallow megabytes at once.
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
  /** Bytes written per second since the first frame; null until there is enough to tell. */
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
  /** When the first frame was written, and the bytes written since. */
  let firstWriteAt: number | null = null;
  let bytesWritten = 0;
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

  function onDrain(): void {
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
    firstWriteAt ??= performance.now();
    bytesWritten += frame.length;
    if (!output.write(frame)) backedUp = true;
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
      const seconds = firstWriteAt === null ? 0 : (performance.now() - firstWriteAt) / 1000;
      return frames < 2 || seconds < 0.05 ? null : bytesWritten / seconds;
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
