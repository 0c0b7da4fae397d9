/**
 * The journal: one SQLite database per Pi (node:sqlite, WAL). It must never lose an
 * acknowledged event, never reuse a key and always explain a gap; see agent/README.md.
 *
 * Several processes may hold it at once (the daemon appends while an `rpc` process started
 * by a laptop reads and records custody), so nothing that matters is cached in memory:
 * every write transaction reads the counters from `meta` under SQLite's write lock.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { IngestEvent, JournalInfo, JournalRecord, LossRecord, Priority } from '../../shared/journal.ts';
import type { AppendResult, Journal, ReadOptions } from './journalApi.ts';
import { isCorruption, isStorageFailure, JournalCorruptError, JournalFullError, JournalStorageError } from './journalErrors.ts';
import { journalMigrations, journalReadableBy } from './journalMigrations.ts';
import { createRetention, type PendingLoss } from './journalRetention.ts';

export const journalFileName = 'journal.db';

/**
 * Bytes a row counts against the budget beyond its text: the seq, times and priority,
 * the record header and its entry in the (priority, seq) index. An estimate that keeps
 * the budget close to what the file really takes without measuring it on each append.
 */
export const rowOverheadBytes = 64;

export type OpenJournalOptions = {
  path: string;
  deviceId: string;
  budgetBytes: number;
  maxAgeDays?: number | null;
  /** model_version for events that do not name one (the config's model_version). */
  defaultModelVersion?: string;
  /** How long a write waits for another process that holds the journal (ms). */
  busyTimeoutMs?: number;
  /** Clock for created_ms when the journal is made. */
  now?: () => number;
};

/** Where the journal of an agent lives. */
export function journalPath(dataDir: string): string {
  return join(dataDir, journalFileName);
}

/** Opens the journal an agent config describes (creating it on first use). */
export function openJournalForConfig(config: AgentConfig): Journal {
  return openJournal({
    path: journalPath(config.data_dir),
    deviceId: config.device_id,
    budgetBytes: config.retention.budget_bytes,
    maxAgeDays: config.retention.max_age_days,
    defaultModelVersion: config.model_version,
  });
}

type Meta = {
  device_id: string;
  journal_id: string;
  created_ms: number;
  last_seq: number;
  stored_records: number;
  stored_bytes: number;
  forwarded_seq: number;
};

type PreparedRow = { ts_ms: number; priority: Priority; kind: string; model_version: string; payload: string; size: number };

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function text(row: Record<string, unknown>, key: string): string {
  const value = row[key];
  if (typeof value !== 'string') throw new Error(`journal meta.${key} is not text`);
  return value;
}

function int(row: Record<string, unknown>, key: string): number {
  const value = row[key];
  if (typeof value !== 'number') throw new Error(`journal meta.${key} is not a number`);
  return value;
}

function asPriority(value: unknown): Priority {
  if (value === 1 || value === 2 || value === 3) return value;
  throw new Error(`journal row has priority ${String(value)}`);
}

/** UTF-8 bytes a row's text takes, plus the fixed per-row overhead. */
export function rowBytes(payload: string, kind: string, modelVersion: string): number {
  return Buffer.byteLength(payload) + Buffer.byteLength(kind) + Buffer.byteLength(modelVersion) + rowOverheadBytes;
}

/**
 * Refuses a damaged file before anything writes to it. The check runs on a read-only
 * connection: a read-write one would replay and checkpoint the WAL on close, changing
 * the very file a recovery needs untouched.
 */
function checkIntegrity(path: string, busyTimeoutMs: number): void {
  if (!existsSync(path) || statSync(path).size === 0) return;
  let db: DatabaseSync | null = null;
  try {
    // With a busy timeout like every other connection: another process may be creating or
    // writing the file right now (the daemon and an `rpc` on a first install), and without
    // one its lock fails this check at once with "database is locked".
    db = new DatabaseSync(path, { readOnly: true, timeout: busyTimeoutMs });
    const rows = db.prepare('PRAGMA quick_check').all() as { quick_check?: unknown }[];
    const problems = rows.map((r) => String(r.quick_check)).filter((r) => r !== 'ok');
    if (problems.length > 0) throw new JournalCorruptError(path, `SQLite quick_check: ${problems.slice(0, 5).join('; ')}`);
  } catch (error) {
    if (error instanceof JournalCorruptError) throw error;
    if (isCorruption(error)) throw new JournalCorruptError(path, `SQLite: ${message(error)}`, error);
    throw new JournalStorageError(`Cannot read the journal at ${path}: ${message(error)}`, error);
  } finally {
    db?.close();
  }
}

