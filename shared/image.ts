/**
 * A fieldkit image's manifest (`manifest.json`, the first member of a `.fkimg` tar, signed by
 * `manifest.json.minisig`, followed by the payload `image.img.zst`). The signature covers
 * these exact bytes; the payload's SHA-256 and each mapped range's SHA-256 in here then
 * cover every byte that will be written. `fieldkit image pack` writes it; verify and flash
 * check it before the first byte reaches a drive.
 */
import { z } from 'zod';

export const imageFileExtension = '.fkimg';
export const imageManifestName = 'manifest.json';
export const imageSignatureName = 'manifest.json.minisig';
/** The payload member's name for each compression. */
export const imagePayloadNames = { none: 'image.img', zstd: 'image.img.zst', xz: 'image.img.xz', gz: 'image.img.gz' } as const;

const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'lower-case hex SHA-256');
const ByteCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const BoardSchema = z.enum(['pi3', 'pi4', 'pi400', 'pi5', 'pi500', 'cm4', 'cm5', 'zero2w']);
export type Board = z.infer<typeof BoardSchema>;

export const CompressionSchema = z.enum(['none', 'zstd', 'xz', 'gz']);
export type Compression = z.infer<typeof CompressionSchema>;

export const ImagePayloadSchema = z.strictObject({
  compression: CompressionSchema,
  /** Bytes of the payload member as stored in the tar. */
  compressed_size: ByteCount,
  /** Bytes of the disk image after decompression. */
  raw_size: ByteCount,
  /** Of the stored (compressed) payload: checked while streaming, before decompression. */
  sha256: Sha256Schema,
  /** Of the whole raw image, zeros included. */
  raw_sha256: Sha256Schema,
  /**
   * zstd only: frames of the stored payload that decode to nothing but unmapped zeros (long
   * gaps between mapped ranges, each packed as a frame of its own). A writer may pass them by
   * without decoding, as nothing of them is written; `zstd -d` still decodes the payload whole.
   */
  zero_frames: z.array(z.strictObject({ raw_offset: ByteCount, raw_length: z.number().int().positive(), stored_offset: ByteCount, stored_length: z.number().int().positive() })).max(1024).optional(),
}).refine(
  (p) => (p.zero_frames ?? []).every((f, i, all) => {
    const prev = all[i - 1];
    return prev === undefined || (prev.raw_offset + prev.raw_length <= f.raw_offset && prev.stored_offset + prev.stored_length <= f.stored_offset);
  }),
  { message: 'zero_frames must be sorted and must not overlap' },
);
export type ImagePayload = z.infer<typeof ImagePayloadSchema>;

export const MappedRangeSchema = z.strictObject({ offset: ByteCount, length: z.number().int().positive(), sha256: Sha256Schema });
export type MappedRange = z.infer<typeof MappedRangeSchema>;

export const FreeRangeSchema = z.strictObject({ offset: ByteCount, length: z.number().int().positive() });
export type FreeRange = z.infer<typeof FreeRangeSchema>;

/** At most this many `free` ranges (the pack coarsens its blocks before listing more, as for `ranges`). */
export const maxFreeRanges = 4096;

function sortedApart(ranges: readonly { offset: number; length: number }[]): boolean {
  return ranges.every((r, i) => i === 0 || (ranges[i - 1]?.offset ?? 0) + (ranges[i - 1]?.length ?? 0) <= r.offset);
}

/** True when no range of `a` overlaps one of `b` (each sorted): one merge pass, for up to 4096 of each. */
function apart(a: readonly { offset: number; length: number }[], b: readonly { offset: number; length: number }[]): boolean {
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    const x = a[i] as { offset: number; length: number };
    const y = b[j] as { offset: number; length: number };
    if (x.offset < y.offset + y.length && y.offset < x.offset + x.length) return false;
    if (x.offset + x.length <= y.offset + y.length) i++;
    else j++;
  }
  return true;
}

/**
 * Which bytes of the raw image a writer must put on the drive. `ranges` hold data, each with
 * its SHA-256. Every other byte is zero. In manifest_version 2, `free` lists the stretches of
 * those zeros that are filesystem free space (ext2/3/4 bitmaps, FAT tables): no filesystem
 * reads them, so a writer may leave them unwritten; every zero byte *not* in `free` (a file of
 * zeros, an inode table, a journal) must be written as zeros. `free` is the list a writer may
 * skip, not the list it must write, so a reader that ignores it writes too much, never too
 * little. Version 1 manifests have no `free`; their zeros are all written (the version-1
 * writers skipped them, which left a used card's old bytes inside files).
 */
