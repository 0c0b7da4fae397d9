import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCourierStore } from '../../electron/courier/courierStore.ts';
import { openStore, storeFileName } from '../../electron/kernel/store/openStore.ts';
import type { JournalRecord } from '../../shared/journal.ts';
import { makeTempDir } from '../support/tempDir.ts';

function records(from: number, to: number): JournalRecord[] {
  return Array.from({ length: to - from + 1 }, (_, i) => {
    const seq = from + i;
    return { device_id: 'pi-7', journal_id: 'j_store', seq, ts_ms: 1_767_225_600_000 + seq, recv_ms: 1_767_225_601_000 + seq, priority: seq % 97 === 0 ? 1 : 2, kind: `kind-${seq % 3}`, model_version: 'm2', payload: JSON.stringify({ seq, text: 'é"\\\n' }) };
  });
}

/**
 * storeBatch writes records in multi-row groups plus a remainder one at a time: every
 * record lands with every column, and the count it returns is of new records only (a
 * resumed pull re-sends an overlap, which custody and the pull result must not count twice).
 */
describe('courier storeBatch', () => {
  const dir = makeTempDir();
  afterAll(() => {
    dir.remove();
  });

  it('stores every column of every record, in groups and the remainder, and counts only the new ones', () => {
    const db = openStore(dir.path);
    try {
      const courier = createCourierStore(db);
      courier.noteJournal({ device_id: 'pi-7', journal_id: 'j_store', device_ref: null, site: 'north', agent_last_seq: 300, agent_first_seq: 1, clock_offset_ms: 12.4, now: 5 });
      const origin = { site: 'north', via: 'courier:ssh', clockOffsetMs: 12.4, pullId: 'pull_a', now: 1000 };
      // 130 = two groups of 64 and a remainder of 2.
      expect(courier.storeBatch({ ...origin, records: records(1, 130), contiguousThrough: 130 })).toBe(130);
      // A resumed pull re-sends 101-130 with 131-300 after them: 170 are new.
      expect(courier.storeBatch({ ...origin, pullId: 'pull_b', now: 2000, records: records(101, 300), contiguousThrough: 300 })).toBe(170);
      expect(courier.storeBatch({ ...origin, records: records(1, 300), contiguousThrough: 300 })).toBe(0);
      expect(courier.journal('pi-7', 'j_store')?.contiguous_seq).toBe(300);
    } finally {
      db.close();
    }
    const check = new Database(join(dir.path, storeFileName), { readonly: true });
    try {
      expect(check.prepare('SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM courier_records').get()).toEqual({ n: 300, lo: 1, hi: 300 });
      const columns = 'device_id, journal_id, seq, ts_ms, recv_ms, priority, kind, model_version, payload';
      const stored = check.prepare(`SELECT ${columns} FROM courier_records ORDER BY seq`).all();
      expect(stored).toEqual(records(1, 300));
      // The overlap kept its first pull's origin; what only the second pull brought is filed under it.
      const origin = check.prepare('SELECT seq, site, via, clock_offset_ms, pull_id, pulled_ms FROM courier_records WHERE seq IN (64, 65, 129, 130, 131, 300) ORDER BY seq').all();
      expect(origin).toEqual([
        { seq: 64, site: 'north', via: 'courier:ssh', clock_offset_ms: 12, pull_id: 'pull_a', pulled_ms: 1000 },
        { seq: 65, site: 'north', via: 'courier:ssh', clock_offset_ms: 12, pull_id: 'pull_a', pulled_ms: 1000 },
        { seq: 129, site: 'north', via: 'courier:ssh', clock_offset_ms: 12, pull_id: 'pull_a', pulled_ms: 1000 },
        { seq: 130, site: 'north', via: 'courier:ssh', clock_offset_ms: 12, pull_id: 'pull_a', pulled_ms: 1000 },
        { seq: 131, site: 'north', via: 'courier:ssh', clock_offset_ms: 12, pull_id: 'pull_b', pulled_ms: 2000 },
        { seq: 300, site: 'north', via: 'courier:ssh', clock_offset_ms: 12, pull_id: 'pull_b', pulled_ms: 2000 },
      ]);
    } finally {
      check.close();
    }
  });
});
