/**
 * Where each repository is and how restic opens it. Each place (this laptop, the site drive,
 * off-site) holds two: `main` and `secrets` (the secrets class, with its own password).
 * Passwords are made here, kept in the app's secret store, and travel to a job's worker as
 * job secrets; the recovery key of a repository is its password.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { RepoKindSchema, repoRoleLabels, type RepoKind, type RepoRole } from '../../shared/backup.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { loadOrCreateAppSshKey } from '../kernel/link/appSshKey.ts';
import type { SecretStore } from '../kernel/secrets/secretStore.ts';
import type { RepoTarget } from './jobParams.ts';
import type { StoredBackupSettings } from './repositoryStore.ts';
import type { ResticRepo } from './restic/resticProcess.ts';
import { parseSftpUrl, sftpCommandFor } from './restic/sftpCommand.ts';

export const RECOVERY_KEY_WARNING =
  'This is the recovery key of the repository: its password. Without it the backups in it cannot be read by anyone, fieldkit included, ' +
  'if this laptop or its secret store is lost. Write it down or put it in your team\'s password manager now; fieldkit will not show it again.';

/** The laptop's repositories live in the data folder. */
export function laptopRepoDir(dataDir: string): string {
  return join(dataDir, 'backups');
}

/** Where a role's repository of one kind is, or null when that place is not configured. */
export function locationOf(role: RepoRole, kind: RepoKind, settings: StoredBackupSettings, dataDir: string): string | null {
  if (role === 'laptop') return join(laptopRepoDir(dataDir), kind);
  if (role === 'site') return settings.siteDrivePath === null ? null : join(settings.siteDrivePath, 'fieldkit-backups', kind);
  if (settings.offsiteUrl === null) return null;
  return `${settings.offsiteUrl.replace(/\/+$/, '')}/${kind}`;
}

/** Both repositories of a configured role; NOT_FOUND saying how to set it up when it is not. */
export function targetsOf(role: RepoRole, settings: StoredBackupSettings, dataDir: string): RepoTarget[] {
  return RepoKindSchema.options.map((kind) => {
    const location = locationOf(role, kind, settings, dataDir);
    if (location === null) {
      throw new FieldkitError(
        appError(
          'NOT_FOUND',
          `No ${repoRoleLabels[role]} repository is set up.`,
          role === 'site' ? 'Set the site drive folder: fieldkit backup repo --site-drive /media/…' : 'Set the off-site repository: fieldkit backup repo --offsite sftp:user@host:/path',
        ),
      );
    }
    return { role, kind, location };
  });
}

/** The secret store name of a repository's password (per location: a new drive is a new repository). */
export function passwordSecret(target: RepoTarget): string {
  const place = createHash('sha256').update(target.location).digest('hex').slice(0, 16);
  return `backup.restic.${target.role}.${target.kind}.${place}`;
}

/** A new repository password: 32 random bytes, readable enough to write down in groups. */
export function newRepoPassword(): string {
  const hex = randomBytes(24).toString('base64url');
  return hex.match(/.{1,8}/g)?.join('-') ?? hex;
}

export async function repoPassword(secrets: SecretStore, target: RepoTarget): Promise<string | null> {
  return secrets.get(passwordSecret(target));
}

/** How restic opens `target` in this process (the worker or the app): the sftp ones over fieldkit's own key. */
export function resticRepoFor(target: RepoTarget, password: string, dataDir: string): ResticRepo {
  const sftp = parseSftpUrl(target.location);
  const label = `${repoRoleLabels[target.role]}${target.kind === 'secrets' ? ' (secrets)' : ''} at ${target.location}`;
  if (sftp === null) return { location: target.location, password, label };
  const key = loadOrCreateAppSshKey(dataDir);
  return { location: target.location, password, label, sftpCommand: sftpCommandFor(sftp, key.path, join(laptopRepoDir(dataDir), 'known_hosts')) };
}
