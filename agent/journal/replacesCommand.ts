/**
 * `fieldkit-agent journal-replaces --journal ID --through N`: on a replacement Pi, before the
 * daemon's first start, makes the new journal's first record name the failed device's journal
 * and the last seq of it the laptop knew (journalContinuity.ts). One JSON line on stdout; safe
 * to repeat (a replace that was killed and rerun gets the same answer, `created: false`).
 */
import type { AgentConfig } from '../../shared/agentConfig.ts';
import { openJournalForConfig } from './openJournal.ts';

/** The JSON line to print, or the usage error to report (exit 2). */
export function journalReplacesCommand(config: AgentConfig, journalId: string | undefined, through: string | undefined, nowMs: number): { output: string } | { usage: string } {
  if (journalId === undefined || through === undefined) return { usage: 'journal-replaces needs --journal <id> and --through <seq>' };
  if (!/^\d+$/.test(through) || !Number.isSafeInteger(Number(through))) return { usage: `--through takes a whole number, not '${through}'` };
  // Creates the journal when there is none yet: this runs before the daemon's first start.
  const journal = openJournalForConfig(config);
  try {
    const answer = journal.startReplacing({ replaces_journal_id: journalId, last_known_seq: Number(through) }, nowMs);
    return { output: `${JSON.stringify(answer)}\n` };
  } finally {
    journal.close();
  }
}