/** journal_compat.readable_by, or null when the file has no such table (or row). */
function compatFloor(db: DatabaseSync): number | null {
  const table = db.prepare("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'journal_compat'").get();
  if (table === undefined) return null;
  const row = db.prepare('SELECT readable_by FROM journal_compat WHERE id = 1').get() as Record<string, unknown> | undefined;
  return row === undefined ? null : int(row, 'readable_by');
}

/** Brings the schema up to date and, on a new database, makes its identity, in one transaction. */
function migrate(db: DatabaseSync, path: string, deviceId: string, createdMs: number): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    // Read inside the write lock: two processes opening a new journal at once must not
    // both create it.
    const version = int(db.prepare('PRAGMA user_version').get() as Record<string, unknown>, 'user_version');
    if (version > journalMigrations.length) {
      // Written by a newer agent (this one was rolled back to): fine when every migration
      // it ran was additive, as journal_compat says; nothing is migrated either way.
      const readableBy = compatFloor(db);
      if (readableBy === null || readableBy > journalMigrations.length) {
        throw new FieldkitError(
          appError(
            'CONFLICT',
            `The journal at ${path} was written by a newer agent (schema ${version}, this one knows ${journalMigrations.length}${readableBy === null ? '' : `; it needs an agent that knows ${readableBy}`}).`,
            'Install the newer agent again (or roll forward); do not run an older agent on this journal.',
          ),
        );
      }
    }
    for (let v = version; v < journalMigrations.length; v++) {
      db.exec(journalMigrations[v] ?? '');
      db.exec(`PRAGMA user_version = ${v + 1}`);
    }
    if (version < journalMigrations.length) db.prepare('INSERT OR REPLACE INTO journal_compat (id, readable_by) VALUES (1, ?)').run(journalReadableBy);
    if (version === 0) {
      db.prepare('INSERT INTO meta (id, device_id, journal_id, created_ms) VALUES (1, ?, ?, ?)').run(deviceId, randomBytes(16).toString('hex'), createdMs);
    }
    db.exec('COMMIT');
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Runs `step` again while SQLite says the database is busy or locked, for up to `timeoutMs`. */
function retryWhileBusy(step: () => void, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      step();
      return;
    } catch (error) {
      const code = (error as { errcode?: number }).errcode;
      // 5 SQLITE_BUSY, 6 SQLITE_LOCKED (the low byte: extended codes carry it too).
      if (code === undefined || ![5, 6].includes(code & 0xff) || Date.now() >= deadline) throw error;
      Atomics.wait(sleeper, 0, 0, pause); // opening is synchronous; a short blocking pause is fine here
    }
  }
}

