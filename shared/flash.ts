/**
 * Flashing as the app API sees it: what an image is before it is written (`flash.inspect`),
 * what a flash is asked to do (`flash.start`: one image, one or more drives, each with its
 * own first-boot identity), and what each drive ended as (the `flash.write` job's result).
 */
import { z } from 'zod';
import { AgentConfigSchema } from './agentConfig.ts';
import { AppErrorSchema } from './errors.ts';
import { BoardSchema, CompressionSchema, PartitionLayoutSchema } from './image.ts';

/** Plain (unsigned) disk images fieldkit will write when the policy allows it. */
export const plainImageExtensions = ['.img', '.img.xz', '.img.gz', '.img.zst'] as const;

const HostnameSchema = z
  .string()
  .trim()
  .min(1, 'give the Pi a hostname')
  .max(63, 'a hostname is at most 63 characters')
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/, 'a hostname is letters, digits and inner dashes (no dots, no spaces)');

/** One OpenSSH public key line (`ssh-ed25519 AAAA… comment`). */
export const SshPublicKeySchema = z
  .string()
  .trim()
  .regex(
    /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$/,
    'one OpenSSH public key line, as in a .pub file (ssh-ed25519 AAAA… comment)',
  );

/**
 * Who the Pi will be on its first boot. Written into the boot FAT partition after the image
 * is verified on the drive, then read back.
 */
export const FlashIdentitySchema = z.strictObject({
  deviceId: z
    .string()
    .trim()
    .min(1, 'give the device an id')
    .max(128)
    .regex(/^[A-Za-z0-9._-]+$/, 'a device id is letters, digits, dot, dash, underscore'),
  hostname: HostnameSchema,
  site: z.string().trim().max(128).default(''),
  /**
   * Keys allowed to log in as the image's user. The app's own key is always added so
   * fieldkit can reach the Pi afterwards; this is for the technician's own key.
   */
  sshPublicKeys: z.array(SshPublicKeySchema).max(16).default([]),
  /** Agent settings beyond the identity (ingest ports, uplink…); device_id and site come from above. */
  agentConfig: AgentConfigSchema.partial().omit({ device_id: true, site: true }).optional(),
});
export type FlashIdentity = z.output<typeof FlashIdentitySchema>;
export type FlashIdentityInput = z.input<typeof FlashIdentitySchema>;

/** A drive to flash, as the technician confirmed it: a swapped card of another size is refused. */
export const FlashTargetSchema = z.strictObject({
  device: z.string().min(1, 'name a drive such as /dev/sdb'),
  /** The size the technician saw and confirmed; the flash refuses the drive if it differs now. */
  expectSizeBytes: z.number().int().positive(),
  identity: FlashIdentitySchema.optional(),
});
export type FlashTarget = z.output<typeof FlashTargetSchema>;

export const SignatureStatusSchema = z.enum(['trusted', 'untrusted', 'revoked', 'invalid', 'unsigned']);
export type SignatureStatus = z.infer<typeof SignatureStatusSchema>;

/** What the Flash screen and `fieldkit image inspect` show about an image before anything is written. */
export const ImageSummarySchema = z.object({
  path: z.string(),
  fileBytes: z.number().int().nonnegative(),
  kind: z.enum(['signed', 'plain']),
  signature: z.object({
    status: SignatureStatusSchema,
    keyId: z.string().nullable(),
    /** The trust store's label for the key, when it is known there. */
    signer: z.string().nullable(),
    revokedReason: z.string().nullable(),
  }),
  product: z.string().nullable(),
  version: z.string().nullable(),
  sequence: z.number().int().nullable(),
  issuedAt: z.string().nullable(),
  expiresAt: z.string().nullable(),
  boards: z.array(BoardSchema),
  compression: CompressionSchema,
  /** Bytes of the disk image once decompressed; null when a plain image does not say. */
  rawBytes: z.number().int().nonnegative().nullable(),
  /** Bytes a flash writes (all but the free filesystem space its block map lists); null for plain images. */
  mappedBytes: z.number().int().nonnegative().nullable(),
  layout: PartitionLayoutSchema.nullable(),
  /** What first-boot customisation the image declares (cloud-init, firstrun.sh) or none. */
  firstBoot: z.enum(['cloud-init', 'firstrun', 'none']),
  /** Why this image cannot be flashed now; empty when it can. */
  problems: z.array(AppErrorSchema),
  /** Shown on every flash of this image (an unsigned image, say) but not forbidding it. */
  warnings: z.array(z.string()),
});
export type ImageSummary = z.infer<typeof ImageSummarySchema>;

