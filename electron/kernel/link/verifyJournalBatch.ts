/**
 * Proof that a journal batch arrived as the agent sent it: its count and SHA-256 (over
 * `batchHashInput`, the same canonical bytes the agent hashed) match the records, and the
 * records belong to the batch's journal in strictly increasing seq order. The courier
 * stores a batch only after this says ok. A batch that came as its canonical lines
 * (journal.read.lines) is hashed as the text received, with no re-stringify, and its
 * lines are parsed only to be stored: a line that is not a canonical record fails it.
 */
import { createHash } from 'node:crypto';
import { appError, fail, ok, type Result } from '../../../shared/errors.ts';
import { batchHashInput, parseRecordLine, type JournalBatch, type JournalLinesBatch, type JournalRecord } from '../../../shared/journal.ts';

const hint = 'Pull again from the last stored seq. If it happens again, the app and the agent disagree on the batch format: update the agent.';

function sha256Of(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function hashMismatch(where: string, sha256: string, sent: string): Result<never> {
  return fail(appError('VERIFICATION_FAILED', `${where} does not match its SHA-256 (got ${sha256.slice(0, 12)}…, the agent sent ${sent.slice(0, 12)}…).`, hint, 'sha256'));
}

/** The records of a lines batch, once its hash held; a line that is not a canonical record fails the batch. */
function recordsOfLines(batch: JournalLinesBatch): Result<JournalBatch> {
  const where = `journal ${batch.journal_id} batch`;
  const sha256 = sha256Of(batch.lines);
  if (sha256 !== batch.sha256) return hashMismatch(where, sha256, batch.sha256);
  const lines = batch.lines === '' ? [] : batch.lines.split('\n');
  const records: JournalRecord[] = new Array<JournalRecord>(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const record = parseRecordLine(lines[i] ?? '');
    if (record === null) return fail(appError('VERIFICATION_FAILED', `${where} line ${i + 1} is not a journal record.`, hint, 'lines'));
    records[i] = record;
  }
  return ok({ journal_id: batch.journal_id, count: batch.count, sha256: batch.sha256, records });
}

export function verifyJournalBatch(item: JournalBatch | JournalLinesBatch): Result<JournalBatch> {
  const hashed = 'lines' in item;
  const decoded = hashed ? recordsOfLines(item) : ok(item);
  if (!decoded.ok) return decoded;
  const batch = decoded.value;
  const { records } = batch;
  const range = records.length > 0 ? `seq ${records[0]?.seq ?? 0}-${records[records.length - 1]?.seq ?? 0}` : 'empty';
  const where = `journal ${batch.journal_id} batch (${range})`;
  if (batch.count !== records.length) {
    return fail(appError('VERIFICATION_FAILED', `${where} says ${batch.count} records but holds ${records.length}.`, hint, 'count'));
  }
  let previous = 0;
  for (const record of records) {
    if (record.journal_id !== batch.journal_id) {
      return fail(appError('VERIFICATION_FAILED', `${where} holds seq ${record.seq} of another journal (${record.journal_id}).`, hint, 'records'));
    }
    if (record.seq <= previous) {
      return fail(appError('VERIFICATION_FAILED', `${where} is out of order: seq ${record.seq} after ${previous}.`, hint, 'records'));
    }
    previous = record.seq;
  }
  if (!hashed) {
    const sha256 = sha256Of(batchHashInput(records));
    if (sha256 !== batch.sha256) return hashMismatch(where, sha256, batch.sha256);
  }
  return ok(batch);
}