/** Opens (creating if needed) the journal at `options.path`. */
export function openJournal(options: OpenJournalOptions): Journal {
  const { path, deviceId, budgetBytes } = options;
  const policy = { budgetBytes, maxAgeDays: options.maxAgeDays ?? null };
  const defaultModelVersion = options.defaultModelVersion ?? '';
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  checkIntegrity(path, busyTimeoutMs);
  mkdirSync(dirname(path), { recursive: true });

  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, { timeout: busyTimeoutMs });
  } catch (error) {
    throw new JournalStorageError(`Cannot open the journal at ${path}: ${message(error)}`, error);
  }
  try {
    // Switching a new file to WAL takes an exclusive lock, and SQLite can answer BUSY there
    // without calling the busy handler: six processes creating one journal at once saw
    // "database is locked". Retried within the same busy timeout.
    retryWhileBusy(() => { db.exec('PRAGMA journal_mode = WAL'); }, busyTimeoutMs);
    // FULL, not NORMAL: in WAL mode NORMAL syncs only at checkpoints, so a commit survives
    // kill -9 but may vanish on power loss. A Pi loses power without warning, and we
    // acknowledge a producer only after commit, so every commit must fsync the WAL.
    db.exec('PRAGMA synchronous = FULL');
    // Keep the WAL from lingering at its high-water mark on a small SD card.
    db.exec('PRAGMA journal_size_limit = 67108864');
    retryWhileBusy(() => { migrate(db, path, deviceId, (options.now ?? Date.now)()); }, busyTimeoutMs);
  } catch (error) {
    db.close();
    if (error instanceof FieldkitError) throw error;
    if (isCorruption(error)) throw new JournalCorruptError(path, `SQLite: ${message(error)}`, error);
    throw new JournalStorageError(`Cannot prepare the journal at ${path}: ${message(error)}`, error);
  }

  const selectMeta = db.prepare('SELECT device_id, journal_id, created_ms, last_seq, stored_records, stored_bytes, forwarded_seq FROM meta WHERE id = 1');
  function readMeta(): Meta {
    const row = selectMeta.get() as Record<string, unknown> | undefined;
    if (row === undefined) throw new JournalCorruptError(path, 'the meta row (device and journal identity) is missing');
    return {
      device_id: text(row, 'device_id'),
      journal_id: text(row, 'journal_id'),
      created_ms: int(row, 'created_ms'),
      last_seq: int(row, 'last_seq'),
      stored_records: int(row, 'stored_records'),
      stored_bytes: int(row, 'stored_bytes'),
      forwarded_seq: int(row, 'forwarded_seq'),
    };
  }

  const identity = readMeta();
  if (identity.device_id !== deviceId) {
    db.close();
    throw new FieldkitError(
      appError(
        'CONFLICT',
        `The journal at ${path} belongs to device '${identity.device_id}', but the config says '${deviceId}'.`,
        'Fix device_id in the config, or (if this Pi really is a new device) move the journal aside so a new one is made.',
        'device_id',
      ),
    );
  }
  const journalId = identity.journal_id;

  const insertRecord = db.prepare(
    'INSERT INTO records (seq, ts_ms, recv_ms, priority, kind, model_version, payload, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const updateCounters = db.prepare('UPDATE meta SET last_seq = ?, stored_records = ?, stored_bytes = ? WHERE id = 1');
  const maxCustody = db.prepare('SELECT coalesce(max(through_seq), 0) AS through FROM custody');
  const insertLoss = db.prepare('INSERT INTO losses (from_seq, to_seq, count, priority, reason, at_ms) VALUES (?, ?, ?, ?, ?, ?)');
  const upsertCustody = db.prepare(
    `INSERT INTO custody (courier_id, through_seq, at_ms) VALUES (?, ?, ?)
     ON CONFLICT (courier_id) DO UPDATE SET
       at_ms = CASE WHEN excluded.through_seq > through_seq THEN excluded.at_ms ELSE at_ms END,
       through_seq = max(through_seq, excluded.through_seq)`,
  );
  const selectCustodyOf = db.prepare('SELECT through_seq FROM custody WHERE courier_id = ?');
  const selectCustody = db.prepare('SELECT courier_id, through_seq, at_ms FROM custody ORDER BY courier_id');
  const updateForwarded = db.prepare(
    'UPDATE meta SET forwarded_seq = ?, forwarded_by = ?, forwarded_ms = ? WHERE id = 1 AND forwarded_seq < ?',
  );
  const selectLosses = db.prepare('SELECT from_seq, to_seq, count, priority, reason, at_ms FROM losses WHERE to_seq > ? ORDER BY from_seq, id');
  const countLosses = db.prepare('SELECT count(*) AS n FROM losses');
  const firstSeq = db.prepare('SELECT coalesce(min(seq), 0) AS seq FROM records');
  const readStatements = new Map<string, StatementSync>();
  const retention = createRetention(db, policy);

  function confirmedThrough(meta: Meta): number {
    const custody = int(maxCustody.get() as Record<string, unknown>, 'through');
    return Math.max(custody, meta.forwarded_seq);
  }

  /** Runs `fn` in one write transaction, turning SQLite failures into the journal's errors. */
  function write<T>(what: string, fn: () => T): T {
    try {
      db.exec('BEGIN IMMEDIATE');
      const result = fn();
      db.exec('COMMIT');
      return result;
    } catch (error) {
      // SQLITE_FULL may already have rolled back; a failed COMMIT may not have.
      if (db.isTransaction) {
        try {
          db.exec('ROLLBACK');
        } catch {
          // The connection is unusable; the original error says why.
        }
      }
      if (error instanceof FieldkitError) throw error;
      if (isCorruption(error)) throw new JournalCorruptError(path, `SQLite while trying to ${what}: ${message(error)}`, error);
      if (isStorageFailure(error)) throw new JournalStorageError(`Cannot ${what} in the journal at ${path}: ${message(error)}`, error);
      throw error;
    }
  }

  function recordLosses(pending: readonly PendingLoss[], atMs: number): LossRecord[] {
    return pending.map((loss) => {
      insertLoss.run(loss.from_seq, loss.to_seq, loss.count, loss.priority, loss.reason, atMs);
      return { device_id: deviceId, journal_id: journalId, ...loss, at_ms: atMs };
    });
  }

  function prepareRows(events: readonly IngestEvent[], recvMs: number): PreparedRow[] {
    return events.map((event) => {
      const payload = JSON.stringify(event.payload);
      const modelVersion = event.model_version ?? defaultModelVersion;
      return {
        ts_ms: event.ts_ms ?? recvMs,
        priority: event.priority,
        kind: event.kind,
        model_version: modelVersion,
        payload,
        size: rowBytes(payload, event.kind, modelVersion),
      };
    });
  }

  function appendBatches(batches: readonly (readonly IngestEvent[])[], recvMs: number): AppendResult[] {
    // Serialise before taking the write lock: the lock is held only for SQLite's work.
    const prepared = batches.map((events) => prepareRows(events, recvMs));
    const incomingBytes = prepared.reduce((sum, rows) => sum + rows.reduce((s, r) => s + r.size, 0), 0);
    const incomingRecords = prepared.reduce((sum, rows) => sum + rows.length, 0);
    if (incomingRecords === 0) return prepared.map(() => ({ first_seq: 0, last_seq: 0, count: 0 }));
    if (incomingBytes > budgetBytes) {
      throw new JournalFullError(`A batch of ${incomingBytes} bytes cannot fit in a journal budget of ${budgetBytes} bytes.`);
    }
    return write('append events', () => {
      const meta = readMeta();
      let storedBytes = meta.stored_bytes;
      let storedRecords = meta.stored_records;
      if (storedBytes + incomingBytes > budgetBytes) {
        const outcome = retention.makeRoom(storedBytes, budgetBytes - incomingBytes, confirmedThrough(meta));
        if (!outcome.fits) {
          throw new JournalFullError(
            `The journal budget of ${budgetBytes} bytes is full of unconfirmed priority-1 (safety) records, which are never dropped unconfirmed.`,
          );
        }
        recordLosses(outcome.losses, recvMs);
        storedBytes -= outcome.freedBytes;
        storedRecords -= outcome.freedRecords;
      }
      let seq = meta.last_seq;
      const results: AppendResult[] = [];
      for (const rows of prepared) {
        const first = seq + 1;
        for (const row of rows) {
          seq++;
          insertRecord.run(seq, row.ts_ms, recvMs, row.priority, row.kind, row.model_version, row.payload, row.size);
        }
        results.push(rows.length === 0 ? { first_seq: 0, last_seq: 0, count: 0 } : { first_seq: first, last_seq: seq, count: rows.length });
      }
      updateCounters.run(seq, storedRecords + incomingRecords, storedBytes + incomingBytes);
      return results;
    });
  }

  function read(options: ReadOptions): JournalRecord[] {
    const priorities = options.priorities === undefined ? [] : [...new Set(options.priorities)].sort();
    const key = priorities.join(',');
    let statement = readStatements.get(key);
    if (statement === undefined) {
      const filter = priorities.length === 0 ? '' : ` AND priority IN (${priorities.join(', ')})`;
      statement = db.prepare(
        `SELECT seq, ts_ms, recv_ms, priority, kind, model_version, payload FROM records WHERE seq > ?${filter} ORDER BY seq LIMIT ?`,
      );
      readStatements.set(key, statement);
    }
    const records: JournalRecord[] = [];
    let bytes = 0;
    for (const row of statement.iterate(options.after_seq, options.limit) as Iterable<Record<string, unknown>>) {
      const payload = text(row, 'payload');
      records.push({
        device_id: deviceId,
        journal_id: journalId,
        seq: int(row, 'seq'),
        ts_ms: int(row, 'ts_ms'),
        recv_ms: int(row, 'recv_ms'),
        priority: asPriority(row.priority),
        kind: text(row, 'kind'),
        model_version: text(row, 'model_version'),
        payload,
      });
      bytes += payload.length;
      if (bytes >= options.max_bytes) break;
    }
    return records;
  }

  function info(): JournalInfo {
    const meta = readMeta();
    const custody = (selectCustody.all() as Record<string, unknown>[]).map((row) => ({
      courier_id: text(row, 'courier_id'),
      through_seq: int(row, 'through_seq'),
      at_ms: int(row, 'at_ms'),
    }));
    return {
      device_id: meta.device_id,
      journal_id: meta.journal_id,
      created_ms: meta.created_ms,
      first_seq: int(firstSeq.get() as Record<string, unknown>, 'seq'),
      last_seq: meta.last_seq,
      records: meta.stored_records,
      bytes: meta.stored_bytes,
      budget_bytes: budgetBytes,
      custody,
      forwarded_seq: meta.forwarded_seq,
      losses: int(countLosses.get() as Record<string, unknown>, 'n'),
    };
  }

  // A watermark past last_seq would mark records not yet written as confirmed, and
  // retention would later drop them silently: clamp to what exists.
  function ackCustody(courierId: string, throughSeq: number, atMs: number): number {
    return write('record custody', () => {
      const through = Math.min(throughSeq, readMeta().last_seq);
      upsertCustody.run(courierId, Math.max(0, through), atMs);
      return int(selectCustodyOf.get(courierId) as Record<string, unknown>, 'through_seq');
    });
  }

  function ackForwarded(by: string, throughSeq: number, atMs: number): number {
    return write('record forwarding', () => {
      const through = Math.min(throughSeq, readMeta().last_seq);
      updateForwarded.run(through, by, atMs, through);
      return readMeta().forwarded_seq;
    });
  }

  function losses(afterSeq: number): LossRecord[] {
    return (selectLosses.all(afterSeq) as Record<string, unknown>[]).map((row) => ({
      device_id: deviceId,
      journal_id: journalId,
      from_seq: int(row, 'from_seq'),
      to_seq: int(row, 'to_seq'),
      count: int(row, 'count'),
      priority: asPriority(row.priority),
      reason: text(row, 'reason') as LossRecord['reason'],
      at_ms: int(row, 'at_ms'),
    }));
  }

  function enforceRetention(nowMs: number): LossRecord[] {
    return write('enforce retention', () => {
      const meta = readMeta();
      const confirmed = confirmedThrough(meta);
      const expired = retention.dropExpired(nowMs, confirmed);
      let storedBytes = meta.stored_bytes - expired.freedBytes;
      let storedRecords = meta.stored_records - expired.freedRecords;
      const recorded = recordLosses(expired.losses, nowMs);
      if (storedBytes > budgetBytes) {
        // Over budget without an append (the budget was lowered): drop what may be
        // dropped; unconfirmed safety data stays even if that leaves the journal over.
        const room = retention.makeRoom(storedBytes, budgetBytes, confirmed);
        recorded.push(...recordLosses(room.losses, nowMs));
        storedBytes -= room.freedBytes;
        storedRecords -= room.freedRecords;
      }
      updateCounters.run(meta.last_seq, storedRecords, storedBytes);
      return recorded;
    });
  }

  return {
    deviceId,
    journalId,
    append: (events, recvMs) => appendBatches([events], recvMs)[0] ?? { first_seq: 0, last_seq: 0, count: 0 },
    appendBatches,
    read,
    info,
    ackCustody,
    ackForwarded,
    losses,
    enforceRetention,
    close: () => {
      db.close();
    },
  };
}
