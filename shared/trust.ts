/** Image signing keys the technician trusts, and the unsigned-image policy. */
import { z } from 'zod';

/** A minisign key id as the stock tool prints it: 16 upper-case hex digits. */
export const KeyIdSchema = z
  .string()
  .trim()
  .regex(/^[0-9A-Fa-f]{16}$/, 'a key id is 16 hex digits, as `fieldkit trust list` shows')
  .transform((id) => id.toUpperCase());

export const TrustedKeySchema = z.object({
  keyId: z.string(),
  /** The base64 public key line of the .pub file. */
  publicKey: z.string(),
  label: z.string(),
  addedMs: z.number().int(),
  revokedMs: z.number().int().nullable(),
  revokedReason: z.string().nullable(),
});
export type TrustedKey = z.infer<typeof TrustedKeySchema>;

export const FlashSettingsSchema = z.object({ allowUnsigned: z.boolean() });
export type FlashSettings = z.infer<typeof FlashSettingsSchema>;