export const FlashTargetStateSchema = z.enum(['queued', 'preparing', 'checking', 'writing', 'verifying', 'customising', 'ejecting', 'success', 'incomplete', 'refused']);
export type FlashTargetState = z.infer<typeof FlashTargetStateSchema>;

/** One drive's progress inside a flash job (carried in JobProgress.targets). */
export const FlashTargetProgressSchema = z.object({
  device: z.string(),
  description: z.string(),
  state: FlashTargetStateSchema,
  bytesDone: z.number().nonnegative(),
  bytesTotal: z.number().nonnegative().nullable(),
  rateBytesPerSec: z.number().nonnegative().nullable(),
  etaSeconds: z.number().nonnegative().nullable(),
});
export type FlashTargetProgress = z.infer<typeof FlashTargetProgressSchema>;

export const FirstBootFileSchema = z.object({ name: z.string(), bytes: z.number().int().nonnegative(), sha256: z.string() });

export const FlashTargetResultSchema = z.object({
  device: z.string(),
  description: z.string(),
  status: z.enum(['success', 'incomplete', 'refused']),
  /** "incomplete — do not use" when the drive holds a partial image. */
  label: z.string().nullable(),
  error: AppErrorSchema.nullable(),
  bytesWritten: z.number().int().nonnegative(),
  bytesVerified: z.number().int().nonnegative(),
  seconds: z.number().nonnegative(),
  /** Files written into the boot partition and read back, when an identity was given. */
  firstBootFiles: z.array(FirstBootFileSchema),
  /**
   * Signed images: free filesystem space left unwritten (no file reads it), and whether the
   * drive discarded it; `note` says why not. Absent when nothing was skipped.
   */
  freeSpace: z.object({ bytes: z.number().int().nonnegative(), discarded: z.boolean(), note: z.string().nullable() }).optional(),
  ejected: z.boolean(),
});
export type FlashTargetResult = z.infer<typeof FlashTargetResultSchema>;

export const FlashResultSchema = z.object({
  image: z.object({ path: z.string(), kind: z.enum(['signed', 'plain']), product: z.string().nullable(), version: z.string().nullable() }),
  targets: z.array(FlashTargetResultSchema),
  /** Warnings shown with this flash (unsigned image…), repeated in the result for the record. */
  warnings: z.array(z.string()),
});
export type FlashResult = z.infer<typeof FlashResultSchema>;

export const FlashStartRequestSchema = z.strictObject({
  imagePath: z.string().min(1, 'pick an image file'),
  targets: z
    .array(FlashTargetSchema)
    .min(1, 'pick at least one drive')
    .max(16, 'at most 16 drives at once')
    .refine((targets) => new Set(targets.map((t) => t.device)).size === targets.length, 'each drive may be picked once')
    .refine(
      (targets) => {
        const ids = targets.flatMap((t) => (t.identity ? [t.identity.deviceId] : []));
        return new Set(ids).size === ids.length;
      },
      'two drives must not get the same device id',
    ),
  /** Must be true to flash an unsigned plain image (and the policy must allow them). */
  acceptUnsigned: z.boolean().default(false),
  /** Plain images only: skip writing all-zero blocks (only safe on a drive known to read zeros). */
  skipZeroBlocks: z.boolean().default(false),
  /**
   * Signed images: write every byte, the free filesystem space the image's block map lets a
   * flash skip too, so the drive equals the raw image up to its size (slower; for a card whose
   * old contents must not survive even where no filesystem reads them and discard is missing).
   */
  writeAll: z.boolean().default(false),
  /** Leave the drives attached afterwards (tests, or to inspect them). */
  eject: z.boolean().default(true),
});
export type FlashStartRequest = z.output<typeof FlashStartRequestSchema>;
