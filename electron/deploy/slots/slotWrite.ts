/**
 * Streams the inactive slot's partitions from a signed image to the device: the payload is
 * decompressed on the laptop once, only the mapped ranges that fall in the target
 * partitions cross the link (in batches, each piece `head -c | dd` into the partition), the
 * unmapped parts of those partitions are zeroed on the device (`blkdiscard -z`), and every
 * piece is read back on the device (`dd | sha256sum`, after dropping the buffer cache) and
 * compared with what was sent. The signed range hashes are checked again in this pass, so
 * an image file changed after verification is caught before anything is booted.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import type { ImageManifest, ImagePartition } from '../../../shared/image.ts';
import type { RemoteSteps } from '../remoteSteps.ts';
import { payloadDecoder } from '../../kernel/image/zeroFrames.ts';
import { RangeChecker } from '../../kernel/image/rangeChecker.ts';
import type { VerifiedImage } from '../../kernel/image/verifyImage.ts';
import { partitionDevice, partitionPrefix } from './tryboot.ts';

type Segment = { part: ImagePartition; imgStart: number; imgEnd: number };
type Piece = { part: number; offset: number; bytes: Buffer; sha256: string };

const batchBytes = 8 << 20;

/** Mapped bytes of `parts` in image order, clipped to each partition. */
export function segmentsFor(manifest: ImageManifest, parts: ImagePartition[]): Segment[] {
  const segments: Segment[] = [];
  for (const range of manifest.block_map.ranges) {
    for (const part of parts) {
      const imgStart = Math.max(range.offset, part.start);
      const imgEnd = Math.min(range.offset + range.length, part.start + part.size);
      if (imgStart < imgEnd) segments.push({ part, imgStart, imgEnd });
    }
  }
  return segments.sort((a, b) => a.imgStart - b.imgStart);
}

/** The unmapped parts of `part`, partition-relative, to be zeroed. */
export function gapsOf(part: ImagePartition, segments: Segment[]): { offset: number; length: number }[] {
  const gaps: { offset: number; length: number }[] = [];
  let at = part.start;
  for (const s of segments.filter((x) => x.part.index === part.index)) {
    if (s.imgStart > at) gaps.push({ offset: at - part.start, length: s.imgStart - at });
    at = Math.max(at, s.imgEnd);
  }
  if (at < part.start + part.size) gaps.push({ offset: at - part.start, length: part.start + part.size - at });
  return gaps;
}

export type SlotWriteOptions = {
  remote: RemoteSteps;
  imagePath: string;
  verified: VerifiedImage;
  disk: string;
  parts: ImagePartition[];
  onProgress?: ((bytesDone: number, bytesTotal: number) => void) | undefined;
};

