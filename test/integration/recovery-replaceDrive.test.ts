/**
 * Replace onto a spare's card (`fieldkit replace DEVICE --drive PATH --onto ADDRESS`): the image
 * the device last ran, found in the image library and still trusted, flashed onto a zram drive
 * through the flash engine with the dead device's first-boot identity (read back with mtools,
 * fsck.fat clean); refused when the image is not in the library or its key was revoked; a rerun
 * after the flash never writes the drive again (the zram's write counter, its bytes, the step
 * store); the hand-over to the SSH path waits for the spare to answer and names the host key it
 * presents. A real Pi booting the card cannot happen here: a test sshd stands in for it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage } from '../../build/make-test-image.ts';
import { rememberRecentImage } from '../../electron/flash/recentImagesStore.ts';
import { bootPartition } from '../../electron/flash/firstBoot.ts';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import { JobFailedError, type JobContext } from '../../electron/kernel/jobs/jobContext.ts';
import { loadOrCreateAppSshKey } from '../../electron/kernel/link/appSshKey.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { formatPublicKey, publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { openStore, type Store } from '../../electron/kernel/store/openStore.ts';
import { importTrustedKey, listTrustedKeys, revokeTrustedKey } from '../../electron/kernel/trust/trustStore.ts';
import { ReplaceFlashSchema, type ReplaceFlash } from '../../electron/recovery/replaceDrive.ts';
import { findReplaceImage } from '../../electron/recovery/replaceImage.ts';
import { runReplace } from '../../electron/recovery/replaceJob.ts';
import { replaceKey, ReplaceParamsSchema, type ReplaceParams } from '../../electron/recovery/replaceParams.ts';
import { createReplaceStepStore } from '../../electron/recovery/replaceStepStore.ts';
import { isFieldkitError, type AppError } from '../../shared/errors.ts';
import type { ImageManifest } from '../../shared/image.ts';
import { ReplaceResultSchema } from '../../shared/recoveryReplace.ts';
import { expectFsckClean, mtype } from '../support/fatTools.ts';
import { readBytes } from '../support/readBytes.ts';
import { startSshd, type Sshd } from '../support/sshd.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { waitFor } from '../support/waitFor.ts';
import { createZram, removeZrams, type ZramDevice } from '../support/zram.ts';

const mib = 1024 * 1024;
const dir = makeTempDir('fieldkit-replace-drive-');
const at = (name: string): string => path.join(dir.path, name);
const dataDir = at('data');
const devices: ZramDevice[] = [];
let db: Store;
let manifest: ImageManifest;
let sshd: Sshd | null = null;

beforeAll(async () => {
  await makeTestImage(at('raw.img'));
  const key = generateSecretKey();
  const revokedKey = generateSecretKey();
  manifest = (await packImage(at('raw.img'), at('os-1.2.0.fkimg'), { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['pi4'], expiresDays: 30, key, firstBoot: { kind: 'cloud-init', user: 'pi' } })).manifest;
  await packImage(at('raw.img'), at('os-0.9.0.fkimg'), { product: 'demo-os', version: '0.9.0', sequence: 3, boards: ['pi4'], expiresDays: 30, key: revokedKey });
  db = openStore(dataDir);
  importTrustedKey(db, formatPublicKey(publicKeyOf(key)), 'release key');
  const old = importTrustedKey(db, formatPublicKey(publicKeyOf(revokedKey)), 'old release key');
  revokeTrustedKey(db, old.keyId, 'laptop of the release engineer stolen');
  rememberRecentImage(db, at('os-1.2.0.fkimg'));
  rememberRecentImage(db, at('os-0.9.0.fkimg'));
}, 60_000);

afterAll(async () => {
  db.close();
  await sshd?.stop();
  await removeZrams(devices);
  dir.remove();
});

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    if (isFieldkitError(error)) return error.appError;
    if (error instanceof JobFailedError) return error.appError;
    throw error;
  }
  throw new Error('expected a refusal');
}

/** Sectors the kernel has written to the zram since it was made (/sys/block/…/stat, field 7). */
function sectorsWritten(drive: ZramDevice): number {
  return Number(readFileSync(`/sys/block/zram${String(drive.id)}/stat`, 'utf8').trim().split(/\s+/)[6]);
}

