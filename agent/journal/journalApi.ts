/**
 * What the rest of the agent (ingest, RPC, uplink, health) may ask of the journal. The
 * implementation (node:sqlite, WAL) lives beside this file; callers depend on this type
 * only, so each part can be built and tested on its own.
 */
import type { IngestEvent, JournalInfo, JournalRecord, JournalReplacesPayload, LossRecord, Priority } from '../../shared/journal.ts';

export type AppendResult = { first_seq: number; last_seq: number; count: number };

export type ReadOptions = {
  after_seq: number;
  /** At most this many records. */
  limit: number;
  /** Stop adding records once the batch holds about this many payload bytes (at least one record). */
  max_bytes: number;
  priorities?: readonly Priority[] | undefined;
};

/** What `startReplacing` answers: the continuity record of this journal. */
export type ContinuityAnswer = JournalReplacesPayload & {
  journal_id: string;
  /** Always 1: the record that names the replaced journal. */
  seq: number;
  /** False when the journal already began with this very record (a rerun). */
  created: boolean;
};

export type Journal = {
  readonly deviceId: string;
  readonly journalId: string;
  /**
   * Appends events in one transaction and returns once they are durable (synchronous
   * FULL commit): only then may the producer be acknowledged. Throws JournalFullError
   * (→ 507) when the disk budget is exhausted and nothing may be dropped, and
   * JournalStorageError on ENOSPC or I/O errors; in both cases nothing was appended.
   */
  append(events: readonly IngestEvent[], recvMs: number): AppendResult;
  /**
   * Appends several batches in one transaction (group commit: one fsync for many
   * producers); each batch gets its own contiguous seq range, in order. All or nothing,
   * with the same errors as `append`.
   */
  appendBatches(batches: readonly (readonly IngestEvent[])[], recvMs: number): AppendResult[];
  /** Records in seq order after `after_seq`. */
  read(options: ReadOptions): JournalRecord[];
  info(): JournalInfo;
  /** Courier confirmed it holds everything through `throughSeq` durably. Never moves back. */
  ackCustody(courierId: string, throughSeq: number, atMs: number): number;
  /** ClickHouse confirmed everything through `throughSeq` (uplink, or reported by a courier). Never moves back. */
  ackForwarded(by: string, throughSeq: number, atMs: number): number;
  losses(afterSeq: number): LossRecord[];
  /** Drops what the retention policy requires (3 before 2 before 1, confirmed first), recording losses. */
  enforceRetention(nowMs: number): LossRecord[];
  /**
   * On a replacement device: makes this journal's first record (seq 1) name the failed
   * device's journal and the last seq of it the laptop knew. Idempotent for the same
   * claim; refused (CONFLICT) on a journal that already holds other records.
   */
  startReplacing(replaced: JournalReplacesPayload, nowMs: number): ContinuityAnswer;
  /** The journal this one continues (its first record), or null. */
  replaces(): JournalReplacesPayload | null;
  close(): void;
};
