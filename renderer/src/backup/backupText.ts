/**
 * The Backups screen's words: freshness of a class, where copies are, a snapshot's versions.
 * Staleness is always said in words ("overdue"), so it never rests on colour alone.
 */
import type { BackupFreshness } from '../../../shared/backup.ts';
import type { BackupClass } from '../../../shared/backupStream.ts';
import { formatBytes } from '../../../shared/format.ts';
import { ageWords, copiesWords } from '../format/backupWords.ts';

// Words the Recovery section says too live in format/backupWords.ts.
export { ageWords, classLabels, copiesWords } from '../format/backupWords.ts';


/** What each class holds, for the column headers' titles and the Back up dialog. */
export const classDescriptions: Record<BackupClass, string> = {
  config: 'fieldkit-managed files under /etc, plus paths you added',
  state: "the agent's journal and state databases, snapshotted consistently",
  data: 'the data folders you declared',
  secrets: 'device identity, SSH host keys, TLS keys, agent tokens (own repository, own key)',
};

export type FreshnessWords = {
  /** 'ok' within its window, 'stale' overdue, 'never' no good backup at all. */
  state: 'ok' | 'stale' | 'never';
  /** The word that carries the state: "within 7 d", "overdue", "never backed up". */
  verdict: string;
  /** "2 h ago · 1.2 MB", or null when there is no good backup. */
  latest: string | null;
  /** The longer sentence for the cell's title and screen readers. */
  sentence: string;
};

/** One device × class as the table says it (the service's age and verdict; the screen refetches every minute). */
export function freshnessWords(f: BackupFreshness | null): FreshnessWords {
  const window = f === null ? null : `${f.windowDays} d`;
  if (f === null || f.lastGoodAt === null) {
    return {
      state: 'never',
      verdict: 'never backed up',
      latest: null,
      sentence: `No good backup of this class${window === null ? '' : ` (its window is ${window})`}: back it up.`,
    };
  }
  const age = f.ageSeconds ?? 0;
  const overdue = f.stale;
  const size = f.sizeBytes === null ? '' : ` · ${formatBytes(f.sizeBytes)}`;
  const latest = `${ageWords(age)} ago${size}`;
  return overdue
    ? { state: 'stale', verdict: `overdue (window ${window ?? ''})`, latest, sentence: `Last good backup ${ageWords(age)} ago, older than its ${window ?? ''} window: back it up.` }
    : { state: 'ok', verdict: `within ${window ?? ''}`, latest, sentence: `Last good backup ${ageWords(age)} ago, within its ${window ?? ''} window; copies: ${copiesWords(f.copies)}.` };
}

/** "agent 1.4.0 · image 2025.06 · model yolo-3", leaving out what the snapshot does not name. */
export function versionWords(v: { agentVersion: string | null; imageVersion: string | null; modelVersion: string | null }): string {
  const parts = [
    v.agentVersion === null ? null : `agent ${v.agentVersion}`,
    v.imageVersion === null ? null : `image ${v.imageVersion}`,
    v.modelVersion === null ? null : `model ${v.modelVersion}`,
  ].filter((p) => p !== null);
  return parts.length === 0 ? '—' : parts.join(' · ');
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** A restic id as shown (its first 8 hex digits, as restic itself prints it). */
export function shortId(resticId: string): string {
  return resticId.slice(0, 8);
}