function flashOnto(drive: ZramDevice, image = at('os-1.2.0.fkimg')): ReplaceFlash {
  return ReplaceFlashSchema.parse({
    image: { path: image, product: 'demo-os', version: '1.2.0', sha256: manifest.payload.sha256 },
    trustedKeys: listTrustedKeys(db).filter((k) => k.revokedMs === null).map((k) => k.publicKey),
    drive: { device: drive.device, raw: drive.device, description: 'spare card', sizeBytes: drive.sizeBytes, serial: null },
    identity: { deviceId: 'pi-dead-07', hostname: 'cam-north-7', site: 'North gate', sshPublicKeys: [] },
    appSshPublicKey: loadOrCreateAppSshKey(dataDir).publicKey,
    bootWaitSeconds: 2,
  });
}

function paramsFor(flash: ReplaceFlash, port: number, spareHostKey: string | null): ReplaceParams {
  return ReplaceParamsSchema.parse({
    dataDir, deviceRef: 'dev_dead', deviceName: 'cam north 7', deviceId: 'pi-dead-07', pinnedHostKey: null, agentVersion: null,
    spare: { host: '127.0.0.1', port, username: 'fieldkit-test', agentPrefix: '/opt/fieldkit-agent' },
    spareHostKey, agentBundlePath: null, rotateCredentials: false, pointId: 'run_1', flash,
    classes: [{ class: 'secrets', resticId: 'a'.repeat(64), repo: { role: 'laptop', kind: 'secrets', location: at('repo') }, time: 1, journalLastSeq: null }],
  });
}

function jobContext(): JobContext {
  return { signal: new AbortController().signal, progress: () => undefined, log: () => undefined, secrets: {} };
}

/** Runs the replace; it must fail (no spare to finish on here) and answer the steps it recorded. */
async function replaceUntilItStops(params: ReplaceParams): Promise<{ error: AppError; steps: { name: string; status: string; detail: string | null }[] }> {
  try {
    await runReplace(params, jobContext());
  } catch (error) {
    if (!(error instanceof JobFailedError)) throw error;
    const result = ReplaceResultSchema.parse(error.result);
    return { error: error.appError, steps: result.steps.map((s) => ({ name: s.name, status: s.status, detail: s.detail })) };
  }
  throw new Error('expected the replace to stop');
}

