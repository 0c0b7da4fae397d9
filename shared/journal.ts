/**
 * The agent's journal as it crosses machines: what producers send, what the journal
 * keeps, and the loss records that explain every gap. Keys are (device_id, journal_id,
 * seq): journal_id is random per journal database, so a replaced SD card never reuses
 * a key, and seq is gapless within a journal and never reused.
 */
import { z } from 'zod';

/** 1 safety, 2 state/navigation, 3 metrics. Retention drops 3 before 2 before 1. */
export const PrioritySchema = z.union([z.literal(1), z.literal(2), z.literal(3)], {
  error: 'priority must be 1 (safety), 2 (state/navigation) or 3 (metrics)',
});
export type Priority = z.infer<typeof PrioritySchema>;

export const KindSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, 'kind is lower-case letters, digits, dot, dash and underscore (such as inference or power.undervoltage)');

/** One event as a local producer sends it (JSON, or one line of NDJSON). */
export const IngestEventSchema = z.strictObject({
  /** Event time on the device clock; the receive time when absent. */
  ts_ms: z.number().int().optional(),
  priority: PrioritySchema,
  kind: KindSchema,
  model_version: z.string().max(128).optional(),
  payload: z.json(),
});
export type IngestEvent = z.infer<typeof IngestEventSchema>;

export const JournalRecordSchema = z.object({
  device_id: z.string(),
  journal_id: z.string(),
  seq: z.number().int().positive(),
  ts_ms: z.number().int(),
  recv_ms: z.number().int(),
  priority: PrioritySchema,
  kind: z.string(),
  model_version: z.string(),
  /** JSON text, exactly as journaled. */
  payload: z.string(),
});
export type JournalRecord = z.infer<typeof JournalRecordSchema>;

/**
 * Why a range was lost. `lost_with_device`: records a device journaled after the last seq the
 * laptop knew of (pulled, or in a backup) when the device failed and was replaced; the laptop
 * writes this one for the old journal, since the dead device never can. `rewound_by_restore`:
 * records a device journaled after the point a restore of its state class put its journal back
 * to, that the laptop never pulled (the restore's undo backup holds what it caught of them).
 */
export const LossReasonSchema = z.enum(['retention_budget', 'retention_max_age', 'corruption', 'lost_with_device', 'rewound_by_restore']);
export type LossReason = z.infer<typeof LossReasonSchema>;

/** A range of seqs that was dropped before anyone confirmed it; travels downstream like data. */
export const LossRecordSchema = z.object({
  device_id: z.string(),
  journal_id: z.string(),
  from_seq: z.number().int().positive(),
  to_seq: z.number().int().positive(),
  /** Records actually dropped in the range (a range may skip seqs of other priorities). */
  count: z.number().int().positive(),
  priority: PrioritySchema,
  reason: LossReasonSchema,
  at_ms: z.number().int(),
});
export type LossRecord = z.infer<typeof LossRecordSchema>;

/** The kind of a replacement journal's first record (seq 1): which journal it continues. */
export const journalReplacesKind = 'journal.replaces';

/** The payload of that record: the journal of the failed device, and the last seq of it the laptop knew of. */
export const JournalReplacesPayloadSchema = z.strictObject({
  replaces_journal_id: z.string().regex(/^[0-9a-f]{32}$/, 'a journal id is 32 hex digits'),
  last_known_seq: z.number().int().nonnegative(),
});
export type JournalReplacesPayload = z.infer<typeof JournalReplacesPayloadSchema>;

export const CustodySchema = z.object({
  courier_id: z.string(),
  /** Highest seq this courier confirmed it holds durably (everything at or below it). */
  through_seq: z.number().int().nonnegative(),
  at_ms: z.number().int(),
});

export const JournalInfoSchema = z.object({
  device_id: z.string(),
  journal_id: z.string(),
  created_ms: z.number().int(),
  /** Lowest seq still held (0 when empty). */
  first_seq: z.number().int().nonnegative(),
  /** Highest seq ever assigned (0 before the first event). */
  last_seq: z.number().int().nonnegative(),
  records: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  budget_bytes: z.number().int().positive(),
  custody: z.array(CustodySchema),
  /** Highest seq confirmed in ClickHouse (by the uplink, or reported by a courier). */
  forwarded_seq: z.number().int().nonnegative(),
  losses: z.number().int().nonnegative(),
});
export type JournalInfo = z.infer<typeof JournalInfoSchema>;

/**
 * A batch as it travels from the agent: the count and a SHA-256 over the records let the
 * receiver prove it got exactly what was sent. The hash is over `batchHashInput`.
 */
export const JournalBatchSchema = z.object({
  journal_id: z.string(),
  count: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  records: z.array(JournalRecordSchema),
});
export type JournalBatch = z.infer<typeof JournalBatchSchema>;

/**
 * A batch as the canonical lines it is hashed as (negotiated: journal.read.lines): `lines`
 * is exactly `batchHashInput` of its records, so the agent builds each line once and the
 * receiver hashes the text it received and parses it only to store it.
 */
export const JournalLinesBatchSchema = z.object({
  journal_id: z.string(),
  count: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  lines: z.string(),
});
export type JournalLinesBatch = z.infer<typeof JournalLinesBatchSchema>;

/** One record's canonical line: a JSON array, fields in a fixed order. */
export function recordLine(r: JournalRecord): string {
  return JSON.stringify([r.device_id, r.journal_id, r.seq, r.ts_ms, r.recv_ms, r.priority, r.kind, r.model_version, r.payload]);
}

/**
 * The canonical bytes a batch hash covers: one JSON array per record, fields in a fixed
 * order, joined by newlines. Both ends compute it the same way, whatever the transport.
 */
export function batchHashInput(records: readonly JournalRecord[]): string {
  return records.map(recordLine).join('\n');
}

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/** A record from its canonical line; null when the line is not one (not JSON, or a field of the wrong type). */
export function parseRecordLine(line: string): JournalRecord | null {
  let fields: unknown;
  try {
    fields = JSON.parse(line);
  } catch {
    return null;
  }
  if (!Array.isArray(fields) || fields.length !== 9) return null;
  const [device_id, journal_id, seq, ts_ms, recv_ms, priority, kind, model_version, payload] = fields as unknown[];
  if (typeof device_id !== 'string' || typeof journal_id !== 'string' || !isInt(seq) || seq <= 0 || !isInt(ts_ms) || !isInt(recv_ms)) return null;
  if ((priority !== 1 && priority !== 2 && priority !== 3) || typeof kind !== 'string' || typeof model_version !== 'string' || typeof payload !== 'string') return null;
  return { device_id, journal_id, seq, ts_ms, recv_ms, priority, kind, model_version, payload };
}
