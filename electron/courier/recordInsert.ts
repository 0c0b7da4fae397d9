/**
 * The hot loop of a pull: a batch of records written into courier_records. Rows go in
 * groups of `rowsPerStatement` through one multi-row INSERT, so the per-statement cost of
 * better-sqlite3 and SQLite (bind, step, reset) is paid once a group instead of once a
 * record; INSERT OR IGNORE keeps a re-sent record (a resumed pull's overlap) out, and
 * `changes` still counts only the rows that were new.
 */
import type { JournalRecord } from '../../shared/journal.ts';

/** 64 rows x 14 columns = 896 parameters, far below SQLite's bound of 32,766. */
const rowsPerStatement = 64;
const columnsPerRow = 14;

/** What every record of one batch shares. */
export type BatchOrigin = { site: string; via: string; clockOffsetMs: number; pullId: string; now: number };

export type RecordInserter = (records: readonly JournalRecord[], origin: BatchOrigin) => number;

/** A prepared INSERT of `rows` records, 14 parameters each in fill()'s order (the courier store owns its SQL). */
export type PrepareRecordInsert = (rows: number) => { run(args: unknown[]): { changes: number } };

/** Inserts records (call inside a transaction); returns how many were new. */
export function createRecordInserter(prepare: PrepareRecordInsert): RecordInserter {
  const insertOne = prepare(1);
  const insertGroup = prepare(rowsPerStatement);
  const groupArgs: unknown[] = new Array<unknown>(rowsPerStatement * columnsPerRow);
  const oneArgs: unknown[] = new Array<unknown>(columnsPerRow);

  function fill(args: unknown[], at: number, r: JournalRecord, origin: BatchOrigin, offset: number): void {
    args[at] = r.device_id;
    args[at + 1] = r.journal_id;
    args[at + 2] = r.seq;
    args[at + 3] = r.ts_ms;
    args[at + 4] = r.recv_ms;
    args[at + 5] = r.priority;
    args[at + 6] = r.kind;
    args[at + 7] = r.model_version;
    args[at + 8] = r.payload;
    args[at + 9] = origin.site;
    args[at + 10] = origin.via;
    args[at + 11] = offset;
    args[at + 12] = origin.pullId;
    args[at + 13] = origin.now;
  }

  return (records, origin) => {
    const offset = Math.round(origin.clockOffsetMs);
    let inserted = 0;
    let i = 0;
    for (; i + rowsPerStatement <= records.length; i += rowsPerStatement) {
      for (let k = 0; k < rowsPerStatement; k++) {
        const record = records[i + k];
        if (record) fill(groupArgs, k * columnsPerRow, record, origin, offset);
      }
      inserted += insertGroup.run(groupArgs).changes;
    }
    for (; i < records.length; i++) {
      const record = records[i];
      if (!record) continue;
      fill(oneArgs, 0, record, origin, offset);
      inserted += insertOne.run(oneArgs).changes;
    }
    return inserted;
  };
}
