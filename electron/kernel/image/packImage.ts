/**
 * `fieldkit image pack`: a raw disk image becomes a signed fieldkit image (`.fkimg`), an
 * uncompressed tar of manifest.json, manifest.json.minisig and image.img.zst (or .gz, or
 * the raw image). The manifest
 * carries the block map and partition layout, so a flasher can check everything it will
 * write against the signature before it writes anything.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { canonicalJsonText } from '../../../shared/canonicalJson.ts';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import { imageManifestName, ImageManifestSchema, imagePayloadNames, imageSignatureName, type Board, type ImageManifest } from '../../../shared/image.ts';
import { defaultTrustedComment, signBytes } from '../signing/minisign.ts';
import { formatSignature, type MinisignSecretKey } from '../signing/minisignFormat.ts';
import { writeUstar } from '../signing/ustarArchive.ts';
import { readImageZeroingFree, scanImage, scanImageFitting } from './blockMap.ts';
import { findFreeSpace, type ByteRange, type FreeSpace } from './freeBlocks/freeSpace.ts';
import { layoutOf } from './imageLayout.ts';
import { readPartitionTable } from './partitionTable.ts';
import { compressZstdFramed, planZeroFrames, type RawSpan, type ZeroFrame } from './zeroFrames.ts';

export type PackOptions = {
  product: string;
  version: string;
  sequence: number;
  boards: Board[];
  /** Days from `now` until the image is refused. */
  expiresDays: number;
  key: MinisignSecretKey;
  now?: Date;
  /** Block map granularity; default blockMap.ts's defaultBlockSize, coarsened if the map would list too many ranges. */
  blockSize?: number;
  /** zstd level; 3 (zstd's default) packs an 80 MiB image in about a second. */
  level?: number;
  /** zstd unless asked: gz for old tooling, none for images that are already small. xz is not written (Node has no encoder). */
  compression?: 'zstd' | 'gz' | 'none';
  /**
   * Default true: free space of the ext2/3/4 and FAT filesystems is stored as zeros and listed
   * as free in the block map (freeBlocks/), so a flash may leave it unwritten. false keeps the
   * raw image byte for byte, and a flash writes every byte.
   */
  unmapFreeSpace?: boolean;
  /** The first-boot customisation the image expects (cloud-init or firstrun.sh); none when absent. */
  firstBoot?: { kind: 'cloud-init' | 'firstrun'; user?: string };
};

/** `freeSpace`: the filesystem space the pack zeroed and left out of the block map, per partition. */
export type PackedImage = { file: string; manifest: ImageManifest; manifestBytes: Buffer; freeSpace: FreeSpace };

/** Writes `raw` to `out` compressed as asked, returning the stored bytes' SHA-256 and size. */
async function compress(raw: string, free: readonly ByteRange[], out: string, compression: 'zstd' | 'gz' | 'none', level: number, gaps: readonly RawSpan[]): Promise<{ sha256: string; size: number; zeroFrames?: ZeroFrame[] }> {
  if (compression === 'zstd') return compressZstdFramed(readImageZeroingFree(raw, free), gaps, out, level);
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  const input = Readable.from(readImageZeroingFree(raw, free), { objectMode: false });
  if (compression === 'none') await pipeline(input, tap, createWriteStream(out));
  else await pipeline(input, createGzip({ level: 6 }), tap, createWriteStream(out));
  return { sha256: hash.digest('hex'), size };
}

/** Packs `raw` into the signed image `out` (written to a temporary name, then renamed). */
export async function packImage(raw: string, out: string, options: PackOptions): Promise<PackedImage> {
  const info = await stat(raw).catch(() => null);
  if (info?.isFile() !== true) throw new FieldkitError(appError('NOT_FOUND', `${raw} is not a file.`, 'Give the path of a raw disk image (.img).'));
  const now = options.now ?? new Date();
  const table = await readPartitionTable(raw);
  const freeSpace: FreeSpace = options.unmapFreeSpace === false ? { ranges: [], freeBytes: 0, partitions: [] } : await findFreeSpace(raw, table);
  // An asked-for block size is kept as asked; the default adapts so the manifest stays readable.
  const scanned = options.blockSize === undefined ? await scanImageFitting(raw, freeSpace.ranges) : await scanImage(raw, options.blockSize, freeSpace.ranges);
  const outside = table.partitions.find((p) => p.start + p.size > scanned.rawSize);
  if (outside !== undefined) {
    throw new FieldkitError(appError('BAD_REQUEST', `${raw}'s partition ${outside.index} ends at byte ${outside.start + outside.size}, past the end of the ${scanned.rawSize}-byte image.`, 'The image is truncated or its partition table is wrong; make the raw image again.'));
  }
  const work = await mkdtemp(path.join(path.dirname(path.resolve(out)), '.fkimg-pack-'));
  try {
    const compression = options.compression ?? 'zstd';
    const payloadName = imagePayloadNames[compression];
    const payloadFile = path.join(work, payloadName);
    const payload = await compress(raw, freeSpace.ranges, payloadFile, compression, options.level ?? 3, planZeroFrames(scanned.blockMap.ranges, scanned.rawSize));
    const candidate: ImageManifest = {
      // 2: the block map lists free space (block_map.free); zeros outside it must be written.
      manifest_version: 2,
      product: options.product,
      version: options.version,
      sequence: options.sequence,
      issued_at: now.toISOString(),
      expires_at: new Date(now.getTime() + options.expiresDays * 86_400_000).toISOString(),
      boards: options.boards,
      payload: {
        compression,
        compressed_size: payload.size,
        raw_size: scanned.rawSize,
        sha256: payload.sha256,
        raw_sha256: scanned.rawSha256,
        ...(payload.zeroFrames !== undefined && payload.zeroFrames.length > 0 ? { zero_frames: payload.zeroFrames } : {}),
      },
      block_map: scanned.blockMap,
      layout: layoutOf(table),
      ...(options.firstBoot === undefined ? {} : { first_boot: { kind: options.firstBoot.kind, user: options.firstBoot.user ?? 'pi' } }),
    };
    const parsed = ImageManifestSchema.safeParse(candidate);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new FieldkitError(appError('BAD_REQUEST', `The manifest would be invalid: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}.`, 'Check --product, --version, --sequence, --boards, --expires-days and --first-boot-user.'));
    }
    const manifestBytes = Buffer.from(canonicalJsonText(parsed.data), 'utf8');
    const signature = signBytes(options.key, manifestBytes, { trustedComment: defaultTrustedComment(imageManifestName, 'ED', now) });
    const temp = path.join(work, 'out.fkimg');
    await writeUstar(
      temp,
      [
        { path: imageManifestName, mode: 0o644, source: { kind: 'bytes', bytes: manifestBytes } },
        { path: imageSignatureName, mode: 0o644, source: { kind: 'bytes', bytes: Buffer.from(formatSignature(signature)) } },
        { path: payloadName, mode: 0o644, source: { kind: 'file', path: payloadFile, size: payload.size } },
      ],
      Math.floor(now.getTime() / 1000),
    );
    await rename(temp, out);
    return { file: out, manifest: parsed.data, manifestBytes, freeSpace };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
