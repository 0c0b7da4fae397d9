/**
 * The backup domain's tables (owner of `backup_repositories`, `backup_copies`,
 * `backup_verifications`) and its meta key `settings.backup`: which restic repositories this
 * laptop created, which of the laptop's snapshots each copy holds, the verification history,
 * and the settings (site drive, off-site URL, policies, verification).
 */
import { z } from 'zod';
import {
  BackupPoliciesSchema,
  defaultBackupPolicies,
  defaultVerifySettings,
  RepoKindSchema,
  RepoRoleSchema,
  VerificationEntrySchema,
  VerifySettingsSchema,
  type BackupPolicies,
  type RepoKind,
  type RepoRole,
  type VerificationEntry,
  type VerifySettings,
} from '../../shared/backup.ts';
import { readMetaValue, writeMetaValue } from '../kernel/store/metaValues.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { rowReader } from '../kernel/store/storeRows.ts';

const SETTINGS_KEY = 'settings.backup';

export const StoredBackupSettingsSchema = z.object({
  siteDrivePath: z.string().nullable().default(null),
  offsiteUrl: z.string().nullable().default(null),
  policies: BackupPoliciesSchema.default(defaultBackupPolicies),
  verify: VerifySettingsSchema.default(defaultVerifySettings),
});
export type StoredBackupSettings = { siteDrivePath: string | null; offsiteUrl: string | null; policies: BackupPolicies; verify: VerifySettings };

export type RepositoryRow = {
  role: RepoRole;
  kind: RepoKind;
  location: string;
  createdMs: number;
  recoveryKeyShown: boolean;
  nextSubset: number;
  lastVerifiedMs: number | null;
  lastVerifyOk: boolean | null;
  lastCopyMs: number | null;
};

const repos = rowReader('backup_repositories');
const copies = rowReader('backup_copies');
const verifications = rowReader('backup_verifications');

function repositoryRow(value: unknown): RepositoryRow {
  const r = repos.row(value);
  const ok = repos.intOrNull(r, 'last_verify_ok');
  return {
    role: repos.oneOf(r, 'role', RepoRoleSchema.options),
    kind: repos.oneOf(r, 'kind', RepoKindSchema.options),
    location: repos.text(r, 'location'),
    createdMs: repos.int(r, 'created_ms'),
    recoveryKeyShown: repos.int(r, 'recovery_key_shown') === 1,
    nextSubset: repos.int(r, 'next_subset'),
    lastVerifiedMs: repos.intOrNull(r, 'last_verified_ms'),
    lastVerifyOk: ok === null ? null : ok === 1,
    lastCopyMs: repos.intOrNull(r, 'last_copy_ms'),
  };
}

export type RepositoryStore = ReturnType<typeof createRepositoryStore>;

