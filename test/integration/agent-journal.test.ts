import { createHash, randomBytes } from 'node:crypto';
import { existsSync, openSync, readFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, describe, expect, it } from 'vitest';
import { JournalCorruptError, JournalFullError } from '../../agent/journal/journalErrors.ts';
import { journalMigrations } from '../../agent/journal/journalMigrations.ts';
import { openJournal, rowBytes, type OpenJournalOptions } from '../../agent/journal/openJournal.ts';
import type { Journal } from '../../agent/journal/journalApi.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import { JournalInfoSchema, LossRecordSchema, type IngestEvent, type Priority } from '../../shared/journal.ts';
import { makeTempDir } from '../support/tempDir.ts';

const day = 86_400_000;
const t0 = Date.UTC(2025, 5, 1);

describe('agent journal', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });
  function tempPath(): string {
    const d = makeTempDir('fieldkit-journal-');
    cleanups.push(() => { d.remove(); });
    return join(d.path, 'journal.db');
  }
  function open(options: Partial<OpenJournalOptions> & { path: string }): Journal {
    const journal = openJournal({ deviceId: 'pi-07', budgetBytes: 1024 * 1024, ...options });
    cleanups.push(() => {
      try {
        journal.close();
      } catch {
        // already closed by the test
      }
    });
    return journal;
  }
  function caught(fn: () => unknown): unknown {
    try {
      fn();
    } catch (error) {
      return error;
    }
    throw new Error('expected a throw');
  }
  function sha256(path: string): string {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  }

  it('reads a batch larger than one fetch from SQLite whole, in order, filtered, and stops at max_bytes past a fetch boundary', () => {
    const journal = open({ path: tempPath(), budgetBytes: 64 * 1024 * 1024 });
    const events: IngestEvent[] = Array.from({ length: 5000 }, (_, i) => ({ ts_ms: t0 + i, priority: i % 10 === 0 ? 1 : 3, kind: 'k', payload: { i } }));
    journal.append(events, t0);
    const all = journal.read({ after_seq: 0, limit: 10_000, max_bytes: 1 << 30 });
    expect(all.map((r) => r.seq)).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
    expect(all[4999]).toMatchObject({ seq: 5000, ts_ms: t0 + 4999, priority: 3, payload: '{"i":4999}' });
    expect(journal.read({ after_seq: 100, limit: 4500, max_bytes: 1 << 30 }).map((r) => r.seq)).toEqual(Array.from({ length: 4500 }, (_, i) => i + 101));
    expect(journal.read({ after_seq: 0, limit: 10_000, max_bytes: 1 << 30, priorities: [1] }).map((r) => r.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i * 10 + 1));
    // Stops at the record that reaches max_bytes, well inside the second fetch.
    const bytesThrough = (seq: number) => all.slice(0, seq).reduce((n, r) => n + r.payload.length, 0);
    const capped = journal.read({ after_seq: 0, limit: 10_000, max_bytes: bytesThrough(3000) });
    expect(capped.length).toBe(3000);
  });

  it('creates a WAL journal with a random 128-bit id, and keeps its identity across reopen', () => {
    const path = tempPath();
    const a = open({ path, now: () => 1234 });
    expect(a.journalId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.info()).toMatchObject({ device_id: 'pi-07', journal_id: a.journalId, created_ms: 1234, first_seq: 0, last_seq: 0, records: 0, bytes: 0, losses: 0 });
    a.close();
    const b = open({ path });
    expect(b.journalId).toBe(a.journalId);
    expect(b.info().created_ms).toBe(1234);
    const raw = new DatabaseSync(path, { readOnly: true });
    expect(raw.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' });
    expect(raw.prepare('PRAGMA user_version').get()).toEqual({ user_version: journalMigrations.length });
    raw.close();
    const other = open({ path: tempPath() });
    expect(other.journalId).not.toBe(a.journalId);
  });

  it('appends with gapless seqs, canonical payload text and defaults, and reads them back in order', () => {
    const journal = open({ path: tempPath(), defaultModelVersion: 'yolo-8.1' });
    const first = journal.append(
      [
        { priority: 1, kind: 'power.undervoltage', payload: { volts: 4.63, nested: [1, 'two'] } },
        { ts_ms: t0 - 5, priority: 3, kind: 'inference', model_version: 'yolo-9', payload: 'text' },
      ],
      t0,
    );
    expect(first).toEqual({ first_seq: 1, last_seq: 2, count: 2 });
    const [a, b] = journal.appendBatches([[{ priority: 2, kind: 'state', payload: null }], [{ priority: 3, kind: 'm', payload: 1 }, { priority: 3, kind: 'm', payload: 2 }]], t0 + 1);
    expect(a).toEqual({ first_seq: 3, last_seq: 3, count: 1 });
    expect(b).toEqual({ first_seq: 4, last_seq: 5, count: 2 });
    const records = journal.read({ after_seq: 0, limit: 100, max_bytes: 1 << 20 });
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(records[0]).toEqual({
      device_id: 'pi-07',
      journal_id: journal.journalId,
      seq: 1,
      ts_ms: t0,
      recv_ms: t0,
      priority: 1,
      kind: 'power.undervoltage',
      model_version: 'yolo-8.1',
      payload: '{"volts":4.63,"nested":[1,"two"]}',
    });
    expect(records[1]).toMatchObject({ ts_ms: t0 - 5, model_version: 'yolo-9', payload: '"text"' });
    expect(journal.read({ after_seq: 2, limit: 2, max_bytes: 1 << 20 }).map((r) => r.seq)).toEqual([3, 4]);
    expect(journal.read({ after_seq: 0, limit: 100, max_bytes: 1 << 20, priorities: [3] }).map((r) => r.seq)).toEqual([2, 4, 5]);
    expect(journal.read({ after_seq: 0, limit: 100, max_bytes: 1 }).map((r) => r.seq)).toEqual([1]);
    const info = journal.info();
    expect(info).toMatchObject({ first_seq: 1, last_seq: 5, records: 5 });
    expect(info.bytes).toBe(records.reduce((sum, r) => sum + rowBytes(r.payload, r.kind, r.model_version), 0));
  });

  it('never reuses a seq, even after every record was dropped', () => {
    const path = tempPath();
    const journal = open({ path, maxAgeDays: 1 });
    journal.append(Array.from({ length: 10 }, (_, i) => ({ priority: 3 as const, kind: 'm', payload: i })), t0);
    journal.ackCustody('laptop-a', 10, t0);
    expect(journal.enforceRetention(t0 + 2 * day)).toEqual([]);
    expect(journal.info()).toMatchObject({ first_seq: 0, last_seq: 10, records: 0, bytes: 0 });
    journal.close();
    const again = open({ path, maxAgeDays: 1 });
    expect(again.append([{ priority: 3, kind: 'm', payload: 'next' }], t0 + 2 * day)).toEqual({ first_seq: 11, last_seq: 11, count: 1 });
  });

  it('custody per courier and the forwarded watermark never move back, and never past last_seq', () => {
    const journal = open({ path: tempPath() });
    journal.append(Array.from({ length: 20 }, () => ({ priority: 2 as const, kind: 's', payload: {} })), t0);
    expect(journal.ackCustody('laptop-a', 10, t0 + 1)).toBe(10);
    expect(journal.ackCustody('laptop-a', 4, t0 + 2)).toBe(10);
    expect(journal.ackCustody('laptop-b', 3, t0 + 3)).toBe(3);
    expect(journal.ackCustody('laptop-b', 999, t0 + 4)).toBe(20);
    expect(journal.ackForwarded('uplink', 7, t0 + 5)).toBe(7);
    expect(journal.ackForwarded('laptop-a', 5, t0 + 6)).toBe(7);
    expect(journal.ackForwarded('laptop-a', 500, t0 + 7)).toBe(20);
    expect(journal.info()).toMatchObject({
      custody: [
        { courier_id: 'laptop-a', through_seq: 10, at_ms: t0 + 1 },
        { courier_id: 'laptop-b', through_seq: 20, at_ms: t0 + 4 },
      ],
      forwarded_seq: 20,
    });
  });

  it('drops confirmed rows silently, then unconfirmed 3 before 2 with exact loss records, and refuses rather than drop unconfirmed safety data', () => {
    // Every row below is exactly 100 budget bytes; the budget holds 20 of them.
    const payload = 'a'.repeat(33);
    expect(rowBytes(JSON.stringify(payload), 'k', '')).toBe(100);
    const journal = open({ path: tempPath(), budgetBytes: 2000 });
    const event = (priority: Priority): IngestEvent => ({ priority, kind: 'k', payload });
    const some = (priority: Priority, n: number) => Array.from({ length: n }, () => event(priority));
    const held = () => journal.read({ after_seq: 0, limit: 1000, max_bytes: 1 << 20 }).map((r) => [r.seq, r.priority]);

    // seqs 1..20: priority 3 at 1,4,7,…; 2 at 2,5,8,…; 1 at 3,6,9,…
    journal.append(Array.from({ length: 20 }, (_, i) => event(([3, 2, 1] as const)[i % 3] ?? 3)), t0);
    expect(journal.info()).toMatchObject({ records: 20, bytes: 2000 });
    journal.ackCustody('laptop-a', 6, t0);

    // Over budget by one row: drops down to 90% using confirmed priority 3 (1, 4).
    journal.append(some(3, 1), t0 + 1);
    expect(journal.losses(0)).toEqual([]);
    expect(held().slice(0, 3)).toEqual([[2, 2], [3, 1], [5, 2]]);

    // Confirmed priority 2 next (2, 5).
    journal.append(some(2, 3), t0 + 2);
    expect(journal.losses(0)).toEqual([]);

    // Confirmed priority 1 (3, 6), then the oldest unconfirmed priority 3 (7, 10, 13): a loss.
    journal.append(some(1, 5), t0 + 3);
    const loss = { device_id: 'pi-07', journal_id: journal.journalId, reason: 'retention_budget' };
    expect(journal.losses(0)).toEqual([{ ...loss, from_seq: 7, to_seq: 13, count: 3, priority: 3, at_ms: t0 + 3 }]);

    // All remaining priority 3 (16, 19, 21), then the oldest priority 2 (8, 11, 14).
    journal.append(some(1, 6), t0 + 4);
    expect(journal.losses(0)).toEqual([
      { ...loss, from_seq: 7, to_seq: 13, count: 3, priority: 3, at_ms: t0 + 3 },
      { ...loss, from_seq: 8, to_seq: 14, count: 3, priority: 2, at_ms: t0 + 4 },
      { ...loss, from_seq: 16, to_seq: 21, count: 3, priority: 3, at_ms: t0 + 4 },
    ]);
    const before = held();
    expect(before).toEqual([
      [9, 1], [12, 1], [15, 1], [17, 2], [18, 1], [20, 2], [22, 2], [23, 2], [24, 2],
      [25, 1], [26, 1], [27, 1], [28, 1], [29, 1], [30, 1], [31, 1], [32, 1], [33, 1], [34, 1], [35, 1],
    ]);
    expect(journal.info()).toMatchObject({ records: 20, bytes: 2000, last_seq: 35, losses: 3 });
    // What crosses the RPC boundary matches its contract.
    JournalInfoSchema.parse(journal.info());
    for (const l of journal.losses(0)) LossRecordSchema.parse(l);

    // Six more safety rows would need unconfirmed safety data dropped: refused, and the
    // five priority-2 rows it could have dropped are still there.
    const full = caught(() => journal.append(some(1, 6), t0 + 5));
    expect(full).toBeInstanceOf(JournalFullError);
    expect(isFieldkitError(full) && full.appError.hint).toMatch(/courier/);
    expect(held()).toEqual(before);
    expect(journal.info()).toMatchObject({ records: 20, bytes: 2000, last_seq: 35, losses: 3 });

    // Once the uplink confirms through 12, the confirmed safety rows 9 and 12 make room, silently.
    journal.ackForwarded('uplink', 12, t0 + 6);
    expect(journal.append(some(3, 1), t0 + 7)).toEqual({ first_seq: 36, last_seq: 36, count: 1 });
    expect(journal.losses(0)).toHaveLength(3);
    expect(held().slice(0, 2)).toEqual([[15, 1], [17, 2]]);
    expect(journal.losses(14).map((l) => l.from_seq)).toEqual([16]);
  });

  it('drops records past max age (recorded as losses unless confirmed), and never on an unset clock', () => {
    const journal = open({ path: tempPath(), maxAgeDays: 2 });
    journal.append([{ priority: 1, kind: 'k', payload: 1 }, { priority: 3, kind: 'k', payload: 2 }], t0); // 1, 2
    journal.append([{ priority: 1, kind: 'k', payload: 3 }, { priority: 3, kind: 'k', payload: 4 }], t0 + day); // 3, 4
    journal.append([{ priority: 2, kind: 'k', payload: 5 }], Date.UTC(1970, 0, 1, 0, 5)); // 5: booted without RTC
    journal.append([{ priority: 2, kind: 'k', payload: 6 }], t0 + 1); // 6: old again, but after the 1970 row
    journal.ackCustody('laptop-a', 1, t0);
    expect(journal.enforceRetention(Date.UTC(1970, 0, 2))).toEqual([]);
    expect(journal.info().records).toBe(6);
    const dropped = journal.enforceRetention(t0 + 3.5 * day);
    const loss = { device_id: 'pi-07', journal_id: journal.journalId, reason: 'retention_max_age', at_ms: t0 + 3.5 * day };
    expect(dropped).toEqual([
      { ...loss, from_seq: 2, to_seq: 4, count: 2, priority: 3 },
      { ...loss, from_seq: 3, to_seq: 3, count: 1, priority: 1 },
    ]);
    expect(journal.losses(0)).toEqual(dropped);
    expect(journal.read({ after_seq: 0, limit: 10, max_bytes: 1 << 20 }).map((r) => r.seq)).toEqual([5, 6]);
    expect(journal.info()).toMatchObject({ first_seq: 5, records: 2 });
  });

  it('enforces a lowered budget on the retention pass', () => {
    const path = tempPath();
    const big = open({ path, budgetBytes: 100_000 });
    big.append(Array.from({ length: 100 }, (_, i) => ({ priority: 3 as const, kind: 'k', payload: 'a'.repeat(33) + String(i % 1) })), t0);
    big.close();
    const small = open({ path, budgetBytes: 5000 });
    const losses = small.enforceRetention(t0 + 1);
    // Down to 90% of 5000 bytes: 45 rows of 101 bytes stay.
    expect(small.info()).toMatchObject({ records: 44, bytes: 4444 });
    expect(losses).toMatchObject([{ from_seq: 1, to_seq: 56, count: 56, priority: 3, reason: 'retention_budget' }]);
  });

  it('refuses a journal of another device, and one written by a newer agent', () => {
    const path = tempPath();
    open({ path }).close();
    const other = caught(() => open({ path, deviceId: 'pi-08' }));
    expect(isFieldkitError(other) && other.appError).toMatchObject({ code: 'CONFLICT', field: 'device_id' });
    const raw = new DatabaseSync(path);
    raw.exec(`PRAGMA user_version = ${journalMigrations.length + 1}; UPDATE journal_compat SET readable_by = ${journalMigrations.length + 1}`);
    raw.close();
    const newer = caught(() => open({ path }));
    expect(isFieldkitError(newer) && newer.appError.message).toMatch(/newer agent \(schema 3, this one knows 2; it needs an agent that knows 3\)/);
  });

  it('keeps working on a journal a newer agent migrated additively (a rollback): records from both kept, nothing migrated', () => {
    const path = tempPath();
    const a = open({ path });
    a.append([{ priority: 1, kind: 'before', payload: { n: 1 } }], t0);
    a.close();
    // What a newer agent's additive migration leaves: one more column with a default, schema + 1.
    const raw = new DatabaseSync(path);
    raw.exec(`ALTER TABLE records ADD COLUMN labels TEXT NOT NULL DEFAULT ''; PRAGMA user_version = ${journalMigrations.length + 1}`);
    raw.prepare("INSERT INTO records (seq, ts_ms, recv_ms, priority, kind, model_version, payload, size, labels) VALUES (2, 1, 1, 2, 'newer', '', '{}', 70, 'x')").run();
    raw.exec('UPDATE meta SET last_seq = 2, stored_records = 2');
    raw.close();
    const older = open({ path });
    older.append([{ priority: 3, kind: 'after', payload: { n: 3 } }], t0);
    expect(older.read({ after_seq: 0, limit: 10, max_bytes: 1 << 20 }).map((r) => `${String(r.seq)} ${r.kind}`)).toEqual(['1 before', '2 newer', '3 after']);
    older.close();
    const check = new DatabaseSync(path, { readOnly: true });
    expect(check.prepare('PRAGMA user_version').get()).toEqual({ user_version: journalMigrations.length + 1 });
    expect(check.prepare('SELECT readable_by FROM journal_compat').get()).toEqual({ readable_by: 1 });
    check.close();
  });

  it('refuses a corrupted page at start, says what to do, and leaves the file byte for byte as it was', () => {
    const path = tempPath();
    const journal = open({ path });
    for (let i = 0; i < 20; i++) journal.append(Array.from({ length: 100 }, () => ({ priority: 3 as const, kind: 'k', payload: randomBytes(40).toString('hex') })), t0);
    journal.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    const fd = openSync(path, 'r+');
    writeSync(fd, randomBytes(4096), 0, 4096, 4096 * 5);
    closeSync(fd);
    const before = sha256(path);
    const error = caught(() => open({ path }));
    expect(error).toBeInstanceOf(JournalCorruptError);
    const appError = (error as JournalCorruptError).appError;
    expect(appError.message).toContain(path);
    expect(appError.message).toMatch(/quick_check|malformed|corrupt/i);
    expect(appError.hint).toMatch(/NOT modified.*copy it off.*move it aside/);
    expect(sha256(path)).toBe(before);

    const header = tempPath();
    open({ path: header }).close();
    const fd2 = openSync(header, 'r+');
    writeSync(fd2, Buffer.alloc(100, 0x41), 0, 100, 0);
    closeSync(fd2);
    const headerBefore = sha256(header);
    expect(caught(() => open({ path: header }))).toBeInstanceOf(JournalCorruptError);
    expect(sha256(header)).toBe(headerBefore);
  });
});
