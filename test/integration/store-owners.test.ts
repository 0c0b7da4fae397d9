import Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCourierStore } from '../../electron/courier/courierStore.ts';
import { createQuarantineStore } from '../../electron/courier/quarantineStore.ts';
import { openStore, storeFileName } from '../../electron/kernel/store/openStore.ts';
import { isFieldkitError } from '../../shared/errors.ts';
import { tempDirs } from '../support/tempDir.ts';

const root = join(import.meta.dirname, '../..');

/** Who owns which table: the table in electron/kernel/store/README.md, as the code must keep it. */
const owners: Record<string, string> = {
  jobs: 'electron/kernel/jobs/jobStore.ts',
  job_log: 'electron/kernel/jobs/jobStore.ts',
  meta: 'electron/kernel/store/metaValues.ts',
  devices: 'electron/devices/deviceStore.ts',
  courier_journals: 'electron/courier/courierStore.ts',
  courier_records: 'electron/courier/courierStore.ts',
  courier_losses: 'electron/courier/courierStore.ts',
  courier_pulls: 'electron/courier/courierStore.ts',
  courier_health_minutes: 'electron/courier/healthHistoryStore.ts',
  courier_health_events: 'electron/courier/healthHistoryStore.ts',
  courier_quarantine: 'electron/courier/quarantineStore.ts',
  trusted_keys: 'electron/kernel/trust/trustStore.ts',
  recent_images: 'electron/flash/recentImagesStore.ts',
  rollouts: 'electron/deploy/rolloutStore.ts',
  rollout_devices: 'electron/deploy/rolloutDeviceStore.ts',
  rollout_transcript: 'electron/deploy/rolloutTranscriptStore.ts',
  backup_repositories: 'electron/backup/repositoryStore.ts',
  backup_copies: 'electron/backup/repositoryStore.ts',
  backup_verifications: 'electron/backup/repositoryStore.ts',
  backup_runs: 'electron/backup/backupRunStore.ts',
  recovery_runs: 'electron/recovery/recoveryRunStore.ts',
  recovery_replaces: 'electron/recovery/replaceStepStore.ts',
  recovery_replace_steps: 'electron/recovery/replaceStepStore.ts',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [relative(root, path)] : [];
  });
}

/** Laptop-side sources, the schema history aside (migrations create every table). */
const sources = sourceFiles(join(root, 'electron'))
  .filter((file) => !file.startsWith('electron/kernel/store/migrations'))
  .map((file) => ({ file, text: readFileSync(join(root, file), 'utf8') }));

describe('who owns which table of the laptop store', () => {
  const dirs = tempDirs();
  afterEach(() => {
    dirs.removeAll();
  });
  const tempDir = dirs.make;

  it('gives every table one owner, and no other file writes SQL against it', () => {
    const db = openStore(tempDir());
    const tables = db
      .prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
      .all()
      .map((row) => String((row as Record<string, unknown>)['name']));
    db.close();
    // A new table needs an owner here and in the README.
    expect(tables).toEqual(Object.keys(owners).sort());
    const used = new Map<string, Set<string>>();
    for (const { file, text } of sources) {
      for (const match of text.matchAll(/\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+([a-z_]+)\b/g)) {
        const table = match[1] ?? '';
        if (!(table in owners)) continue;
        used.set(table, (used.get(table) ?? new Set()).add(file));
      }
    }
    const users = Object.fromEntries(tables.map((t) => [t, [...(used.get(t) ?? [])].sort()]));
    expect(users).toEqual(Object.fromEntries(tables.map((t) => [t, [owners[t]]])));
  });

  it('casts no row SQLite returns: rows are read through a checked reader or a schema', () => {
    const cast = /\.(?:get|all|iterate)\((?:[^()]|\([^()]*\))*\)\s*\)?\s*as\s+(?!const\b)|=>\s*\(?\w+\s+as\s+\{/g;
    // Only code that runs SQL returns rows: a typed Map's `.get(key) as T` elsewhere is not one.
    const sql = sources.filter(({ text }) => /\.prepare\(|\.exec\(|\bStatement\b/.test(text));
    expect(sql.length).toBeGreaterThan(10);
    const found = sql.flatMap(({ file, text }) => [...text.matchAll(cast)].map((m) => `${file}:${text.slice(0, m.index).split('\n').length}`));
    expect(found).toEqual([]);
  });

  it('refuses a column that does not hold what the code expects, naming the table and column', () => {
    const dir = tempDir();
    const db = openStore(dir);
    const courier = createCourierStore(db);
    courier.noteJournal({ device_id: 'pi-1', journal_id: 'j-1', device_ref: null, site: 'depot', agent_last_seq: 5, agent_first_seq: 1, clock_offset_ms: 0, now: 1000 });
    db.close();
    // Another program (or a damaged page) leaves text where a seq belongs.
    const raw = new Database(join(dir, storeFileName));
    raw.prepare(`UPDATE courier_journals SET contiguous_seq = 'five'`).run();
    raw.prepare(
      `INSERT INTO courier_quarantine (kind, device_id, journal_id, seq, to_seq, priority, state, reason, preview, attempts, quarantined_ms, last_attempt_ms)
       VALUES ('record', 'pi-1', 'j-1', 3, 3, 2, 'quarantined', 'bad row', '{}', 'often', 1, 1)`,
    ).run();
    raw.close();
    const reopened = openStore(dir);
    const thrown = (read: () => unknown): unknown => {
      try {
        read();
      } catch (error) {
        return error;
      }
      return null;
    };
    const journal = thrown(() => createCourierStore(reopened).journals());
    expect(isFieldkitError(journal) && journal.appError.code).toBe('INTERNAL');
    expect(isFieldkitError(journal) && journal.appError.message).toContain('courier_journals.contiguous_seq holds the text "five", not an integer');
    const quarantined = thrown(() => createQuarantineStore(reopened).list({ includeDiscarded: false, limit: 10 }));
    expect(isFieldkitError(quarantined) && quarantined.appError.message).toContain('courier_quarantine.attempts holds the text "often", not an integer');
    reopened.close();
  });
});
