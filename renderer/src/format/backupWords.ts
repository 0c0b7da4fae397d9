/**
 * Words for backup values that both the Backups screen and the Recovery section say: a class's
 * label, where copies are, an age. Here rather than in backup/ so recovery/ (shown inside the
 * Backups screen) needs nothing of backup/ and the two folders do not import each other.
 */
import { repoRoleLabels, type RepoRole } from '../../../shared/backup.ts';
import type { BackupClass } from '../../../shared/backupStream.ts';

export const classLabels: Record<BackupClass, string> = { config: 'Config', state: 'State', data: 'Data', secrets: 'Secrets' };

const roleOrder: readonly RepoRole[] = ['laptop', 'site', 'offsite'];

/** "laptop, site drive, off-site", in that order; "nowhere" when no copy exists. */
export function copiesWords(copies: readonly RepoRole[]): string {
  const held = roleOrder.filter((r) => copies.includes(r));
  return held.length === 0 ? 'nowhere' : held.map((r) => (r === 'laptop' ? 'laptop' : repoRoleLabels[r])).join(', ');
}

/** An age in the largest whole unit: "40 s", "12 min", "5 h", "9 d". */
export function ageWords(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h`;
  return `${Math.floor(h / 24)} d`;
}