describe('replace --drive: the image the device last ran', () => {
  it('is refused with the reason when it is not in the image library, or its key was revoked', async () => {
    const missing = await refusal(findReplaceImage(db, 'cam north 7', '2.0.0'));
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.message).toContain('Image 2.0.0, the one cam north 7 last ran, is not in the image library');
    expect(missing.hint).toContain('fieldkit image inspect');
    const unknown = await refusal(findReplaceImage(db, 'cam north 7', null));
    expect(unknown.message).toContain('no record of which image cam north 7 ran');
    const revoked = await refusal(findReplaceImage(db, 'cam north 7', '0.9.0'));
    expect(revoked.code).toBe('VERIFICATION_FAILED');
    expect(revoked.message).toContain('is no longer trusted');
    expect(revoked.message).toContain('laptop of the release engineer stolen');
    expect(revoked.hint).toContain('Nothing was flashed');
    const found = await findReplaceImage(db, 'cam north 7', '1.2.0');
    expect(found).toMatchObject({ path: at('os-1.2.0.fkimg'), version: '1.2.0', sha256: manifest.payload.sha256 });
  });

  it('flashes it onto the drive with the first-boot identity once; a rerun writes nothing again, another drive is refused', async () => {
    const drive = createZram(128 * mib);
    devices.push(drive);
    const flash = flashOnto(drive);
    // Nothing answers on this port: the replace flashes, then waits (2 s) and stops, as if killed after the flash.
    const closedPort = 9; // discard: nothing listens on it here
    const first = await replaceUntilItStops(paramsFor(flash, closedPort, null));
    expect(first.steps.find((s) => s.name === 'flash')?.status).toBe('done');
    expect(first.error.code).toBe('TIMEOUT');
    expect(first.error.message).toContain('did not answer SSH at 127.0.0.1:9 within 2 s');

    // The image and the identity are on the drive: mtools reads boot A at its offset, fsck.fat finds it clean.
    const boot = bootPartition(manifest.layout, drive.device);
    const identity = JSON.parse(mtype(drive.device, boot.start, 'fieldkit-identity.json').toString()) as unknown;
    expect(identity).toEqual({ device_id: 'pi-dead-07', hostname: 'cam-north-7', site: 'North gate' });
    expect(mtype(drive.device, boot.start, 'fieldkit-authorized_keys').toString()).toContain(loadOrCreateAppSshKey(dataDir).publicKey);
    expect(mtype(drive.device, boot.start, 'user-data').toString()).toContain('hostname: "cam-north-7"');
    expectFsckClean(drive.device, boot.start, boot.size, dir.path);
    const recorded = createReplaceStepStore(db).done(replaceKey(paramsFor(flash, closedPort, null))).find((d) => d.step === 'flash');
    expect(recorded?.facts).toEqual({ device: drive.device, sizeBytes: drive.sizeBytes, serial: null, imageVersion: '1.2.0', imageSha256: manifest.payload.sha256 });

    const writtenBefore = sectorsWritten(drive);
    const bytesBefore = createHash('sha256').update(readBytes(drive.device, 0, 8 * mib)).digest('hex');
    const rerun = await replaceUntilItStops(paramsFor(flash, closedPort, null));
    // The transcript holds every run's steps (skips left out): one flash in all.
    expect(rerun.steps.filter((s) => s.name === 'flash').map((s) => s.status)).toEqual(['done']);
    expect(rerun.steps.filter((s) => s.name === 'wait-for-spare').map((s) => s.status)).toEqual(['failed', 'failed']);
    expect(rerun.error.code).toBe('TIMEOUT');
    expect(sectorsWritten(drive)).toBe(writtenBefore);
    expect(createHash('sha256').update(readBytes(drive.device, 0, 8 * mib)).digest('hex')).toBe(bytesBefore);

    const other = createZram(128 * mib);
    devices.push(other);
    const otherBefore = sectorsWritten(other);
    const wrong = await replaceUntilItStops(paramsFor(flashOnto(other), closedPort, null));
    expect(wrong.error.code).toBe('CONFLICT');
    expect(wrong.error.message).toContain(`This replace already flashed ${drive.device}`);
    expect(sectorsWritten(other)).toBe(otherBefore);
  }, 120_000);

  it('killed (-9) right after the flash, the rerun does not flash the drive again', async () => {
    const drive = createZram(128 * mib);
    devices.push(drive);
    // Another address: another replace, with a step store of its own.
    const params = { ...paramsFor(flashOnto(drive), 7, null), flash: { ...flashOnto(drive), bootWaitSeconds: 600 } };
    writeFileSync(at('params.json'), JSON.stringify(params));
    const child = spawn(process.execPath, ['test/support/replaceJobProcess.ts', at('params.json')], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => { resolve(signal); }));
    const store = createReplaceStepStore(db);
    const key = replaceKey(params);
    // Killed once the flash is recorded, while the job waits for the spare to boot.
    await waitFor(() => store.done(key).some((d) => d.step === 'flash'), { timeoutMs: 90_000, what: 'the flash step recorded as done' });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const identity = JSON.parse(mtype(drive.device, bootPartition(manifest.layout, drive.device).start, 'fieldkit-identity.json').toString()) as unknown;
    expect(identity).toMatchObject({ device_id: 'pi-dead-07' });

    const written = sectorsWritten(drive);
    const rerun = await replaceUntilItStops({ ...params, flash: { ...params.flash, bootWaitSeconds: 1 } });
    expect(rerun.error.code).toBe('TIMEOUT');
    expect(rerun.steps.some((s) => s.name === 'flash' && s.status === 'done')).toBe(true); // the killed run's, kept in the transcript
    expect(rerun.steps.filter((s) => s.name === 'flash')).toHaveLength(1);
    expect(sectorsWritten(drive)).toBe(written);
    expect(store.done(key).filter((d) => d.step === 'flash')).toHaveLength(1);
  }, 150_000);

  it('hands over to the SSH path: waits for the booted spare and names the host key it presents', async () => {
    const drive = createZram(128 * mib);
    devices.push(drive);
    sshd = await startSshd();
    const flash = { ...flashOnto(drive), bootWaitSeconds: 30 };
    const stopped = await replaceUntilItStops(paramsFor(flash, sshd.port, null));
    expect(stopped.steps.map((s) => `${s.name} ${s.status}`)).toEqual(['flash done', 'wait-for-spare done']);
    expect(stopped.error.code).toBe('HOST_KEY_UNTRUSTED');
    expect(stopped.error.message).toContain(`presenting host key ${sshd.fingerprint}`);
    expect(stopped.error.hint).toContain(`--spare-host-key ${sshd.fingerprint}`);

    // Given the key, the rerun does not flash again and goes on to the spare under that key.
    const written = sectorsWritten(drive);
    const goesOn = await replaceUntilItStops(paramsFor(flash, sshd.port, sshd.fingerprint));
    expect(goesOn.steps.filter((s) => s.name === 'flash').map((s) => s.status)).toEqual(['done']);
    expect(goesOn.error.code).not.toBe('HOST_KEY_UNTRUSTED');
    expect(goesOn.error.code).not.toBe('HOST_KEY_CHANGED');
    expect(sectorsWritten(drive)).toBe(written);
  }, 120_000);
});
