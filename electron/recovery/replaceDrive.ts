/**
 * The drive path of a replace (`fieldkit replace DEVICE --drive PATH --onto ADDRESS`): the image
 * the dead device last ran, written onto the spare's card through the flash engine (the same
 * helper, write and read-back as Drives & Flash), with the dead device's first-boot identity
 * (device id, hostname, site, fieldkit's SSH key). Its secrets — the SSH host key among them —
 * never go onto the card's FAT partition (readable by anyone holding the card, and they would
 * have to pass through the laptop's disk): the replace restores them over SSH once the spare
 * has booted, as for a spare that was already running.
 *
 * The flash is recorded in the replace's step store with the drive's identity and the image's
 * digest; a rerun (after a kill) never flashes again, and a rerun naming another drive or
 * image is refused rather than taken for the same replace.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { appError, FieldkitError, isFieldkitError } from '../../shared/errors.ts';
import { FlashIdentitySchema } from '../../shared/flash.ts';
import { runFlashJob } from '../flash/index.ts';
import { JobFailedError, type JobContext } from '../kernel/jobs/jobContext.ts';
import type { AppSshKey } from '../kernel/link/appSshKey.ts';
import { connectSsh } from '../kernel/link/sshLink.ts';
import type { StepFacts } from './replaceStepStore.ts';
import type { StepCommands } from './stepRecorder.ts';

export const ReplaceFlashSchema = z.object({
  image: z.object({ path: z.string(), product: z.string(), version: z.string(), sha256: z.string() }),
  /** Base64 public keys of the unrevoked trust-store keys when the replace was started. */
  trustedKeys: z.array(z.string()),
  drive: z.object({ device: z.string(), raw: z.string(), description: z.string(), sizeBytes: z.number().int().positive(), serial: z.string().nullable() }),
  identity: FlashIdentitySchema,
  appSshPublicKey: z.string(),
  /** How long to wait for the booted spare to answer SSH at the replace's address. */
  bootWaitSeconds: z.number().int().positive(),
});
export type ReplaceFlash = z.infer<typeof ReplaceFlashSchema>;

/** The drive's serial as the kernel reports it (SCSI/USB `serial`, else `wwid`), or null (a card reader may give none). */
export function driveSerial(device: string): string | null {
  const name = path.basename(device);
  for (const file of [`/sys/class/block/${name}/device/serial`, `/sys/class/block/${name}/device/wwid`, `/sys/class/block/${name}/wwid`]) {
    try {
      const text = readFileSync(file, 'utf8').trim();
      if (text !== '') return text;
    } catch {
      // not this one
    }
  }
  return null;
}

/** What the flash step records: which drive (path, size, serial) got which image (its digest). */
export function flashFacts(flash: ReplaceFlash): StepFacts {
  return { device: flash.drive.device, sizeBytes: flash.drive.sizeBytes, serial: flash.drive.serial, imageVersion: flash.image.version, imageSha256: flash.image.sha256 };
}

function text(value: StepFacts[string] | undefined): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}

function describeDrive(facts: StepFacts): string {
  return `${text(facts.device)}${typeof facts.serial === 'string' ? ` (serial ${facts.serial})` : ''}`;
}

/**
 * A rerun finds the flash done: it must be the same drive and image (then nothing is written
 * again). Another drive or image under the same replace is refused — this replace's card is
 * the one already flashed.
 */
export function checkSameFlash(done: StepFacts, flash: ReplaceFlash): void {
  const now = flashFacts(flash);
  const same = done.imageSha256 === now.imageSha256 && done.device === now.device && done.serial === now.serial && done.sizeBytes === now.sizeBytes;
  if (same) return;
  throw new FieldkitError(
    appError('CONFLICT', `This replace already flashed ${describeDrive(done)} with image ${text(done.imageVersion)}; it was asked for ${describeDrive(now)} with image ${flash.image.version}. Nothing was flashed.`, `Boot the spare from the card already flashed and run the same command with --drive ${text(done.device)}; or start over onto another address.`, 'drive'),
  );
}

