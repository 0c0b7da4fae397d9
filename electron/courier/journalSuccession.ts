/**
 * The old journal of a replaced device, as the laptop closes it. A dead device can never
 * send a loss record for what it journaled after the last pull, so the laptop writes it:
 * the records after the last seq it holds (`through_seq`, every seq up to it held here or
 * explained) up to the highest seq it has evidence the device reached (its head at the last
 * pull, a backup's journal, a health sample) become one loss record with the reason
 * `lost_with_device`. It is stored with the pulled loss records (courier_losses), so it is
 * forwarded to ClickHouse's loss table and reconcile explains the gap with it like any other:
 * "complete through seq N; seq N+1-M missing (lost with the failed device)".
 *
 * Idempotent: a replace killed and rerun finds the loss record it wrote and keeps it.
 *
 * A restore of the state class onto the same device closes the journal it rewound the same
 * way, with the reason `rewound_by_restore`: the device never sends what it no longer holds.
 */
import type { LossReason, LossRecord } from '../../shared/journal.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { createCourierStore, type JournalState } from './courierStore.ts';

export type ClosedJournal = {
  device_id: string;
  journal_id: string;
  /** Every seq up to here is held on this laptop or explained by a loss record. */
  through_seq: number;
  /** The highest seq the device is known to have reached (≥ through_seq). */
  known_head_seq: number;
  /** The loss record for the rest, or null when nothing beyond through_seq is known to have existed. */
  lost: LossRecord | null;
};

/** The device's journal this laptop heard of last (the one a replacement continues), or null if it never pulled one. */
export function latestJournalOf(db: Store, deviceId: string): JournalState | null {
  const journals = createCourierStore(db)
    .journals()
    .filter((j) => j.device_id === deviceId);
  return journals.reduce<JournalState | null>((latest, j) => (latest === null || j.last_pull_ms > latest.last_pull_ms ? j : latest), null);
}

/**
 * Closes `journalId` of `deviceId`: records as lost with the failed device whatever it is
 * known to have journaled after the last seq held here. `evidenceSeq` is a head known from
 * elsewhere than the last pull (a backup's journal last_seq, a health sample), 0 if none.
 */
export function closeReplacedJournal(db: Store, input: { deviceId: string; journalId: string; evidenceSeq: number; nowMs: number; reason?: Extract<LossReason, 'lost_with_device' | 'rewound_by_restore'> }): ClosedJournal {
  const reason = input.reason ?? 'lost_with_device';
  const courier = createCourierStore(db);
  const journal = courier.journal(input.deviceId, input.journalId);
  if (journal === null) throw new Error(`No journal ${input.journalId} of ${input.deviceId} is held on this laptop.`);
  const throughSeq = journal.contiguous_seq;
  const existing = courier.lossRanges(input.deviceId, input.journalId, throughSeq + 1, Number.MAX_SAFE_INTEGER).find((l) => l.reason === reason);
  const knownHead = Math.max(journal.agent_last_seq, input.evidenceSeq, throughSeq, existing?.to_seq ?? 0);
  const base = { device_id: input.deviceId, journal_id: input.journalId, through_seq: throughSeq, known_head_seq: knownHead };
  if (existing !== undefined) {
    return { ...base, lost: lossRecord(input.deviceId, input.journalId, existing.from_seq, existing.to_seq, input.nowMs, reason) };
  }
  if (knownHead <= throughSeq) return { ...base, lost: null };
  // Priority 1: the range may hold records of every priority, safety ones included.
  const lost = lossRecord(input.deviceId, input.journalId, throughSeq + 1, knownHead, input.nowMs, reason);
  courier.storeLosses([lost], journal.site, input.nowMs);
  return { ...base, lost };
}

function lossRecord(deviceId: string, journalId: string, from: number, to: number, atMs: number, reason: LossReason): LossRecord {
  return { device_id: deviceId, journal_id: journalId, from_seq: from, to_seq: to, count: to - from + 1, priority: 1, reason, at_ms: atMs };
}
