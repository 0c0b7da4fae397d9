/**
 * The journal: one SQLite database per Pi (node:sqlite, WAL). It must never lose an
 * acknowledged event, never reuse a key and always explain a gap; the design and its
 * invariants are in this folder's README.md.
 *
 * This file opens it and composes the parts, one subject per file: the integrity check
 * (journalIntegrity.ts), the connection and its write transactions (journalConnection.ts),
 * the schema (journalSchema.ts), the meta row (journalMeta.ts), the ingest commit
 * (journalWriter.ts), reads (journalReader.ts), custody and forwarded watermarks
 * (journalWatermarks.ts), retention (journalRetention.ts, journalRetentionPass.ts) and
 * loss records (journalLosses.ts), and continuity after a device is replaced
 * (journalContinuity.ts).
 *
 * Several processes may hold it at once (the daemon appends while an `rpc` process started
 * by a laptop reads and records custody), so nothing that matters is cached in memory:
 * every write transaction reads the counters from `meta` under SQLite's write lock.
 */
import { join } from 'node:path';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import type { Journal } from './journalApi.ts';
import { defaultBusyTimeoutMs, openConnection, writeTransactions } from './journalConnection.ts';
import { createContinuity } from './journalContinuity.ts';
import { checkIntegrity } from './journalIntegrity.ts';
import { createLossLog } from './journalLosses.ts';
import { createMetaStore, wrongDeviceError } from './journalMeta.ts';
import { createReader } from './journalReader.ts';
import { createRetention } from './journalRetention.ts';
import { createRetentionPass } from './journalRetentionPass.ts';
import { migrateJournal } from './journalSchema.ts';
import { createWatermarks } from './journalWatermarks.ts';
import { createWriter, emptyAppend } from './journalWriter.ts';

export { rowBytes, rowOverheadBytes } from './journalWriter.ts';

export const journalFileName = 'journal.db';

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

/** Opens (creating if needed) the journal at `options.path`. */
export function openJournal(options: OpenJournalOptions): Journal {
  const { path, deviceId, budgetBytes } = options;
  const busyTimeoutMs = options.busyTimeoutMs ?? defaultBusyTimeoutMs;
  checkIntegrity(path, busyTimeoutMs);
  const db = openConnection(path, busyTimeoutMs, (opened) => {
    migrateJournal(opened, path, deviceId, (options.now ?? Date.now)());
  });

  const meta = createMetaStore(db, path);
  const identity = meta.read();
  if (identity.device_id !== deviceId) {
    db.close();
    throw wrongDeviceError(path, identity.device_id, deviceId);
  }
  const keys = { deviceId, journalId: identity.journal_id };

  const write = writeTransactions(db, path);
  const watermarks = createWatermarks(db, meta, write);
  const lossLog = createLossLog(db, keys);
  const retention = createRetention(db, { budgetBytes, maxAgeDays: options.maxAgeDays ?? null });
  const parts = { write, meta, watermarks, retention, lossLog, budgetBytes };
  const writer = createWriter({ ...parts, db, defaultModelVersion: options.defaultModelVersion ?? '' });
  const reader = createReader({ db, keys, meta, watermarks, lossLog, budgetBytes });
  const continuity = createContinuity({ db, write, meta, path });

  return {
    deviceId,
    journalId: keys.journalId,
    append: (events, recvMs) => writer.appendBatches([events], recvMs)[0] ?? emptyAppend(),
    appendBatches: writer.appendBatches,
    read: reader.read,
    info: reader.info,
    ackCustody: watermarks.ackCustody,
    ackForwarded: watermarks.ackForwarded,
    losses: reader.losses,
    enforceRetention: createRetentionPass(parts),
    startReplacing: continuity.startReplacing,
    replaces: continuity.replaces,
    close: () => {
      db.close();
    },
  };
}
