/**
 * The `meta` table: small named values (settings, the courier's id). The table is the
 * store's; each key belongs to one store module, which alone reads and writes it through
 * these functions (see README.md for who owns which key).
 */
import type { Store } from './openStore.ts';
import { rowReader } from './storeRows.ts';

const meta = rowReader('meta');

/** The value saved under `key`, or null when none is. */
export function readMetaValue(db: Store, key: string): string | null {
  const row = meta.rowOrNull(db.prepare(`SELECT value FROM meta WHERE key = ?`).get(key));
  return row === null ? null : meta.text(row, 'value');
}

/** Saves `value` under `key`, replacing what was there. */
export function writeMetaValue(db: Store, key: string, value: string): void {
  db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(key, value);
}

/**
 * Saves `value` under `key` unless one is there already, and returns what is saved: when
 * two processes make the value at once, the first one written is the one both keep.
 */
export function keepFirstMetaValue(db: Store, key: string, value: string): string {
  db.prepare(`INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)`).run(key, value);
  return meta.text(meta.row(db.prepare(`SELECT value FROM meta WHERE key = ?`).get(key)), 'value');
}
