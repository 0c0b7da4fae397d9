/**
 * `fieldkit-agent journal-replaces --journal ID --through N [--aside]`: on a replacement Pi, before the
 * daemon's first start, makes the new journal's first record name the failed device's journal
 * and the last seq of it the laptop knew (journalContinuity.ts). One JSON line on stdout; safe
 * to repeat (a replace that was killed and rerun gets the same answer, `created: false`).
 *
 * A journal.db that IS the old journal (a state backup restored onto the replacement brought
 * it back) is moved aside first, whole, as `journal.<id>.db` (with its WAL): kept for
 * recovery, never written under the failed device's journal id again.
 */
import { existsSync, renameSync } from 'node:fs';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import type { ContinuityAnswer } from './journalApi.ts';
import { journalPath, openJournalForConfig } from './openJournal.ts';

/** The command: prints the answer as one JSON line; a bad command line is `usageError` (exit 2). */
export async function journalReplaces(config: AgentConfig, values: Readonly<Record<string, unknown>>, usageError: (message: string) => Error): Promise<number> {
  const { journal: journalId, through } = values;
  if (typeof journalId !== 'string' || typeof through !== 'string') throw usageError('journal-replaces needs --journal <id> and --through <seq>');
  if (!/^\d+$/.test(through) || !Number.isSafeInteger(Number(through))) throw usageError(`--through takes a whole number, not '${through}'`);
  const answer = continueJournal(config, { journalId, lastKnownSeq: Number(through), aside: values.aside === true }, Date.now());
  await new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(answer)}\n`, () => {
    resolve();
  }));
  return 0;
}

/**
 * Moves aside what journal.db must not stay: the old journal itself, and (with `aside`) a
 * journal of this spare that holds records but does not continue the old one (the deploy's
 * health gate started the agent before the replace got here). Then makes (or finds) the
 * continuity record.
 */
function continueJournal(config: AgentConfig, wanted: { journalId: string; lastKnownSeq: number; aside: boolean }, nowMs: number): ContinuityAnswer {
  const path = journalPath(config.data_dir);
  if (existsSync(path)) {
    const existing = openJournalForConfig(config);
    const { journalId } = existing;
    const continues = existing.replaces()?.replaces_journal_id === wanted.journalId;
    const holdsRecords = existing.info().last_seq > 0;
    existing.close();
    if (journalId === wanted.journalId || (wanted.aside && holdsRecords && !continues)) moveAside(path, path.replace(/journal\.db$/, `journal.${journalId}.db`));
  }
  // Creates the journal when there is none (yet, or any more): this runs before the daemon starts.
  const journal = openJournalForConfig(config);
  try {
    return journal.startReplacing({ replaces_journal_id: wanted.journalId, last_known_seq: wanted.lastKnownSeq }, nowMs);
  } finally {
    journal.close();
  }
}

/**
 * The database and what is left beside it. Closing the last connection checkpointed and removed
 * the WAL; one still there (another process holds the journal: the daemon must be stopped) goes
 * with the file rather than staying to meet the new journal.
 */
function moveAside(path: string, aside: string): void {
  for (const suffix of ['-wal', '-shm']) {
    if (existsSync(`${path}${suffix}`)) renameSync(`${path}${suffix}`, `${aside}${suffix}`);
  }
  renameSync(path, aside);
}
