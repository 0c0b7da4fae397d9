/**
 * Owner of `rollout_transcript`: what was run on each device of a rollout and what it
 * answered, one entry a row, in the order written. A device keeps at most
 * `transcriptEntriesKept` entries, so a runaway loop cannot fill the disk.
 */
import { z } from 'zod';
import { TranscriptEntrySchema, type TranscriptEntry } from '../../shared/deploy.ts';
import type { Store } from '../kernel/store/openStore.ts';

/** A device's transcript keeps at most this many entries (the newest). */
const transcriptEntriesKept = 2000;

const TranscriptRowSchema = z.object({ entry: z.string() });

export type RolloutTranscriptStore = ReturnType<typeof createRolloutTranscriptStore>;

export function createRolloutTranscriptStore(db: Store) {
  const addEntry = db.prepare(`INSERT INTO rollout_transcript (rollout_id, device_id, entry) VALUES (?, ?, ?)`);
  const trimEntries = db.prepare(
    `DELETE FROM rollout_transcript WHERE rollout_id = ? AND device_id = ? AND rowid NOT IN
       (SELECT rowid FROM rollout_transcript WHERE rollout_id = ? AND device_id = ? ORDER BY rowid DESC LIMIT ${transcriptEntriesKept})`,
  );
  const selectTranscript = db.prepare(`SELECT entry FROM rollout_transcript WHERE rollout_id = ? AND device_id = ? ORDER BY rowid`);

  return {
    /** Adds an entry and drops the oldest beyond the cap, in one transaction. */
    append(rolloutId: string, deviceId: string, entry: TranscriptEntry): void {
      db.transaction(() => {
        addEntry.run(rolloutId, deviceId, JSON.stringify(entry));
        trimEntries.run(rolloutId, deviceId, rolloutId, deviceId);
      })();
    },
    read(rolloutId: string, deviceId: string): TranscriptEntry[] {
      return selectTranscript.all(rolloutId, deviceId).map((r) => TranscriptEntrySchema.parse(JSON.parse(TranscriptRowSchema.parse(r).entry)));
    },
  };
}
