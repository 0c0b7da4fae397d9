/**
 * `fieldkit-agent backup-probe --classes C,C… [--path C=/abs]… --json`: per class the change
 * token (shared/backupStream.ts `changeToken`) of what the device holds now, computed from
 * file metadata only, all classes in one command (one SSH exec). The laptop skips streaming
 * a class only when its token equals the token of that device × class's last good snapshot
 * (electron/backup/README.md, "Unchanged classes"). A class whose token could not be
 * computed says why, and is streamed.
 */
import { z } from 'zod';
import { BackupClassSchema } from './backupStream.ts';

export const BackupProbeClassSchema = z.union([
  z.object({ token: z.string().regex(/^[0-9a-f]{64}$/) }),
  z.object({ error: z.string() }),
]);
export type BackupProbeClass = z.infer<typeof BackupProbeClassSchema>;

export const BackupProbeSchema = z.object({
  formatVersion: z.literal(1),
  /** Device clock when probed. */
  probedAt: z.number().int(),
  classes: z.partialRecord(BackupClassSchema, BackupProbeClassSchema),
});
export type BackupProbe = z.infer<typeof BackupProbeSchema>;
