/**
 * settings.backup.*: the repositories (creating them, once, with a new password each, whose
 * recovery key is answered exactly once), policies and verification settings.
 */
import { mkdirSync, statSync } from 'node:fs';
import { RepoKindSchema, RepoRoleSchema, type BackupSettingsPatch, type BackupSettingsView, type RecoveryKey, type RepositoryView, type RepoRole } from '../../shared/backup.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import type { SecretStore } from '../kernel/secrets/secretStore.ts';
import type { Store } from '../kernel/store/openStore.ts';
import type { RepoTarget } from './jobParams.ts';
import { laptopRepoDir, locationOf, newRepoPassword, passwordSecret, RECOVERY_KEY_WARNING, resticRepoFor } from './repositories.ts';
import { createRepositoryStore, type StoredBackupSettings } from './repositoryStore.ts';
import { initRepo } from './restic/resticRepo.ts';
import { parseSftpUrl } from './restic/sftpCommand.ts';

export type BackupDeps = { db: Store; secrets: SecretStore; dataDir: string };

function deviceOf(path: string): number | null {
  try {
    return statSync(path).dev;
  } catch {
    return null;
  }
}

/** Said beside the settings: a site drive on the laptop's own disk is not a second medium. */
function warningsFor(settings: StoredBackupSettings, dataDir: string): string[] {
  const warnings: string[] = [];
  if (settings.siteDrivePath !== null) {
    const drive = deviceOf(settings.siteDrivePath);
    if (drive === null) warnings.push(`The site drive folder ${settings.siteDrivePath} is not there now: attach the drive before copying to it.`);
    else if (drive === deviceOf(dataDir)) warnings.push(`The site drive folder ${settings.siteDrivePath} is on this laptop's own disk: it is not a second medium, and is lost with the laptop. Use a USB drive.`);
  }
  return warnings;
}

function applyPatch(settings: StoredBackupSettings, patch: BackupSettingsPatch): StoredBackupSettings {
  const policies = { ...settings.policies };
  for (const cls of ['config', 'state', 'data', 'secrets'] as const) {
    const change = patch.policies?.[cls];
    if (change !== undefined) policies[cls] = { ...policies[cls], ...change, retention: change.retention ?? policies[cls].retention };
  }
  return {
    siteDrivePath: patch.siteDrivePath === undefined ? settings.siteDrivePath : patch.siteDrivePath,
    offsiteUrl: patch.offsiteUrl === undefined ? settings.offsiteUrl : patch.offsiteUrl,
    policies,
    verify: { ...settings.verify, ...patch.verify },
  };
}

export function createBackupSettings(deps: BackupDeps) {
  const store = createRepositoryStore(deps.db);

  function view(settings: StoredBackupSettings): BackupSettingsView {
    const repositories: RepositoryView[] = RepoRoleSchema.options.flatMap((role) =>
      RepoKindSchema.options.flatMap((kind) => {
        const location = locationOf(role, kind, settings, deps.dataDir);
        if (location === null) return [];
        const row = store.find(role, kind, location);
        return [{
          role,
          kind,
          location,
          initialized: row !== null,
          createdAt: row?.createdMs ?? null,
          recoveryKeyShown: row?.recoveryKeyShown ?? false,
          nextSubset: row === null ? 1 : ((row.nextSubset - 1) % settings.verify.subsetRuns) + 1,
          lastVerifiedAt: row?.lastVerifiedMs ?? null,
          lastVerifyOk: row?.lastVerifyOk ?? null,
          lastCopyAt: row?.lastCopyMs ?? null,
        }];
      }),
    );
    return { repositories, siteDrivePath: settings.siteDrivePath, offsiteUrl: settings.offsiteUrl, policies: settings.policies, verify: settings.verify, warnings: warningsFor(settings, deps.dataDir), passwordStore: deps.secrets.description };
  }

  /** Creates both repositories of `role` that are not yet, answering each new one's recovery key. */
  async function ensureRole(role: RepoRole, settings: StoredBackupSettings, shown: boolean): Promise<RecoveryKey[]> {
    const keys: RecoveryKey[] = [];
    for (const kind of RepoKindSchema.options) {
      const location = locationOf(role, kind, settings, deps.dataDir);
      if (location === null || store.find(role, kind, location) !== null) continue;
      const target: RepoTarget = { role, kind, location };
      // The password is saved before restic init: a repository must never exist whose password was not kept.
      const password = (await deps.secrets.get(passwordSecret(target))) ?? newRepoPassword();
      await deps.secrets.set(passwordSecret(target), password);
      if (role === 'laptop') mkdirSync(laptopRepoDir(deps.dataDir), { recursive: true, mode: 0o700 });
      await initRepo(resticRepoFor(target, password, deps.dataDir));
      store.recordCreated(role, kind, location, Date.now(), shown);
      keys.push({ role, kind, location, recoveryKey: password, warning: RECOVERY_KEY_WARNING });
    }
    return keys;
  }

  function checkPlaces(patch: BackupSettingsPatch): void {
    if (patch.siteDrivePath != null && deviceOf(patch.siteDrivePath) === null) {
      throw new FieldkitError(appError('BAD_REQUEST', `The site drive folder ${patch.siteDrivePath} does not exist.`, 'Attach and mount the drive, create the folder, then set it again.', 'siteDrivePath'));
    }
    if (patch.offsiteUrl != null) parseSftpUrl(patch.offsiteUrl);
  }

  return {
    get: (): BackupSettingsView => view(store.loadSettings()),
    async set(patch: BackupSettingsPatch): Promise<{ settings: BackupSettingsView; recoveryKeys: RecoveryKey[] }> {
      const before = store.loadSettings();
      checkPlaces(patch);
      const next = applyPatch(before, patch);
      const recoveryKeys: RecoveryKey[] = [];
      if (patch.createLaptop === true) recoveryKeys.push(...(await ensureRole('laptop', next, true)));
      if (patch.siteDrivePath != null) recoveryKeys.push(...(await ensureRole('site', next, true)));
      if (patch.offsiteUrl != null) recoveryKeys.push(...(await ensureRole('offsite', next, true)));
      store.saveSettings(next);
      if (patch.revealRecoveryKeys === true) recoveryKeys.push(...(await revealUnseen(next)));
      return { settings: view(next), recoveryKeys };
    },
    /** The laptop's repositories, created on first use (by a backup) when not yet; their keys wait to be revealed. */
    ensureLaptop: () => ensureRole('laptop', store.loadSettings(), false),
  };

  async function revealUnseen(settings: StoredBackupSettings): Promise<RecoveryKey[]> {
    const keys: RecoveryKey[] = [];
    for (const repo of view(settings).repositories) {
      if (!repo.initialized || repo.recoveryKeyShown) continue;
      const password = await deps.secrets.get(passwordSecret(repo));
      if (password === null) continue;
      store.markRecoveryKeyShown(repo.role, repo.kind, repo.location);
      keys.push({ role: repo.role, kind: repo.kind, location: repo.location, recoveryKey: password, warning: RECOVERY_KEY_WARNING });
    }
    return keys;
  }
}