/** Writes the image and the first-boot identity onto the drive through the flash engine; answers the facts to record. */
export async function flashDrive(flash: ReplaceFlash, ctx: JobContext, commands: StepCommands): Promise<StepFacts> {
  const startedAt = Date.now();
  try {
    const result = await runFlashJob(
      {
        imagePath: flash.image.path, kind: 'signed', product: flash.image.product, version: flash.image.version, trustedKeys: flash.trustedKeys,
        targets: [{ device: flash.drive.device, raw: flash.drive.raw, description: flash.drive.description, sizeBytes: flash.drive.sizeBytes, identity: flash.identity }],
        skipZeroBlocks: false, writeAll: false, eject: false, warnings: [], appSshPublicKey: flash.appSshPublicKey,
      },
      ctx,
    );
    const target = result.targets[0];
    commands.record({ on: 'laptop', command: `flash ${flash.image.path} → ${flash.drive.device} (write, read back, first-boot identity ${flash.identity.deviceId})`, startedAt, durationMs: Date.now() - startedAt, exitCode: 0 });
    commands.detail(`image ${flash.image.version} written and read back (${String(target?.bytesVerified ?? 0)} bytes) onto ${describeDrive(flashFacts(flash))}; first boot as ${flash.identity.deviceId} (${flash.identity.hostname}): ${(target?.firstBootFiles ?? []).map((f) => f.name).join(', ')}`);
    return flashFacts(flash);
  } catch (error) {
    commands.record({ on: 'laptop', command: `flash ${flash.image.path} → ${flash.drive.device}`, startedAt, durationMs: Date.now() - startedAt, exitCode: 1 });
    if (error instanceof JobFailedError) throw new FieldkitError(error.appError);
    throw error;
  }
}

/** Whether something at host:port greets as an SSH server (its banner), within `timeoutMs`. */
function sshAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (answer: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => {
      done(false);
    }, timeoutMs);
    socket.once('data', (chunk: Buffer) => {
      done(chunk.toString('latin1').startsWith('SSH-'));
    });
    socket.once('error', () => {
      done(false);
    });
    socket.once('close', () => {
      done(false);
    });
  });
}

/**
 * Waits (bounded, cancellable) until the booted spare answers SSH at host:port. Checks once a
 * second; `onWaiting` is told what is awaited each time, for the job's progress.
 */
export async function waitForSpare(spare: { host: string; port: number }, seconds: number, signal: AbortSignal, onWaiting: (secondsLeft: number) => void): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    if (signal.aborted) throw new FieldkitError(appError('CANCELLED', 'Stopped while waiting for the flashed spare to boot.', 'Run the same replace again: the drive is not flashed again.'));
    if (await sshAnswers(spare.host, spare.port, 3000)) return;
    const left = Math.round((deadline - Date.now()) / 1000);
    if (left <= 0) {
      throw new FieldkitError(appError('TIMEOUT', `The flashed spare did not answer SSH at ${spare.host}:${String(spare.port)} within ${String(seconds)} s.`, 'Put the flashed card in the spare, power it on the network at that address, then run the same replace again: the drive is not flashed again.'));
    }
    onWaiting(left);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }
}

/**
 * A freshly booted card made its own SSH host key, which nobody could check in advance: the
 * replace stops, saying the key the spare presents, for the technician to compare on the
 * spare's console and give back with --spare-host-key.
 */
export async function refuseUncheckedSpareKey(spare: { host: string; port: number; username: string }, appKey: AppSshKey): Promise<never> {
  let presented: string | null;
  try {
    const link = await connectSsh({ target: spare, appKey, hostKey: { pinned: null }, timeoutMs: 15_000 });
    presented = link.hostKeyFingerprint;
    await link.close();
  } catch (error) {
    const match = isFieldkitError(error) ? /host key (SHA256:[A-Za-z0-9+/]+)/.exec(error.appError.message) : null;
    presented = match?.[1] ?? null;
  }
  throw new FieldkitError(
    appError('HOST_KEY_UNTRUSTED', `The flashed spare answers at ${spare.host}:${String(spare.port)}${presented === null ? '' : ` presenting host key ${presented}`}; fieldkit has not been told to trust it.`, `Check it on the spare's console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then run the same replace again adding --spare-host-key ${presented ?? 'SHA256:…'}: the drive is not flashed again.`, 'spareHostKey'),
  );
}
