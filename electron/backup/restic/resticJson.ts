/** restic 0.14's --json output, parsed at the boundary (a line that is not what we expect is an error, not a guess). */
import { z } from 'zod';
import { appError, FieldkitError } from '../../../shared/errors.ts';

export const BackupStatusSchema = z.object({
  message_type: z.literal('status'),
  seconds_elapsed: z.number().optional(),
  bytes_done: z.number().optional(),
  files_done: z.number().optional(),
});

export const BackupSummarySchema = z.object({
  message_type: z.literal('summary'),
  data_added: z.number(),
  total_files_processed: z.number(),
  total_bytes_processed: z.number(),
  total_duration: z.number(),
  /** restic 0.14 gives the short id here; the full one is looked up. */
  snapshot_id: z.string().regex(/^[0-9a-f]{8,64}$/),
});
export type BackupSummary = z.infer<typeof BackupSummarySchema>;

export const BackupMessageSchema = z.discriminatedUnion('message_type', [
  BackupStatusSchema,
  BackupSummarySchema,
  z.object({ message_type: z.literal('error'), error: z.unknown().optional(), item: z.string().optional() }),
  z.object({ message_type: z.literal('verbose_status') }).loose(),
]);

export const SnapshotJsonSchema = z.object({
  time: z.string(),
  paths: z.array(z.string()),
  hostname: z.string(),
  tags: z.array(z.string()).nullable().optional(),
  id: z.string().regex(/^[0-9a-f]{64}$/),
  /** Set on a snapshot restic copy made: the id it has in the repository it came from. */
  original: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type SnapshotJson = z.infer<typeof SnapshotJsonSchema>;

export const SnapshotListSchema = z.array(SnapshotJsonSchema).nullable().transform((list) => list ?? []);

export const ForgetGroupSchema = z.object({
  host: z.string(),
  paths: z.array(z.string()).nullable(),
  keep: z.array(SnapshotJsonSchema).nullable().transform((l) => l ?? []),
  remove: z.array(SnapshotJsonSchema).nullable().transform((l) => l ?? []),
  reasons: z
    .array(z.object({ snapshot: z.object({ time: z.string() }), matches: z.array(z.string()) }))
    .nullable()
    .transform((l) => l ?? []),
});
export const ForgetOutputSchema = z.array(ForgetGroupSchema).nullable().transform((l) => l ?? []);
export type ForgetGroupJson = z.infer<typeof ForgetGroupSchema>;

export const FindPackSchema = z
  .array(z.object({ object_type: z.string().optional(), snapshot: z.string(), path: z.string().optional() }))
  .nullable()
  .transform((l) => l ?? []);

/** Parses restic's JSON output with `schema`; output that does not parse is an error naming the command. */
export function parseResticJson<T>(text: string, schema: z.ZodType<T>, command: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text.trim() === '' ? 'null' : text);
  } catch (error) {
    throw new FieldkitError(appError('INTERNAL', `restic ${command} answered something that is not JSON: ${text.slice(0, 200)}`, 'Check restic is version 0.14 or later (restic version).'), { cause: error });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new FieldkitError(appError('INTERNAL', `restic ${command} answered JSON fieldkit does not understand: ${parsed.error.issues[0]?.message ?? ''}`, 'Check restic is version 0.14 or later (restic version).'));
  }
  return parsed.data;
}

/** A restic time ("2026-12-07T18:04:03.85564248Z") as ms. */
export function resticTimeMs(time: string): number {
  return Math.floor(Date.parse(time));
}
