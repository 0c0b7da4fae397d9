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
  /** Rows ClickHouse refused, set aside until retried or discarded (see courier.quarantine.*). */
  quarantined: z.number().int().nonnegative(),
  /** When a batch of this journal was last confirmed by ClickHouse (null: never). */
  last_forward_ms: z.number().int().nullable(),
});
export type CourierJournal = z.infer<typeof CourierJournalSchema>;

/** What one pull job carried (the courier.pull job's result). */
export const PullResultSchema = z.object({
  deviceRef: z.string(),
  deviceId: z.string(),
  journals: z.array(
    z.object({
      journal_id: z.string(),
      pulled: z.number().int(),
      new_records: z.number().int(),
      contiguous_seq: z.number().int(),
      agent_last_seq: z.number().int(),
      losses: z.number().int(),
      forwarded_reported: z.number().int(),
    }),
  ),
  clockOffsetMs: z.number(),
  roundTripMs: z.number(),
  healthMinutes: z.number().int(),
  /** What crossed the link: frame bytes received, and the journal batches that came zstd-compressed (absent before compressed pulls). */
  transfer: z.object({ bytesIn: z.number().int().nonnegative(), compressedFrames: z.number().int().nonnegative(), decompressedBytes: z.number().int().nonnegative() }).optional(),
});
export type PullResult = z.infer<typeof PullResultSchema>;

/** What one forward job did. */
export const ForwardResultSchema = z.object({
  serverVersion: z.string(),
  dedupTokens: z.boolean(),
  /** Records and loss records ClickHouse confirmed in this run. */
  forwarded: z.number().int().nonnegative(),
  lossesForwarded: z.number().int().nonnegative(),
  batches: z.number().int().nonnegative(),
  /** Rows set aside in this run because the server refused them. */
  quarantined: z.number().int().nonnegative(),
  /** Still waiting (0 unless the run was cut short). */
  pending: z.number().int().nonnegative(),
  retries: z.number().int().nonnegative(),
  /** Health history rows (per-minute figures, notable events) ClickHouse confirmed in this run. */
  healthMinutesForwarded: z.number().int().nonnegative().optional(),
  healthEventsForwarded: z.number().int().nonnegative().optional(),
  rowsPerSec: z.number().nonnegative(),
});
export type ForwardResult = z.infer<typeof ForwardResultSchema>;

/**
 * Why seqs are missing from ClickHouse:
 * - `lost_on_device`: covered by the agent's loss records (retention or corruption);
 * - `not_yet_pulled`: above what this laptop holds contiguously, still on the device;
 * - `not_yet_forwarded`: held on this laptop, waiting for a forward;
 * - `quarantined`: held here, refused by ClickHouse, waiting for retry or discard;
 * - `discarded`: refused by ClickHouse and discarded by a technician (with a recorded reason);
 * - `held_by_other_courier`: the agent handed them to another courier or its own uplink;
 * - `unknown`: none of the above (forwarded but gone from ClickHouse, or never seen).
 */
export const MissingReasonSchema = z.enum(['lost_on_device', 'not_yet_pulled', 'not_yet_forwarded', 'quarantined', 'discarded', 'held_by_other_courier', 'unknown']);
export type MissingReason = z.infer<typeof MissingReasonSchema>;

export const MissingRangeSchema = z.object({
  from_seq: z.number().int().positive(),
  to_seq: z.number().int().positive(),
  count: z.number().int().positive(),
  reason: MissingReasonSchema,
  /** Words for the technician ("retention on device", "courier laptop:x"). */
  detail: z.string(),
});
export type MissingRange = z.infer<typeof MissingRangeSchema>;

export const ReconcileJournalSchema = z.object({
  device_id: z.string(),
  journal_id: z.string(),
  device_ref: z.string().nullable(),
  /**
   * `complete`: nothing is known to be outside ClickHouse (every seq through the device's
   * head at the end of the last pull, and no later word says more); `not_yet_pulled`:
   * ClickHouse has everything through `complete_through_seq`, the rest is still on the
   * device; `missing`: ClickHouse lacks records for another reason. See shared/courierVerdict.ts.
   */
  status: z.enum(['complete', 'not_yet_pulled', 'missing']),
  /** The status in a few words ("complete", "complete through seq 1,200", "150 missing"). */
  badge: z.string(),
  /** The summary without the device's label, for a screen that shows the device beside it. */
  verdict: z.string(),
  /** Seqs 1 through here are expected (the device's last seq as last seen, or more). */
  expected_through: z.number().int().nonnegative(),
  /** ClickHouse holds every seq from 1 through here. */
  complete_through_seq: z.number().int().nonnegative(),
  /** When the last pull of this journal ended. */
  last_pull_ms: z.number().int(),
  /** The device's latest seq as last heard: at the end of the last pull, or estimated from a later live health sample. */
  device_head: z.object({ seq: z.number().int().nonnegative(), at_ms: z.number().int(), source: z.enum(['pull', 'health']) }),
  /** Records on the device not pulled yet: known exactly from a pull, or estimated (`not_yet_pulled_estimated`) from a health sample. */
  not_yet_pulled: z.number().int().nonnegative(),
  not_yet_pulled_estimated: z.boolean(),
  clickhouse: z.object({
    /** Rows including those not merged yet. */
    count: z.number().int().nonnegative(),
    distinct: z.number().int().nonnegative(),
    min_seq: z.number().int().nonnegative(),
    max_seq: z.number().int().nonnegative(),
  }),
  /** Rows that ReplacingMergeTree will merge away (count minus distinct); FINAL already hides them. */
  duplicates_awaiting_merge: z.number().int().nonnegative(),
  missing_records: z.number().int().nonnegative(),
  /** Missing seqs per reason. */
  missing_by_reason: z.record(MissingReasonSchema, z.number().int().nonnegative()),
  /** Missing ranges, explained; at most `missing_ranges_total` shown, the first ones. */
  missing: z.array(MissingRangeSchema),
  missing_ranges_total: z.number().int().nonnegative(),
  /** One line: "pi-07: complete through seq 1350, all the device had when pulled 8 min ago" or "pi-07: seq 1200-1350 missing (lost on device: retention)". */
  summary: z.string(),
});
export type ReconcileJournal = z.infer<typeof ReconcileJournalSchema>;

export const ReconcileResultSchema = z.object({
  checkedMs: z.number().int(),
  serverVersion: z.string(),
  table: z.string(),
  journals: z.array(ReconcileJournalSchema),
});
export type ReconcileResult = z.infer<typeof ReconcileResultSchema>;

export const QuarantineIdSchema = z.number().int().positive();

/** A row ClickHouse refused, kept on this laptop with the server's words. */
export const QuarantineEntrySchema = z.object({
  id: QuarantineIdSchema,
  kind: z.enum(['record', 'loss']),
  device_id: z.string(),
  journal_id: z.string(),
  /** The record's seq, or the loss record's first seq. */
  seq: z.number().int(),
  /** The loss record's last seq; equal to seq for a record. */
  to_seq: z.number().int(),
  state: z.enum(['quarantined', 'discarded']),
  /** What the server said when it refused the row alone. */
  reason: z.string(),
  attempts: z.number().int().positive(),
  quarantined_ms: z.number().int(),
  last_attempt_ms: z.number().int(),
  /** The start of the row as sent, for a technician to see what is wrong with it. */
  preview: z.string(),
  discarded_ms: z.number().int().nullable(),
  discard_reason: z.string().nullable(),
});
export type QuarantineEntry = z.infer<typeof QuarantineEntrySchema>;
