/** What the recovery.replace job is started with (no secret here: repository passwords travel as job secrets). */
import { z } from 'zod';
import { PointClassParamsSchema } from './jobParams.ts';
import { ReplaceFlashSchema } from './replaceDrive.ts';

export const SpareAddressSchema = z.object({ host: z.string(), port: z.number().int(), username: z.string(), agentPrefix: z.string() });

export const ReplaceParamsSchema = z.object({
  dataDir: z.string(),
  deviceRef: z.string(),
  deviceName: z.string(),
  /** The dead device's agent device id (what the replacement must greet with). */
  deviceId: z.string(),
  /** The host key pinned for the dead device: the restored keys must match it (unless rotating). */
  pinnedHostKey: z.string().nullable(),
  /** The agent version the device last ran (the restore point's, else the device entry's). */
  agentVersion: z.string().nullable(),
  spare: SpareAddressSchema,
  /** The spare's own host key as the technician accepted it, for first contact; null until a freshly flashed spare's key was checked. */
  spareHostKey: z.string().nullable(),
  /** The drive path: the image the device ran, flashed with its first-boot identity, before the spare boots; null for a spare already running. */
  flash: ReplaceFlashSchema.nullable().default(null),
  /** A signed agent bundle of `agentVersion` to deploy; null when the spare already runs it. */
  agentBundlePath: z.string().nullable(),
  rotateCredentials: z.boolean(),
  pointId: z.string(),
  classes: z.array(PointClassParamsSchema).min(1),
});
export type ReplaceParams = z.infer<typeof ReplaceParamsSchema>;

/** One replace, across reruns: the device and where its spare is. */
export function replaceKey(params: Pick<ReplaceParams, 'deviceRef' | 'spare'>): string {
  return `${params.deviceRef}@${params.spare.host}:${String(params.spare.port)}`;
}
