/**
 * Credit-based flow control for one streaming request. The laptop grants credit (in its
 * request, then in `credit` messages as it consumes); each item sent uses one. A producer
 * never sends without credit, and also waits while the output is backed up, so neither a
 * slow consumer nor a slow link makes the agent buffer.
 */
import type { CompressedSend, FrameWriter } from './frameWriter.ts';

export type StreamControl = {
  /** Waits until one item may be sent (credit left and the output has room); false once the stream must stop. */
  slot(): Promise<boolean>;
  /** Sends one item and uses one credit. Throws FrameTooLargeError (nothing sent) when it does not fit a frame. */
  send(item: unknown): void;
  /** As send, in a zstd frame; null when nothing was sent (the link closed). */
  sendCompressed(item: unknown, level: number): CompressedSend | null;
  /** Bytes written per second since the first frame (frameWriter.ts); null until there is enough to tell. */
  readonly linkBytesPerSecond: number | null;
  /** Cancelled by the laptop, or the link closed. */
  readonly stopped: boolean;
  readonly credit: number;
  /** Items sent so far (the next item's `n`). */
  readonly sent: number;
  /** Resolves at the next change: credit, cancel, link closed, or `wake()`. */
  changed(): Promise<void>;
  /** Wakes whoever waits in `changed()` (a producer's own event, such as a new sample). */
  wake(): void;
};

/** The server's side of a stream: what messages from the laptop do to it. */
export type StreamState = StreamControl & {
  grant(n: number): void;
  cancel(): void;
  /** The link closed: stop at once. */
  abort(): void;
};

export function createStreamState(id: number, initialCredit: number, writer: FrameWriter): StreamState {
  let credit = initialCredit;
  let sent = 0;
  let cancelled = false;
  let aborted = false;
  let waiters: (() => void)[] = [];

  function stopped(): boolean {
    return cancelled || aborted || writer.closed;
  }

  function wake(): void {
    const woken = waiters;
    waiters = [];
    for (const w of woken) w();
  }

  function changed(): Promise<void> {
    if (stopped()) return Promise.resolve();
    return new Promise((resolve) => waiters.push(resolve));
  }

  return {
    async slot() {
      while (!stopped() && credit <= 0) await changed();
      if (stopped()) return false;
      await writer.ready();
      return !stopped();
    },
    send(item) {
      if (credit <= 0) throw new Error(`stream ${id}: an item without credit (a producer bug)`);
      if (writer.send({ type: 'item', id, n: sent, item })) {
        credit--;
        sent++;
      }
    },
    sendCompressed(item, level) {
      if (credit <= 0) throw new Error(`stream ${id}: an item without credit (a producer bug)`);
      const outcome = writer.sendCompressed({ type: 'item', id, n: sent, item }, level);
      if (outcome !== null) {
        credit--;
        sent++;
      }
      return outcome;
    },
    get linkBytesPerSecond() {
      return writer.linkBytesPerSecond;
    },
    get stopped() {
      return stopped();
    },
    get credit() {
      return credit;
    },
    get sent() {
      return sent;
    },
    changed,
    wake,
    grant(n) {
      credit = Math.min(Number.MAX_SAFE_INTEGER, credit + n);
      wake();
    },
    cancel() {
      cancelled = true;
      wake();
    },
    abort() {
      aborted = true;
      wake();
    },
  };
}
