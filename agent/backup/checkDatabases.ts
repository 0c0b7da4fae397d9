/**
 * `backup-restore --check-db P…`: each database opened read-only and `PRAGMA integrity_check`ed,
 * after a restore and before the agent starts on it. Read-only: a restored database is a
 * self-contained file (no -wal), and checking it must not create one owned by root.
 */
import { DatabaseSync } from 'node:sqlite';

export type DatabaseCheck = { path: string; ok: boolean; detail: string };

export function checkDatabases(paths: readonly string[]): DatabaseCheck[] {
  return paths.map((path) => {
    let db: DatabaseSync | null = null;
    try {
      db = new DatabaseSync(path, { readOnly: true });
      const rows = db.prepare('PRAGMA integrity_check').all();
      const words = rows.map((r) => Object.values(r).join(' ')).join('; ');
      return { path, ok: words === 'ok', detail: words.slice(0, 500) };
    } catch (error) {
      return { path, ok: false, detail: error instanceof Error ? error.message : String(error) };
    } finally {
      db?.close();
    }
  });
}
