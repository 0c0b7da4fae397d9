/** Flashing: the trusted signing keys, the unsigned-image policy, picking and inspecting an image, the flash itself. */
import { z } from 'zod';
import { JobIdSchema, type JobKindContract } from '../jobId.ts';
import { FlashSettingsSchema, KeyIdSchema, TrustedKeySchema } from '../trust.ts';
import { FlashResultSchema, FlashStartRequestSchema, ImageSummarySchema } from '../flash.ts';
import type { MethodSpec } from './methodSpec.ts';

export const flashMethods = {
  'trust.list': {
    summary: 'Image signing keys this laptop trusts, revoked ones included (with when and why).',
    request: z.strictObject({}),
    response: z.object({ keys: z.array(TrustedKeySchema) }),
  },
  'trust.import': {
    summary: 'Trust a minisign public key (the text of its .pub file) for verifying images.',
    request: z.strictObject({
      publicKey: z.string().min(1, 'paste the text of the .pub file').max(4096),
      label: z.string().trim().min(1, 'say whose key this is').max(200),
    }),
    response: z.object({ key: TrustedKeySchema }),
  },
  'trust.revoke': {
    summary: 'Stop trusting a key for good: images it signed are refused, and it cannot be imported again.',
    request: z.strictObject({
      keyId: KeyIdSchema,
      reason: z.string().trim().min(3, 'say why this key is revoked (kept with it)').max(500),
    }),
    response: z.object({ key: TrustedKeySchema }),
  },
  'settings.flash.get': {
    summary: 'The flashing policy: whether unsigned images may be flashed (with a warning).',
    request: z.strictObject({}),
    response: z.object({ settings: FlashSettingsSchema }),
  },
  'settings.flash.set': {
    summary: 'Allow or refuse flashing unsigned images.',
    request: z.strictObject({ allowUnsigned: z.boolean() }),
    response: z.object({ settings: FlashSettingsSchema }),
  },
  'flash.browse': {
    summary: 'Folders and image files in a folder of this computer, to pick an image to flash.',
    request: z.strictObject({
      /** Absolute folder; the user's Downloads (or home) folder when absent. */
      dir: z.string().min(1).optional(),
    }),
    response: z.object({
      dir: z.string(),
      parent: z.string().nullable(),
      entries: z.array(
        z.object({ name: z.string(), path: z.string(), kind: z.enum(['dir', 'signed', 'plain']), bytes: z.number().int().nonnegative().nullable(), modifiedMs: z.number() }),
      ),
      /** Images flashed or inspected before, newest first, that still exist. */
      recent: z.array(z.string()),
    }),
  },
  'flash.inspect': {
    summary: 'What an image is before it is written: signer, version, boards, layout, sizes, and why it may not be flashed.',
    request: z.strictObject({ imagePath: z.string().min(1, 'name an image file (.fkimg, or .img/.img.xz/.img.gz/.img.zst)') }),
    response: z.object({ image: ImageSummarySchema }),
  },
  'flash.start': {
    summary: 'Flash one image to one or more drives at once, each verified and given its first-boot identity (a job).',
    request: FlashStartRequestSchema,
    response: z.object({ jobId: JobIdSchema }),
  },
} as const satisfies Record<string, MethodSpec>;

/** The flash domain's job kind and what it returns (on a failed or cancelled flash too: the drives that finished). */
export const flashJobs = {
  'flash.write': { result: FlashResultSchema },
} as const satisfies Record<string, JobKindContract>;
