/**
 * The bandwidth cap (`uplink.max_bytes_per_s`): batches are sized to about one second's
 * worth of wire bytes and paced by the bytes that really went on the wire (gzip ratio and
 * JSON overhead learnt from each batch), so a metered link is billed what the cap says.
 */

/** Without a cap, a batch's payloads stay below this (memory on a 1 GB Pi). */
const MAX_BATCH_PAYLOAD_BYTES = 8 * 1024 * 1024;
/** With a cap, a batch is about one second's worth, so pacing is smooth. */
const MIN_CAPPED_BATCH_BYTES = 16 * 1024;

export type Pacer = {
  /** Payload bytes the next batch may hold. */
  batchPayloadBytes: () => number;
  /** Waits until the cap allows the next batch (returns early once stopped). */
  wait: () => Promise<void>;
  /** Learns from a batch that went out: `sent` wire bytes for `payloadBytes`, started at `sendStart`. */
  sent: (sendStart: number, sent: number, payloadBytes: number) => void;
};

/** `cap` in bytes per second, or null for none. */
export function createPacer(cap: number | null, sleep: (ms: number) => Promise<void>, isStopped: () => boolean): Pacer {
  /** Wire bytes per payload byte, learnt from each batch (gzip ratio plus JSON overhead). */
  let wirePerPayloadByte = 1;
  let nextSendAt = 0;
  return {
    batchPayloadBytes() {
      if (cap === null) return MAX_BATCH_PAYLOAD_BYTES;
      return Math.min(MAX_BATCH_PAYLOAD_BYTES, Math.max(MIN_CAPPED_BATCH_BYTES, Math.floor(cap / wirePerPayloadByte)));
    },
    async wait() {
      while (!isStopped() && cap !== null && Date.now() < nextSendAt) await sleep(nextSendAt - Date.now());
    },
    sent(sendStart, sent, payloadBytes) {
      if (payloadBytes > 0) wirePerPayloadByte = Math.min(4, Math.max(0.02, sent / payloadBytes));
      if (cap !== null) nextSendAt = sendStart + (sent / cap) * 1000;
    },
  };
}
