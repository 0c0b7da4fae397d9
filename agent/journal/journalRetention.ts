/**
 * Retention: what to drop when the journal outgrows its disk budget or its maximum age.
 * It runs inside the caller's write transaction, so deletes, loss records and the
 * counters in meta commit together or not at all.
 *
 * Budget order: first rows already confirmed (custody by any courier, or forwarded),
 * priority 3 then 2 then 1, oldest first, dropped silently (they are safe elsewhere);
 * then unconfirmed priority 3, then unconfirmed priority 2, oldest first, each dropped
 * range recorded as a loss. Unconfirmed priority 1 is never dropped for the budget: the
 * caller gets JournalFullError instead (HTTP 507), and the transaction rolls back, so a
 * refused append drops nothing either.
 *
 * Confirmation is a seq watermark (everything at or below it), so within one priority the
 * confirmed rows are always the oldest ones; dropping oldest first therefore keeps every
 * loss range contiguous among the rows of its priority.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { LossReason, Priority } from '../../shared/journal.ts';
import { isClockSuspect } from './clockSanity.ts';
import { asPriority } from './journalRows.ts';

/** Drop down to this share of the budget, so retention does not run on every append. */
export const retentionHeadroom = 0.9;
const chunkRows = 2000;
const dayMs = 86_400_000;

export type RetentionPolicy = { budgetBytes: number; maxAgeDays: number | null };

/** Loss ranges found by one retention pass, before they get their ids and journal keys. */
export type PendingLoss = { from_seq: number; to_seq: number; count: number; priority: Priority; reason: LossReason };

export type RetentionOutcome = { freedBytes: number; freedRecords: number; losses: PendingLoss[] };
export type RoomOutcome = RetentionOutcome & { fits: boolean };

export type Retention = {
  /**
   * Frees room so that `storedBytes` falls to at most `limitBytes` (aiming lower, for
   * headroom). `fits` is false when that is impossible without dropping unconfirmed
   * priority-1 data: an append then rolls back (dropping nothing); a retention pass keeps
   * what it could drop.
   */
  makeRoom(storedBytes: number, limitBytes: number, confirmedThrough: number): RoomOutcome;
  /** Drops the oldest records received more than max_age_days ago. */
  dropExpired(nowMs: number, confirmedThrough: number): RetentionOutcome;
};

type SizedRow = { seq: number; size: number };
type AgedRow = { seq: number; size: number; recv_ms: number; priority: number };

/** Prepares retention's statements on an open journal database. */
export function createRetention(db: DatabaseSync, policy: RetentionPolicy): Retention {
  const confirmedRows = db.prepare('SELECT seq, size FROM records WHERE priority = ? AND seq <= ? ORDER BY seq LIMIT ?');
  const unconfirmedRows = db.prepare('SELECT seq, size FROM records WHERE priority = ? AND seq > ? ORDER BY seq LIMIT ?');
  const deleteRange = db.prepare('DELETE FROM records WHERE priority = ? AND seq >= ? AND seq <= ?');
  const oldestRows = db.prepare('SELECT seq, size, recv_ms, priority FROM records WHERE seq > ? ORDER BY seq LIMIT ?');
  const deleteThrough = db.prepare('DELETE FROM records WHERE seq <= ?');

  function rows<T>(statement: StatementSync, ...params: number[]): T[] {
    return statement.all(...params) as T[];
  }

  function makeRoom(storedBytes: number, limitBytes: number, confirmedThrough: number): RoomOutcome {
    const target = Math.min(limitBytes, Math.floor(policy.budgetBytes * retentionHeadroom));
    let stored = storedBytes;
    const outcome: RetentionOutcome = { freedBytes: 0, freedRecords: 0, losses: [] };

    // Drops the oldest rows of one priority on one side of the watermark until the
    // target is met or none are left; returns the dropped range, if any.
    function dropOldest(priority: Priority, confirmed: boolean): PendingLoss | null {
      let range: PendingLoss | null = null;
      while (stored > target) {
        const batch = rows<SizedRow>(confirmed ? confirmedRows : unconfirmedRows, priority, confirmedThrough, chunkRows);
        const first = batch[0];
        if (first === undefined) break;
        let last = first.seq;
        let count = 0;
        for (const row of batch) {
          stored -= row.size;
          outcome.freedBytes += row.size;
          last = row.seq;
          count++;
          if (stored <= target) break;
        }
        deleteRange.run(priority, first.seq, last);
        outcome.freedRecords += count;
        if (range === null) range = { from_seq: first.seq, to_seq: last, count, priority, reason: 'retention_budget' };
        else {
          range.to_seq = last;
          range.count += count;
        }
      }
      return range;
    }

    for (const priority of [3, 2, 1] as const) dropOldest(priority, true);
    for (const priority of [3, 2] as const) {
      const loss = dropOldest(priority, false);
      if (loss !== null) outcome.losses.push(loss);
    }
    return { ...outcome, fits: stored <= limitBytes };
  }

  function dropExpired(nowMs: number, confirmedThrough: number): RetentionOutcome {
    const outcome: RetentionOutcome = { freedBytes: 0, freedRecords: 0, losses: [] };
    // With an unset clock every record would look fresh or ancient at random: skip.
    if (policy.maxAgeDays === null || isClockSuspect(nowMs)) return outcome;
    const cutoff = nowMs - policy.maxAgeDays * dayMs;
    const byPriority = new Map<Priority, PendingLoss>();
    let through = 0;
    // Walk in seq order and stop at the first record that is not provably old: a record
    // stamped by an unset clock stops the walk too, so ranges stay contiguous and nothing
    // is dropped on a guess.
    walk: for (;;) {
      const batch = rows<AgedRow>(oldestRows, through, chunkRows);
      if (batch.length === 0) break;
      for (const row of batch) {
        if (row.recv_ms >= cutoff || isClockSuspect(row.recv_ms)) break walk;
        through = row.seq;
        outcome.freedBytes += row.size;
        outcome.freedRecords++;
        if (row.seq <= confirmedThrough) continue;
        const priority = asPriority(row.priority);
        const range = byPriority.get(priority);
        if (range === undefined) byPriority.set(priority, { from_seq: row.seq, to_seq: row.seq, count: 1, priority, reason: 'retention_max_age' });
        else {
          range.to_seq = row.seq;
          range.count++;
        }
      }
    }
    if (through > 0) deleteThrough.run(through);
    outcome.losses = [...byPriority.values()].sort((a, b) => a.from_seq - b.from_seq);
    return outcome;
  }

  return { makeRoom, dropExpired };
}
