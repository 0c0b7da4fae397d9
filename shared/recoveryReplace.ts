/**
 * Replacing a dead Pi (issue 15): a spare becomes that device — same id, hostname, keys,
 * config, agent version — and its new journal continues the old one. One resumable job
 * (`recovery.replace`); the result says what ran, what was checked, the journal continuity
 * and the RTO (start to healthy). Restore points and steps are in recovery.ts.
 */
import { z } from 'zod';
import { RecoveryCheckSchema, RecoveryStepSchema } from './recovery.ts';

/** The journal continuity a replace established. */
export const JournalContinuitySchema = z.object({
  /** The failed device's journal, as the laptop last pulled it (null: never pulled). */
  oldJournalId: z.string().nullable(),
  /** Every seq up to here is held on the laptop (or explained); the new journal's first record names it. */
  throughSeq: z.number().int().nonnegative(),
  /** The highest seq the failed device is known to have reached. */
  knownHeadSeq: z.number().int().nonnegative(),
  /** Records after throughSeq recorded as lost with the failed device (0: none known). */
  lostRecords: z.number().int().nonnegative(),
  /** The replacement's journal, whose seq 1 names the old one. */
  newJournalId: z.string(),
});
export type JournalContinuity = z.infer<typeof JournalContinuitySchema>;

export const ReplaceResultSchema = z.object({
  deviceRef: z.string(),
  deviceName: z.string(),
  /** Where the replacement was reached ("pi@10.0.0.41:22"). */
  spare: z.string(),
  /** Steps in the order they ran, across reruns: a step done before a kill shows as skipped with when it was done. */
  steps: z.array(RecoveryStepSchema),
  checks: z.array(RecoveryCheckSchema),
  continuity: JournalContinuitySchema.nullable(),
  /** The host key pinned for the device afterwards, and whether it is the old one (restored) or new (rotated). */
  hostKey: z.object({ fingerprint: z.string(), rotated: z.boolean(), revoked: z.string().nullable() }).nullable(),
  agentVersion: z.string().nullable(),
  /** From the first start of this replace (across reruns) to healthy; null when it did not get there. */
  rtoMs: z.number().nonnegative().nullable(),
  ok: z.boolean(),
  /** The runbook written from what ran (in the data folder). */
  runbookPath: z.string().nullable(),
  recoveryRunId: z.number().int().positive().nullable(),
});
export type ReplaceResult = z.infer<typeof ReplaceResultSchema>;
