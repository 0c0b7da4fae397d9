/**
 * Whether the next journal.read item travels zstd-compressed, decided item by item from
 * what this agent has measured: its own compress rate and the ratio it got (from the
 * items it compressed), and the rate its output has been taken at (frame writer: bytes
 * per second since the first frame). Compressing pays while the bytes it saves take
 * longer on the link than compressing them takes here:
 *
 *   compress seconds per byte  <  (1 - compressed/plain) / link bytes per second
 *
 * When compression itself is what holds the stream back (a Pi 4 on a fast link with data
 * that compresses poorly), the rate the link is seen to take rises towards the compress
 * rate and the inequality fails: the items go plain, so the Pi's CPU does not become the
 * bottleneck. Over Wi-Fi or a serial console it holds. While sending plain, every 16th
 * item is compressed anyway, so a link that slows down (or data that compresses better)
 * is noticed.
 */

export type CompressionSample = { plainBytes: number; wireBytes: number; compressSeconds: number };

export type CompressionChoice = {
  /** The zstd level for the next item, or null to send it plain. */
  next(linkBytesPerSecond: number | null): number | null;
  /** What compressing one item cost and saved. */
  note(sample: CompressionSample): void;
};

/** Below this link rate (bytes/s) the stronger level pays: a serial console, a poor radio link. */
const slowLinkBytesPerSecond = 1024 * 1024;
const probeEvery = 16;

export function createCompressionChoice(): CompressionChoice {
  /** Moving averages over the compressed items: seconds per plain byte, and wire bytes per plain byte. */
  let secondsPerByte: number | null = null;
  let ratio = 1;
  let sincePlainProbe = 0;

  const levelFor = (link: number | null): number => (link !== null && link < slowLinkBytesPerSecond ? 3 : 1);

  return {
    next(link) {
      // Nothing measured yet: compress, which measures both the cost and the ratio.
      if (secondsPerByte === null || link === null) return levelFor(link);
      if (secondsPerByte < (1 - ratio) / link) return levelFor(link);
      sincePlainProbe++;
      if (sincePlainProbe >= probeEvery) {
        sincePlainProbe = 0;
        return levelFor(link);
      }
      return null;
    },
    note(sample) {
      if (sample.plainBytes <= 0) return;
      const perByte = sample.compressSeconds / sample.plainBytes;
      const r = Math.min(1, sample.wireBytes / sample.plainBytes);
      secondsPerByte = secondsPerByte === null ? perByte : 0.7 * secondsPerByte + 0.3 * perByte;
      ratio = 0.7 * ratio + 0.3 * r;
      if (secondsPerByte === perByte) ratio = r;
    },
  };
}
