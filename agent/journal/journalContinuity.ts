/**
 * Journal continuity after a device is replaced: the replacement's journal (new file, new
 * journal_id) opens with one record, seq 1 of kind `journal.replaces`, naming the failed
 * device's journal and the last seq of it the laptop knew of. Everything downstream
 * (courier, ClickHouse, reconcile) can then follow one device across both journals.
 *
 * The record is written only as the first record of a journal, in one write transaction
 * with the check, so asking again (a replace that was killed and rerun) finds it and
 * changes nothing, and a journal that already holds other records is refused rather than
 * given a continuity claim somewhere in its middle.
 */
import type { DatabaseSync } from 'node:sqlite';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { journalReplacesKind, JournalReplacesPayloadSchema, type JournalReplacesPayload } from '../../shared/journal.ts';
import type { ContinuityAnswer } from './journalApi.ts';
import type { Write } from './journalConnection.ts';
import type { MetaStore } from './journalMeta.ts';
import { text, type Row } from './journalRows.ts';
import { rowBytes } from './journalWriter.ts';

export function createContinuity(deps: { db: DatabaseSync; write: Write; meta: MetaStore; path: string }) {
  const { db, write, meta, path } = deps;
  const selectFirst = db.prepare('SELECT kind, payload FROM records WHERE seq = 1');
  const insertFirst = db.prepare('INSERT INTO records (seq, ts_ms, recv_ms, priority, kind, model_version, payload, size) VALUES (1, ?, ?, 1, ?, ?, ?, ?)');

  function refuse(message: string, hint: string): never {
    throw new FieldkitError(appError('CONFLICT', message, hint));
  }

  /** Makes (or finds) the record that says this journal continues `replaced`. */
  function startReplacing(replaced: JournalReplacesPayload, nowMs: number): ContinuityAnswer {
    const wanted = JournalReplacesPayloadSchema.parse(replaced);
    return write('record which journal this one replaces', () => {
      const current = meta.read();
      if (current.journal_id === wanted.replaces_journal_id) {
        refuse(`The journal at ${path} is journal ${current.journal_id} itself; it cannot replace itself.`, 'A replacement needs a new journal: move the old journal.db aside first.');
      }
      const answer = { journal_id: current.journal_id, seq: 1, ...wanted };
      if (current.last_seq === 0) {
        const payload = JSON.stringify(wanted);
        const size = rowBytes(payload, journalReplacesKind, '');
        insertFirst.run(nowMs, nowMs, journalReplacesKind, '', payload, size);
        meta.setCounters(1, current.stored_records + 1, current.stored_bytes + size);
        return { ...answer, created: true };
      }
      const first = selectFirst.get() as Row | undefined;
      const existing = first !== undefined && text(first, 'kind') === journalReplacesKind ? JournalReplacesPayloadSchema.safeParse(JSON.parse(text(first, 'payload'))) : null;
      if (existing?.success !== true) {
        refuse(
          `The journal at ${path} (journal ${current.journal_id}) already holds ${current.last_seq} records and does not begin by naming a replaced journal.`,
          'Continuity is recorded as the first record of a new journal: stop the agent, move journal.db aside (keep it), and run this again.',
        );
      }
      if (existing.data.replaces_journal_id !== wanted.replaces_journal_id || existing.data.last_known_seq !== wanted.last_known_seq) {
        refuse(
          `The journal at ${path} already says it replaces journal ${existing.data.replaces_journal_id} after seq ${existing.data.last_known_seq}, not ${wanted.replaces_journal_id} after seq ${wanted.last_known_seq}.`,
          'A journal continues one journal, once; check which device this Pi replaces.',
        );
      }
      return { ...answer, created: false };
    });
  }

  /** What this journal's first record says it replaces, or null when it replaces nothing. */
  function replaces(): JournalReplacesPayload | null {
    const first = selectFirst.get() as Row | undefined;
    if (first === undefined || text(first, 'kind') !== journalReplacesKind) return null;
    const parsed = JournalReplacesPayloadSchema.safeParse(JSON.parse(text(first, 'payload')));
    return parsed.success ? parsed.data : null;
  }

  return { startReplacing, replaces };
}
