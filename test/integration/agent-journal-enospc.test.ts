import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JournalStorageError } from '../../agent/journal/journalErrors.ts';
import { openJournal } from '../../agent/journal/openJournal.ts';
import type { IngestEvent } from '../../shared/journal.ts';
import { mountTinyFilesystem, type TinyFilesystem } from '../support/tinyFilesystem.ts';

describe('agent journal on a full disk', () => {
  let fs: TinyFilesystem;
  beforeAll(() => {
    fs = mountTinyFilesystem(8);
  });
  afterAll(() => {
    fs.remove();
  });

  it('refuses appends with a storage error on ENOSPC, keeps every acknowledged event, and accepts again once space returns', () => {
    const path = join(fs.mountPoint, 'journal.db');
    const journal = openJournal({ path, deviceId: 'pi-07', budgetBytes: 1 << 30 });
    const batch = (n: number, tag: string): IngestEvent[] =>
      Array.from({ length: 50 }, (_, i) => ({ priority: 2, kind: 'state', payload: { tag, n, i, pad: 'p'.repeat(900) } }));
    const acked: { first: number; last: number; tag: string }[] = [];
    for (let n = 0; n < 5; n++) {
      const r = journal.append(batch(n, 'before'), 1);
      acked.push({ first: r.first_seq, last: r.last_seq, tag: 'before' });
    }
    fs.fill();

    let failure: unknown = null;
    for (let n = 0; n < 200 && failure === null; n++) {
      try {
        const r = journal.append(batch(n, 'filling'), 2);
        acked.push({ first: r.first_seq, last: r.last_seq, tag: 'filling' });
      } catch (error) {
        failure = error;
      }
    }
    expect(failure).toBeInstanceOf(JournalStorageError);
    expect((failure as JournalStorageError).appError).toMatchObject({ code: 'IO_ERROR' });
    expect((failure as JournalStorageError).appError.hint).toMatch(/Free space/);
    // Still refusing while the disk stays full, and nothing half-appended.
    expect(() => journal.append(batch(0, 'still-full'), 3)).toThrow(JournalStorageError);
    const lastAcked = acked.at(-1)?.last ?? 0;
    expect(journal.info().last_seq).toBe(lastAcked);

    fs.free();
    const after = journal.append(batch(0, 'after'), 4);
    expect(after.first_seq).toBe(lastAcked + 1);
    acked.push({ first: after.first_seq, last: after.last_seq, tag: 'after' });
    journal.close();

    const reopened = openJournal({ path, deviceId: 'pi-07', budgetBytes: 1 << 30 });
    const records = reopened.read({ after_seq: 0, limit: 100_000, max_bytes: 1 << 30 });
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: after.last_seq }, (_, i) => i + 1));
    for (const range of acked) {
      for (let seq = range.first; seq <= range.last; seq++) {
        expect((JSON.parse(records[seq - 1]?.payload ?? 'null') as { tag: string }).tag).toBe(range.tag);
      }
    }
    reopened.close();
    const raw = new DatabaseSync(path, { readOnly: true });
    expect(raw.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
    raw.close();
  });
});
