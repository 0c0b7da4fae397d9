/**
 * Writes RPC messages as frames to the output stream, and tells producers when to pause:
 * `write()` returning false means the link is not keeping up, so streams wait for 'drain'
 * before their next item instead of piling frames up in memory.
 */
import type { RpcMessage } from '../../shared/agentRpc.ts';
import { encodeFrame } from '../../shared/rpcFrame.ts';

export type FrameWriter = {
  /**
   * Encodes and writes one message; false when the link is closed (nothing written).
   * Throws FrameTooLargeError (before writing anything) when the message does not fit a frame.
   */
  send(message: RpcMessage): boolean;
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

  return {
    send(message) {
      if (closed) return false;
      const frame = encodeFrame(message, maxPayloadBytes);
      frames++;
      if (!output.write(frame)) backedUp = true;
      return true;
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
