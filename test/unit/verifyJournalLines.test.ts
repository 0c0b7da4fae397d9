import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyJournalBatch } from '../../electron/kernel/link/verifyJournalBatch.ts';
import { batchHashInput, type JournalRecord } from '../../shared/journal.ts';

const journalId = 'a'.repeat(32);
const record = (seq: number): JournalRecord => ({ device_id: 'pi-1', journal_id: journalId, seq, ts_ms: 1000 + seq, recv_ms: 2000 + seq, priority: 2, kind: 'inference', model_version: 'm1', payload: JSON.stringify({ seq, text: 'a "quoted"\nline' }) });
const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('a batch sent as its canonical lines', () => {
  it('decodes to the records whose hash input the lines are', () => {
    const records = [record(1), record(2), record(3)];
    const lines = batchHashInput(records);
    const verified = verifyJournalBatch({ journal_id: journalId, count: 3, sha256: sha(lines), lines });
    expect(verified).toEqual({ ok: true, value: { journal_id: journalId, count: 3, sha256: sha(lines), records } });
  });

  it('an empty batch has no lines', () => {
    expect(verifyJournalBatch({ journal_id: journalId, count: 0, sha256: sha(''), lines: '' })).toMatchObject({ ok: true, value: { records: [] } });
  });

  it('a line that is not a journal record fails the batch, even with a matching hash', () => {
    const lines = `${batchHashInput([record(1)])}\n["pi-1","${journalId}",2]`;
    const verified = verifyJournalBatch({ journal_id: journalId, count: 2, sha256: sha(lines), lines });
    expect(verified).toMatchObject({ ok: false, error: { code: 'VERIFICATION_FAILED', message: expect.stringMatching(/line 2 is not a journal record/) as unknown } });
  });

  it('a count that differs from the lines fails the batch', () => {
    const lines = batchHashInput([record(1), record(2)]);
    expect(verifyJournalBatch({ journal_id: journalId, count: 3, sha256: sha(lines), lines })).toMatchObject({ ok: false, error: { field: 'count' } });
  });

  it('lines out of seq order fail the batch', () => {
    const lines = batchHashInput([record(2), record(1)]);
    expect(verifyJournalBatch({ journal_id: journalId, count: 2, sha256: sha(lines), lines })).toMatchObject({ ok: false, error: { message: expect.stringMatching(/out of order/) as unknown } });
  });
});