export const BlockMapSchema = z
  .strictObject({ block_size: z.number().int().min(4096).max(64 << 20), ranges: z.array(MappedRangeSchema), free: z.array(FreeRangeSchema).max(maxFreeRanges).optional() })
  .refine((m) => sortedApart(m.ranges), { message: 'ranges must be sorted and must not overlap' })
  .refine((m) => sortedApart(m.free ?? []), { message: 'free ranges must be sorted and must not overlap' })
  .refine((m) => apart(m.ranges, m.free ?? []), { message: 'free ranges must not overlap mapped ranges' });
export type BlockMap = z.infer<typeof BlockMapSchema>;

export const PartitionRoleSchema = z.enum(['bootsel', 'boot_a', 'boot_b', 'root_a', 'root_b', 'data', 'other']);
export type PartitionRole = z.infer<typeof PartitionRoleSchema>;

export const ImagePartitionSchema = z.strictObject({
  /** 1-based, as Linux numbers them (`/dev/sda1`). */
  index: z.number().int().min(1).max(128),
  /** Bytes from the start of the image. */
  start: ByteCount,
  size: ByteCount,
  /** MBR type byte as two hex digits (`0c`) or a GPT type GUID (lower case). */
  type: z.string().min(2).max(36),
  role: PartitionRoleSchema,
  label: z.string().max(72).optional(),
});
export type ImagePartition = z.infer<typeof ImagePartitionSchema>;

export const PartitionLayoutSchema = z.strictObject({ table: z.enum(['mbr', 'gpt']), partitions: z.array(ImagePartitionSchema).min(1) });
export type PartitionLayout = z.infer<typeof PartitionLayoutSchema>;

/**
 * How the image customises itself on first boot, so the flasher knows which files to write
 * into the boot partition: cloud-init (`user-data`, `meta-data`, `network-config`) or
 * Raspberry Pi OS's `firstrun.sh` run from a `systemd.run=` hook in `cmdline.txt`.
 */
export const FirstBootSchema = z.strictObject({
  kind: z.enum(['cloud-init', 'firstrun']),
  /** The login user the technician's and the app's SSH keys are authorised for. */
  user: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a Linux user name: lower-case letters, digits, _ and -, at most 32')
    .default('pi'),
});
export type FirstBoot = z.infer<typeof FirstBootSchema>;

export const ImageManifestSchema = z.strictObject({
  /**
   * Bumped only for changes an older verifier would misread: 2 added `block_map.free`, and with
   * it the rule that zeros outside `free` must be written (a version-1 writer skips all zeros).
   */
  manifest_version: z.union([z.literal(1), z.literal(2)]),
  product: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ -'),
  version: z.string().min(1).max(64),
  /** Grows with every release of a product, so an older image can be told from a newer one. */
  sequence: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  issued_at: z.iso.datetime(),
  /** After this instant the image is refused: an old image with known holes must not be flashed forever. */
  expires_at: z.iso.datetime(),
  boards: z.array(BoardSchema).min(1),
  payload: ImagePayloadSchema,
  block_map: BlockMapSchema,
  layout: PartitionLayoutSchema,
  /** Absent in older manifests: no first-boot customisation declared. */
  first_boot: FirstBootSchema.optional(),
}).refine((m) => (m.manifest_version === 2) === (m.block_map.free !== undefined), { message: 'block_map.free is given exactly in manifest_version 2', path: ['block_map', 'free'] });
export type ImageManifest = z.infer<typeof ImageManifestSchema>;

/** Bytes of data the block map lists (its ranges with SHA-256s). */
export function mappedBytes(map: BlockMap): number {
  return map.ranges.reduce((sum, r) => sum + r.length, 0);
}

/** Bytes of free filesystem space a writer may leave unwritten (0 for a version-1 map). */
export function freeBytes(map: BlockMap): number {
  return (map.free ?? []).reduce((sum, r) => sum + r.length, 0);
}

/** Bytes a flash writes: data and the zeros outside free space; with `writeAll`, every byte. */
export function bytesToWrite(manifest: Pick<ImageManifest, 'payload' | 'block_map'>, writeAll = false): number {
  return manifest.payload.raw_size - (writeAll ? 0 : freeBytes(manifest.block_map));
}
