/**
 * The `slots.update` job: one A/B Pi's OS update (slotUpdate.ts) run in a worker. It opens
 * the device's link the way a pull or a rollout does (fieldkit's SSH key, the pinned host
 * key), again after every reboot, and reports bytes written and one log line per step.
 * The result is the whole SlotUpdateOutcome, transcript included; anything but a commit
 * or a passed rehearsal fails the job with that outcome kept as its result.
 */
import { z } from 'zod';
import { appError } from '../../../shared/errors.ts';
import type { TranscriptEntry } from '../../../shared/deploy.ts';
import { summarizeSlotUpdate, type SlotUpdateOutcome } from '../../../shared/slots.ts';
import { createDeviceStore, openDeviceLink } from '../../devices/index.ts';
import { trustedKeysForVerify } from '../../kernel/trust/trustStore.ts';
import { JobCancelledError, JobFailedError, type JobContext } from '../../kernel/jobs/jobContext.ts';
import { loadOrCreateAppSshKey } from '../../kernel/link/appSshKey.ts';
import { openStore } from '../../kernel/store/openStore.ts';
import { slotUpdate, type SlotPlatform } from './slotUpdate.ts';

/**
 * Where the Pi-side facts are when not a real Pi's /proc: the virtual A/B Pi of the tests
 * plays the firmware under its own folder. Given to the deploy domain by whoever starts
 * the app (never read from the environment); absent for real Pis.
 */
export const SlotPlatformSchema = z.object({ deviceTreeDir: z.string(), cmdlinePath: z.string(), disk: z.string() }) satisfies z.ZodType<SlotPlatform>;

export const SlotJobParamsSchema = z.object({
  dataDir: z.string(),
  deviceId: z.string(),
  deviceName: z.string(),
  imagePath: z.string(),
  rehearse: z.boolean(),
  bootTimeoutMs: z.number().int().positive(),
  platform: SlotPlatformSchema.optional(),
});
export type SlotJobParams = z.infer<typeof SlotJobParamsSchema>;

export function slotJobTitle(p: SlotJobParams): string {
  const file = p.imagePath.split(/[\\/]/).at(-1) ?? p.imagePath;
  return `${p.rehearse ? 'Rehearse slot update' : 'Slot update'} of ${p.deviceName} to ${file}`;
}

const stepWords: Record<string, string> = {
  verify: 'verifying the image',
  preflight: 'checking the device',
  write: 'writing the inactive slot',
  trial: 'booting the new slot on trial',
  check: 'checking the trial boot',
  commit: 'committing the new slot',
  rollback: 'returning to the old slot',
};

export async function runSlotUpdateJob(params: SlotJobParams, ctx: JobContext): Promise<SlotUpdateOutcome> {
  const db = openStore(params.dataDir);
  let device;
  let trustedKeys;
  try {
    device = createDeviceStore(db).get(params.deviceId);
    trustedKeys = trustedKeysForVerify(db);
  } finally {
    db.close();
  }
  const appKey = loadOrCreateAppSshKey(params.dataDir);
  const target = device;
  let lastStep = '';
  const onTranscript = (entry: TranscriptEntry) => {
    if (entry.step === lastStep) return;
    lastStep = entry.step;
    ctx.log('info', `${stepWords[entry.step] ?? entry.step}: ${entry.command.split('\n')[0]?.slice(0, 160) ?? ''}`);
  };
  ctx.progress({ phase: 'verifying the image', bytesDone: 0, bytesTotal: null, unit: 'bytes' });
  const outcome = await slotUpdate({
    openLink: () => openDeviceLink(target, { appKey, password: ctx.secrets.password }),
    imagePath: params.imagePath,
    trustedKeys,
    rehearse: params.rehearse,
    bootTimeoutMs: params.bootTimeoutMs,
    ...(params.platform === undefined ? {} : { platform: params.platform }),
    signal: ctx.signal,
    onTranscript,
    onProgress: (phase, done, total) => {
      ctx.progress({ phase: stepWords[phase] ?? phase, bytesDone: phase === 'write' ? done : 0, bytesTotal: phase === 'write' ? total : null, unit: 'bytes' });
    },
  });
  const line = summarizeSlotUpdate(outcome);
  const ok = outcome.status === 'committed' || outcome.status === 'rehearsed';
  ctx.log(ok ? 'info' : 'error', line);
  if (ok) return outcome;
  if (ctx.signal.aborted) throw new JobCancelledError(typeof ctx.signal.reason === 'string' ? ctx.signal.reason : 'cancelled', outcome);
  throw new JobFailedError(outcome.error ?? appError('INTERNAL', line, 'Read the transcript in the job result.'), outcome);
}
