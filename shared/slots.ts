/**
 * OS updates of A/B Pis in the field: the inactive slot is written from a signed image over
 * the network, booted once on trial with the firmware's tryboot, and committed only when
 * healthy. A rehearsal does all of it but deliberately does not commit, proving the device
 * falls back to its old slot.
 */
import { z } from 'zod';
import { TranscriptEntrySchema } from './deploy.ts';
import { AppErrorSchema } from './errors.ts';

export const SlotSchema = z.enum(['a', 'b']);
export type Slot = z.infer<typeof SlotSchema>;

export const SlotUpdateStatusSchema = z.enum([
  /** The new slot booted on trial, passed the health gate and is now the committed slot. */
  'committed',
  /** Rehearsal: the new slot booted on trial and passed; not committed; the device is back on its old slot. */
  'rehearsed',
  /** The trial failed (not the new slot, or unhealthy); the device was rebooted and is back on its old slot. */
  'rolled-back',
  /** Nothing was written: the image or the device failed a check. */
  'refused',
  /** The device did not come back in time; a power cycle returns it to its old slot. */
  'not-returned',
  /** Something else went wrong (link lost mid-write, cancelled); the committed slot is unchanged. */
  'failed',
]);
export type SlotUpdateStatus = z.infer<typeof SlotUpdateStatusSchema>;

export const SlotUpdateOutcomeSchema = z.object({
  status: SlotUpdateStatusSchema,
  imageVersion: z.string().nullable(),
  fromSlot: SlotSchema.nullable(),
  toSlot: SlotSchema.nullable(),
  /** The slot the device runs at the end, as last seen; null when it was not seen. */
  endSlot: SlotSchema.nullable(),
  bytesSent: z.number().int().nonnegative(),
  durationMs: z.number().int().nonnegative(),
  error: AppErrorSchema.optional(),
  transcript: z.array(TranscriptEntrySchema),
});
export type SlotUpdateOutcome = z.infer<typeof SlotUpdateOutcomeSchema>;

export const SlotUpdateRequestSchema = z.strictObject({
  deviceId: z.string().regex(/^dev_[0-9a-z]{6,40}$/, 'a device id looks like dev_ followed by letters and digits'),
  imagePath: z.string().min(1, 'name a signed fieldkit image (.fkimg)'),
  /** Boot the new slot on trial, do not commit, and confirm the device returns to its old slot. */
  rehearse: z.boolean().default(false),
  /** How long each reboot may take before the device counts as not returned. */
  bootTimeoutSeconds: z.number().int().min(10).max(1800).default(180),
});
export type SlotUpdateRequest = z.input<typeof SlotUpdateRequestSchema>;

/** The job's one line: what happened, where the device ended. */
export function summarizeSlotUpdate(outcome: SlotUpdateOutcome): string {
  const move = outcome.fromSlot !== null && outcome.toSlot !== null ? ` ${outcome.fromSlot.toUpperCase()} → ${outcome.toSlot.toUpperCase()}` : '';
  const image = outcome.imageVersion ?? 'the image';
  const end = outcome.endSlot === null ? 'not seen' : `on slot ${outcome.endSlot.toUpperCase()}`;
  const why = outcome.error === undefined ? '' : `: ${outcome.error.message}`;
  switch (outcome.status) {
    case 'committed':
      return `${image} committed (slot${move}); the device runs slot ${outcome.endSlot?.toUpperCase() ?? '?'}.`;
    case 'rehearsed':
      return `Rehearsal of ${image} passed: the trial${move} booted healthy, was not committed, and the device is back ${end}.`;
    case 'rolled-back':
      return `${image} not committed; the device is back ${end}${why}`;
    case 'refused':
      return `Slot update refused, nothing written${why}`;
    case 'not-returned':
      return `The device did not come back from the trial boot${move}${why}`;
    case 'failed':
      return `Slot update failed; the committed slot is unchanged${why}`;
  }
}