export function createRepositoryStore(db: Store) {
  return {
    loadSettings(): StoredBackupSettings {
      const text = readMetaValue(db, SETTINGS_KEY);
      const parsed = StoredBackupSettingsSchema.safeParse(text === null ? {} : JSON.parse(text));
      // A damaged value is not a reason to lose the defaults: freshness must still be judged.
      return parsed.success ? parsed.data : StoredBackupSettingsSchema.parse({});
    },
    saveSettings(settings: StoredBackupSettings): void {
      writeMetaValue(db, SETTINGS_KEY, JSON.stringify(settings));
    },
    /** The repository created at `location` for this role and kind, or null when none was. */
    find(role: RepoRole, kind: RepoKind, location: string): RepositoryRow | null {
      const row = db.prepare(`SELECT * FROM backup_repositories WHERE role = ? AND kind = ? AND location = ?`).get(role, kind, location);
      return row === undefined ? null : repositoryRow(row);
    },
    /** Records a repository restic just created (first writer wins: another process may have made it too). */
    recordCreated(role: RepoRole, kind: RepoKind, location: string, atMs: number, recoveryKeyShown: boolean): void {
      db.prepare(`INSERT OR IGNORE INTO backup_repositories (role, kind, location, created_ms, recovery_key_shown) VALUES (?, ?, ?, ?, ?)`).run(
        role,
        kind,
        location,
        atMs,
        recoveryKeyShown ? 1 : 0,
      );
    },
    markRecoveryKeyShown(role: RepoRole, kind: RepoKind, location: string): void {
      db.prepare(`UPDATE backup_repositories SET recovery_key_shown = 1 WHERE role = ? AND kind = ? AND location = ?`).run(role, kind, location);
    },
    recordCopy(role: RepoRole, kind: RepoKind, location: string, pairs: readonly { originalId: string; copyId: string }[], atMs: number): void {
      const insert = db.prepare(
        `INSERT INTO backup_copies (role, kind, location, original_id, copy_id, recorded_ms) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (role, kind, location, original_id) DO UPDATE SET copy_id = excluded.copy_id, recorded_ms = excluded.recorded_ms`,
      );
      db.transaction(() => {
        // What the target holds now is the truth: a copy forgotten there no longer counts.
        db.prepare(`DELETE FROM backup_copies WHERE role = ? AND kind = ? AND location = ?`).run(role, kind, location);
        for (const pair of pairs) insert.run(role, kind, location, pair.originalId, pair.copyId, atMs);
        db.prepare(`UPDATE backup_repositories SET last_copy_ms = ? WHERE role = ? AND kind = ? AND location = ?`).run(atMs, role, kind, location);
      })();
    },
    /** The laptop snapshot ids (originals) each copy place holds, at its current location. */
    copiesHeld(role: RepoRole, kind: RepoKind, location: string): Set<string> {
      const rows = db.prepare(`SELECT original_id FROM backup_copies WHERE role = ? AND kind = ? AND location = ?`).all(role, kind, location);
      return new Set(rows.map((row) => copies.text(copies.row(row), 'original_id')));
    },
    /** Takes the next `--read-data-subset` slice (1..n) of a repository and moves it on. */
    takeSubset(role: RepoRole, kind: RepoKind, location: string, n: number): number {
      return db.transaction(() => {
        const row = this.find(role, kind, location);
        const k = row === null ? 1 : ((row.nextSubset - 1) % n) + 1;
        db.prepare(`UPDATE backup_repositories SET next_subset = ? WHERE role = ? AND kind = ? AND location = ?`).run((k % n) + 1, role, kind, location);
        return k;
      }).immediate();
    },
    recordVerification(entry: Omit<VerificationEntry, 'id'>): VerificationEntry {
      return db.transaction(() => {
        const info = db
          .prepare(`INSERT INTO backup_verifications (at_ms, role, kind, location, ok, entry) VALUES (?, ?, ?, ?, ?, '{}')`)
          .run(entry.at, entry.role, entry.kind, entry.location, entry.ok ? 1 : 0);
        const full: VerificationEntry = { ...entry, id: Number(info.lastInsertRowid) };
        db.prepare(`UPDATE backup_verifications SET entry = ? WHERE id = ?`).run(JSON.stringify(full), full.id);
        db.prepare(`UPDATE backup_repositories SET last_verified_ms = ?, last_verify_ok = ? WHERE role = ? AND kind = ? AND location = ?`).run(
          entry.at,
          entry.ok ? 1 : 0,
          entry.role,
          entry.kind,
          entry.location,
        );
        return full;
      })();
    },
    /** Verification history, newest first; a device's are the entries whose sample restores name it. */
    history(filter: { role?: RepoRole | undefined; deviceId?: string | undefined; limit: number }): VerificationEntry[] {
      const rows = filter.role === undefined
        ? db.prepare(`SELECT entry FROM backup_verifications ORDER BY id DESC`).iterate()
        : db.prepare(`SELECT entry FROM backup_verifications WHERE role = ? ORDER BY id DESC`).iterate(filter.role);
      const out: VerificationEntry[] = [];
      for (const raw of rows) {
        const entry = verifications.json(verifications.row(raw), 'entry', VerificationEntrySchema);
        if (filter.deviceId !== undefined && !entry.samples.some((s) => s.deviceId === filter.deviceId)) continue;
        out.push(entry);
        if (out.length >= filter.limit) break;
      }
      return out;
    },
  };
}
