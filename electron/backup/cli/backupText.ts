/** How the backup commands say repositories and verifications in words. */
import { repoRoleLabels, type BackupSettingsView, type VerificationEntry } from '../../../shared/backup.ts';

export function describeVerification(e: VerificationEntry): string {
  const head = `${new Date(e.at).toISOString().slice(0, 16)} ${repoRoleLabels[e.role]} ${e.kind}: ${!e.ok ? 'PROBLEMS' : e.samples.length === 0 ? 'no snapshot to restore yet, repository structure sound' : 'restorable'} (check slice ${e.subset.k}/${e.subset.n}, ${e.samples.length} snapshot(s) restored, ${e.samples.reduce((s, x) => s + x.filesChecked, 0)} files compared, ${e.samples.reduce((s, x) => s + x.sqliteChecked, 0)} databases checked)`;
  return [head, ...e.problems.map((p) => `  ${p.message}\n  what to do: ${p.hint}`)].join('\n');
}

export function describeRepositories(s: BackupSettingsView): string {
  const lines = s.repositories.map(
    (r) => `${repoRoleLabels[r.role]} ${r.kind}: ${r.location} — ${r.initialized ? `created ${new Date(r.createdAt ?? 0).toISOString().slice(0, 10)}` : 'not created yet'}` +
      (r.lastVerifiedAt === null ? ', never verified' : `, verified ${new Date(r.lastVerifiedAt).toISOString().slice(0, 16)} ${r.lastVerifyOk === true ? 'OK' : 'with problems'}`) +
      (r.initialized && !r.recoveryKeyShown ? ' (recovery key not shown yet: fieldkit backup repo --reveal-keys)' : ''),
  );
  if (s.siteDrivePath === null) lines.push('site drive: not set (fieldkit backup repo --site-drive /media/…)');
  if (s.offsiteUrl === null) lines.push('off-site: not set (fieldkit backup repo --offsite sftp:user@host:/path)');
  lines.push(`passwords kept in ${s.passwordStore}`);
  return [...lines, ...s.warnings.map((w) => `warning: ${w}`)].join('\n');
}
