/** The courier as the UI and CLI see it: what this laptop carries for each journal. */
import { z } from 'zod';

export const CourierJournalSchema = z.object({
  device_id: z.string(),
  journal_id: z.string(),
  /** The laptop's device entry this journal was pulled from (null if since removed). */
  device_ref: z.string().nullable(),
  site: z.string(),
  /** Records held on this laptop. */
  held: z.number().int().nonnegative(),
  /** Held but not yet confirmed in ClickHouse. */
  pending_forward: z.number().int().nonnegative(),
  /** Every seq up to here is held here or explained by a loss record. */
  contiguous_seq: z.number().int().nonnegative(),
  /** The device's last seq when last seen. */
  agent_last_seq: z.number().int().nonnegative(),
  custody_acked_seq: z.number().int().nonnegative(),
  forwarded_reported_seq: z.number().int().nonnegative(),
  losses: z.number().int().nonnegative(),
  lost_records: z.number().int().nonnegative(),
  last_pull_ms: z.number().int(),
  last_clock_offset_ms: z.number().int().nullable(),
});
export type CourierJournal = z.infer<typeof CourierJournalSchema>;
