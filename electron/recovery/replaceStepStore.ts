/**
 * The steps of a replace that are done (owner of `recovery_replaces` and
 * `recovery_replace_steps`). A replace is keyed by the device and where the spare is; a rerun
 * after a kill finds each step it finished, with the facts it learned, and skips it — so a
 * drive is never flashed twice and the spare never gets a second journal. The RTO counts from
 * the first run's start.
 */
import { z } from 'zod';
import { RecoveryStepSchema, type RecoveryStep } from '../../shared/recovery.ts';
import type { Store } from '../kernel/store/openStore.ts';
import { rowReader } from '../kernel/store/storeRows.ts';

const steps = rowReader('recovery_replace_steps');
const replaces = rowReader('recovery_replaces');

/** Facts a step leaves for the ones after it (JSON values). */
export type StepFacts = Record<string, z.core.util.JSONType>;
const FactsSchema = z.record(z.string(), z.json());

export type DoneStep = { step: string; startedMs: number; doneMs: number; facts: StepFacts };

export type ReplaceStepStore = ReturnType<typeof createReplaceStepStore>;

export function createReplaceStepStore(db: Store) {
  const insertReplace = db.prepare(`INSERT OR IGNORE INTO recovery_replaces (replace_key, device_ref, first_started_ms) VALUES (?, ?, ?)`);
  const selectReplace = db.prepare(`SELECT first_started_ms, finished_ms FROM recovery_replaces WHERE replace_key = ?`);
  const finishReplace = db.prepare(`UPDATE recovery_replaces SET finished_ms = ? WHERE replace_key = ?`);
  const insertStep = db.prepare(`INSERT OR IGNORE INTO recovery_replace_steps (replace_key, step, started_ms, done_ms, facts) VALUES (?, ?, ?, ?, ?)`);
  const selectTranscript = db.prepare(`SELECT transcript FROM recovery_replaces WHERE replace_key = ?`);
  const updateTranscript = db.prepare(`UPDATE recovery_replaces SET transcript = ? WHERE replace_key = ?`);
  const selectSteps = db.prepare(`SELECT step, started_ms, done_ms, facts FROM recovery_replace_steps WHERE replace_key = ? ORDER BY done_ms, step`);
  return {
    /** Starts (or finds) the replace with this key; answers when its first run started. */
    begin(key: string, deviceRef: string, nowMs: number): { firstStartedMs: number; finishedMs: number | null } {
      insertReplace.run(key, deviceRef, nowMs);
      const row = replaces.row(selectReplace.get(key));
      return { firstStartedMs: replaces.int(row, 'first_started_ms'), finishedMs: replaces.intOrNull(row, 'finished_ms') };
    },
    /** The steps of this replace already done, in the order they finished. */
    done(key: string): DoneStep[] {
      return selectSteps.all(key).map((raw) => {
        const row = steps.row(raw);
        return { step: steps.text(row, 'step'), startedMs: steps.int(row, 'started_ms'), doneMs: steps.int(row, 'done_ms'), facts: steps.json(row, 'facts', FactsSchema) };
      });
    },
    /** Records a step as done with its facts; a step is recorded once (the first record stays). */
    markDone(key: string, step: string, startedMs: number, doneMs: number, facts: StepFacts): void {
      insertStep.run(key, step, startedMs, doneMs, JSON.stringify(facts));
    },
    /** The steps every earlier run recorded, in order (what a kill -9 left is as of its last done step). */
    transcript(key: string): RecoveryStep[] {
      const row = replaces.rowOrNull(selectTranscript.get(key));
      return row === null ? [] : replaces.json(row, 'transcript', z.array(RecoveryStepSchema));
    },
    saveTranscript(key: string, recorded: readonly RecoveryStep[]): void {
      updateTranscript.run(JSON.stringify(recorded), key);
    },
    finish(key: string, nowMs: number): void {
      finishReplace.run(nowMs, key);
    },
  };
}
