/**
 * What the flash job's worker and the flash helper say to each other (helperChannel.ts):
 * newline-delimited JSON, each message validated with zod on the side that reads it.
 */
import type { Socket } from 'node:net';
import { z } from 'zod';
import { AppErrorSchema } from '../../shared/errors.ts';
import { FlashIdentitySchema, FlashTargetResultSchema, FlashTargetStateSchema } from '../../shared/flash.ts';

const maxLineBytes = 1 << 20;

/** What the worker asks the helper to do: one image onto each target, all at once. */
export const HelperFlashRequestSchema = z.strictObject({
  imagePath: z.string().min(1),
  kind: z.enum(['signed', 'plain']),
  /** Base64 minisign public keys the signed manifest may be signed by (unrevoked trust-store keys). */
  trustedKeys: z.array(z.string()),
  targets: z
    .array(
      z.strictObject({
        /** The drive as the OS names it (unmount, eject). */
        device: z.string().min(1),
        /** The path raw I/O uses (/dev/rdiskN on macOS). */
        raw: z.string().min(1),
        description: z.string(),
        identity: FlashIdentitySchema.optional(),
      }),
    )
    .min(1),
  skipZeroBlocks: z.boolean(),
  /** Signed images: write the free filesystem space too (every byte). */
  writeAll: z.boolean().default(false),
  eject: z.boolean(),
  /** fieldkit's own SSH key line, authorised on every Pi given an identity; null when no target has one. */
  appSshPublicKey: z.string().nullable(),
});
export type HelperFlashRequest = z.infer<typeof HelperFlashRequestSchema>;

export const HelperTargetUpdateSchema = z.object({
  device: z.string(),
  state: FlashTargetStateSchema,
  bytesDone: z.number().nonnegative(),
  bytesTotal: z.number().nonnegative().nullable(),
});
export type HelperTargetUpdate = z.infer<typeof HelperTargetUpdateSchema>;

const HelloSchema = z.strictObject({ type: z.literal('hello'), token: z.string().regex(/^[0-9a-f]{64}$/), pid: z.number().int() });

export const WorkerToHelperSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('heartbeat') }),
  z.strictObject({ type: z.literal('flash'), request: HelperFlashRequestSchema }),
  z.strictObject({ type: z.literal('cancel'), reason: z.string() }),
]);
export type WorkerToHelper = z.infer<typeof WorkerToHelperSchema>;

export const HelperToWorkerSchema = z.discriminatedUnion('type', [
  HelloSchema,
  z.strictObject({ type: z.literal('heartbeat') }),
  z.strictObject({ type: z.literal('target'), update: HelperTargetUpdateSchema }),
  z.strictObject({ type: z.literal('result'), result: FlashTargetResultSchema }),
  z.strictObject({ type: z.literal('log'), level: z.enum(['info', 'warn', 'error']), message: z.string() }),
  /** Every target has its result; the helper exits next. */
  z.strictObject({ type: z.literal('finished') }),
  /** The request could not be run at all (bad request); no drive was touched. */
  z.strictObject({ type: z.literal('refused'), error: AppErrorSchema }),
]);
export type HelperToWorker = z.infer<typeof HelperToWorkerSchema>;

/**
 * Reads newline-delimited JSON from `socket`, validated by `schema`. A line that is too long,
 * not JSON or not a valid message ends the connection: the other side is broken or hostile.
 */
export function readMessages<T>(socket: Socket, schema: z.ZodType<T>, onMessage: (message: T) => void, onBad: (why: string) => void): void {
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
      if (line.trim() === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        onBad('a message that is not JSON');
        return;
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        onBad(`an invalid message (${parsed.error.issues[0]?.message ?? 'unknown'})`);
        return;
      }
      onMessage(parsed.data);
      if (socket.destroyed) return;
    }
    if (pending.length > maxLineBytes) onBad('a message longer than 1 MiB');
  });
}

export function writeMessage(socket: Socket, message: WorkerToHelper | HelperToWorker): void {
  if (!socket.destroyed && socket.writable) socket.write(JSON.stringify(message) + '\n');
}
