/**
 * Proof that a journal batch arrived as the agent sent it: its count and SHA-256 (over
 * `batchHashInput`, the same canonical bytes the agent hashed) match the records, and the
 * records belong to the batch's journal in strictly increasing seq order. The courier
 * stores a batch only after this says ok.
 */
import { createHash } from 'node:crypto';
import { appError, fail, ok, type Result } from '../../../shared/errors.ts';
import { batchHashInput, type JournalBatch } from '../../../shared/journal.ts';

const hint = 'Pull again from the last stored seq. If it happens again, the app and the agent disagree on the batch format: update the agent.';

export function verifyJournalBatch(batch: JournalBatch): Result<JournalBatch> {
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
  const sha256 = createHash('sha256').update(batchHashInput(records)).digest('hex');
  if (sha256 !== batch.sha256) {
    return fail(appError('VERIFICATION_FAILED', `${where} does not match its SHA-256 (got ${sha256.slice(0, 12)}…, the agent sent ${batch.sha256.slice(0, 12)}…).`, hint, 'sha256'));
  }
  return ok(batch);
}