export async function writeSlot(options: SlotWriteOptions): Promise<{ bytesSent: number; pieces: number }> {
  const { remote, verified, disk, parts } = options;
  const { manifest } = verified;
  const segments = segmentsFor(manifest, parts);
  const total = segments.reduce((s, x) => s + x.imgEnd - x.imgStart, 0);

  // Zero what the image leaves unmapped in these partitions first: stale bytes of the old
  // slot there would be read as the new filesystem's.
  const zeroScript = parts
    .flatMap((p) => gapsOf(p, segments).map((g) => `blkdiscard -f -z -o ${String(g.offset)} -l ${String(g.length)} ${partitionDevice(disk, p.index)}`))
    .join(' && ');
  if (zeroScript !== '') await remote.must('write', `set -e; ${zeroScript}`, 'Zeroing the unmapped parts of the inactive slot', { sudo: true, timeoutMs: 600_000 });

  let sent = 0;
  let pieceCount = 0;
  let batch: Piece[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const pieces = batch;
    batch = [];
    const header = (p: Piece) => {
      const direct = p.offset % 4096 === 0 && p.bytes.length % 4096 === 0 ? 'direct,' : '';
      return Buffer.from(`${String(p.part)} ${String(p.offset)} ${String(p.bytes.length)} ${direct}\n`);
    };
    const stdin = Buffer.concat(pieces.flatMap((p) => [header(p), p.bytes]));
    // dash's `read` takes one byte at a time and GNU head -c never reads past its count, so
    // header lines and data share one stdin safely.
    const writer = `while read p o l f; do head -c "$l" | dd of=${partitionPrefix(disk)}"$p" bs=1M iflag=fullblock oflag=\${f}seek_bytes seek="$o" conv=notrunc status=none || exit 1; done`;
    await remote.must('write', writer, `Writing ${String(pieces.length)} ranges`, { sudo: true, stdin, timeoutMs: 600_000, shownAs: `${writer}  # ${String(pieces.length)} ranges, ${String(stdin.length)} bytes on stdin` });
    const byPart = new Map<number, Piece[]>();
    for (const p of pieces) byPart.set(p.part, [...(byPart.get(p.part) ?? []), p]);
    const checks = [...byPart.entries()]
      .map(([part, list]) => {
        const dev = partitionDevice(disk, part);
        return [`blockdev --flushbufs ${dev}`, ...list.map((p) => `dd if=${dev} bs=1M iflag=skip_bytes,count_bytes skip=${String(p.offset)} count=${String(p.bytes.length)} status=none | sha256sum | cut -d' ' -f1`)].join('; ');
      })
      .join('; ');
    const got = (await remote.must('verify', checks, 'Reading back the written ranges', { sudo: true, timeoutMs: 600_000 })).trim().split('\n');
    const order = [...byPart.values()].flat();
    for (const [i, p] of order.entries()) {
      if (got[i] !== p.sha256) {
        throw new FieldkitError(
          appError('VERIFICATION_FAILED', `The range at byte ${String(p.offset)} of partition ${String(p.part)} reads back as ${got[i] ?? 'nothing'} on the device, not the ${p.sha256} that was sent.`, 'The card may be failing. Nothing was booted from it: the device stays on its committed slot. Check or replace the card, then try again.'),
        );
      }
    }
    pieceCount += pieces.length;
  };

  const checker = new RangeChecker(manifest.block_map.ranges);
  const member = verified.payload;
  const input = createReadStream(options.imagePath, { start: member.offset, end: member.offset + member.size - 1, highWaterMark: 1 << 20 });
  const decoder = payloadDecoder(manifest.payload, { skipZeroFrames: false });
  const stream: Readable = decoder === null ? input : typeof decoder === 'function' ? Readable.from(decoder(input)) : input.pipe(decoder);
  let position = 0;
  let next = 0;
  let current: { seg: Segment; parts: Buffer[]; hash: ReturnType<typeof createHash> } | null = null;
  for await (const raw of stream) {
    const chunk = raw as Buffer;
    checker.update(chunk);
    const chunkEnd = position + chunk.length;
    while (next < segments.length) {
      const seg = segments[next];
      if (seg === undefined || seg.imgStart >= chunkEnd) break;
      const from = Math.max(seg.imgStart, position);
      const to = Math.min(seg.imgEnd, chunkEnd);
      current ??= { seg, parts: [], hash: createHash('sha256') };
      const slice = chunk.subarray(from - position, to - position);
      current.parts.push(Buffer.from(slice));
      current.hash.update(slice);
      if (to < seg.imgEnd) break;
      const bytes = Buffer.concat(current.parts);
      batch.push({ part: seg.part.index, offset: seg.imgStart - seg.part.start, bytes, sha256: current.hash.digest('hex') });
      current = null;
      next += 1;
      sent += bytes.length;
      if (batch.reduce((s, p) => s + p.bytes.length, 0) >= batchBytes) {
        await flush();
        options.onProgress?.(sent, total);
      }
    }
    position = chunkEnd;
  }
  await flush();
  options.onProgress?.(sent, total);
  if (checker.mismatch !== null || !checker.complete() || position !== manifest.payload.raw_size) {
    throw new FieldkitError(appError('VERIFICATION_FAILED', `${options.imagePath} changed after it was verified: its bytes no longer match the signed manifest.`, 'Nothing was booted from what was written: the device stays on its committed slot. Get the image again and retry.'));
  }
  return { bytesSent: sent, pieces: pieceCount };
}
