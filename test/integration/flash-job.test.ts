/**
 * The `flash.write` job through the app services, on real zram drives: two drives at once
 * where one cannot be unmounted (refused, untouched) and the other is unmounted, written and
 * read back (checked with `cmp` against the raw image); refusals made by flash.start before
 * any byte (system drive, too small, the wrong drive in the slot, an untrusted key, unsigned
 * images without the policy or without consent); a cancel mid-write on a throttled drive that
 * leaves the drive "incomplete — do not use".
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage } from '../../build/make-test-image.ts';
import { dispatch } from '../../electron/kernel/api/dispatch.ts';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { formatPublicKey, publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import type { MethodName, RequestOf, ResponseOf } from '../../shared/api.ts';
import type { AppError } from '../../shared/errors.ts';
import { FlashResultSchema, type FlashResult } from '../../shared/flash.ts';
import { bytesToWrite, freeBytes, type ImageManifest } from '../../shared/image.ts';
import type { JobEvent } from '../../shared/jobs.ts';
import { makeBigTestImage } from '../support/bigTestImage.ts';
import { mountedDrives } from '../support/mountedDrive.ts';
import { throttleWrites } from '../support/slowDrive.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { createZram, removeZrams, type ZramDevice } from '../support/zram.ts';
import { readBytes } from '../support/readBytes.ts';

const mib = 1 << 20;
const dir = makeTempDir('fieldkit-flash-job-');
const at = (name: string): string => path.join(dir.path, name);
const key = generateSecretKey();
let manifest: ImageManifest;
let services: AppServices;
const events: JobEvent[] = [];
const devices: ZramDevice[] = [];
const mounted = mountedDrives();

function zram(bytes: number): ZramDevice {
  const device = createZram(bytes);
  devices.push(device);
  return device;
}

async function call<M extends MethodName>(method: M, params: RequestOf<M>): Promise<ResponseOf<M>> {
  const result = await dispatch(services.handlers, method, params);
  if (!result.ok) throw new Error(`${method} failed: ${result.error.message}`);
  return result.value as ResponseOf<M>;
}

async function failure<M extends MethodName>(method: M, params: RequestOf<M>): Promise<AppError> {
  const result = await dispatch(services.handlers, method, params);
  if (result.ok) throw new Error(`${method} should have failed`);
  return result.error;
}

function head(device: string, bytes = mib): Buffer {
  return readBytes(device, 0, bytes);
}

function isMounted(device: string): boolean {
  const major = readFileSync(`/sys/class/block/${path.basename(device)}/dev`, 'utf8').trim();
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((line) => line.split(' ')[2] === major);
}

function expectImageOn(device: string): void {
  for (const range of manifest.block_map.ranges) {
    // cmp exits non-zero (execFileSync throws) at the first differing byte.
    execFileSync('cmp', ['-n', String(range.length), '-i', `${range.offset}:${range.offset}`, at('raw.img'), device]);
  }
}

beforeAll(async () => {
  await makeTestImage(at('raw.img'));
  manifest = (await packImage(at('raw.img'), at('good.fkimg'), { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['pi4', 'pi5'], expiresDays: 30, key })).manifest;
  await packImage(at('raw.img'), at('stranger.fkimg'), { product: 'demo-os', version: '6.6.6', sequence: 9, boards: ['pi4'], expiresDays: 30, key: generateSecretKey() });
  await makeBigTestImage(at('raw.img'), at('big.fkimg'), key);
  copyFileSync(at('raw.img'), at('plain.img'));
  services = await createAppServices({ dataDir: at('data'), version: 'test', watchDrives: false });
  services.events.subscribe((name, payload) => {
    if (name === 'job.event') events.push(payload as JobEvent);
  });
  await call('trust.import', { publicKey: formatPublicKey(publicKeyOf(key)), label: 'demo release key' });
}, 40_000);

afterAll(async () => {
  await mounted.releaseAll();
  await services.close();
  try {
    await removeZrams(devices);
  } finally {
    dir.remove();
  }
});

describe('flash.write job', () => {
  it('flashes two drives at once: a busy one is refused untouched, the other is unmounted, written and read back', async () => {
    const good = zram(128 * mib);
    const busy = zram(128 * mib);
    mounted.mount(good.device, at('mnt-good'));
    mounted.mount(busy.device, at('mnt-busy'));
    // A shell sitting in the busy drive's folder: `umount` says "target is busy", as on a laptop.
    mounted.holdBusy(at('mnt-busy'));
    const busyBefore = head(busy.device);
    expect(isMounted(good.device)).toBe(true);

    const { jobId } = await call('flash.start', {
      imagePath: at('good.fkimg'),
      targets: [
        { device: good.device, expectSizeBytes: good.sizeBytes },
        { device: busy.device, expectSizeBytes: busy.sizeBytes },
      ],
      // Ejecting is asked for; a zram cannot be ejected (and this machine has no eject tool): flushed only.
    });
    const record = await services.jobs.whenFinished(jobId);
    expect(record.state).toBe('failed');
    expect(record.error?.message, record.error?.message).toMatch(new RegExp(`^1 of 2 drives failed: ${busy.device} refused: ${busy.device} could not be unmounted`));
    const result: FlashResult = FlashResultSchema.parse(record.result);
    const [first, second] = result.targets;
    expect(first).toMatchObject({ device: good.device, status: 'success', error: null, label: null, ejected: false });
    expect(record.log.some((l) => l.message === `${good.device} was flushed but could not be ejected here; it is safe to remove.`)).toBe(true);
    expect(first?.bytesVerified).toBe(bytesToWrite(manifest));
    expect(first?.freeSpace).toEqual({ bytes: freeBytes(manifest.block_map), discarded: true, note: null });
    expect(second).toMatchObject({ device: busy.device, status: 'refused', bytesWritten: 0 });
    expect(second?.error?.code).toBe('CONFLICT');

    expect(isMounted(good.device)).toBe(false);
    expectImageOn(good.device);
    expect(isMounted(busy.device)).toBe(true);
    expect(head(busy.device).equals(busyBefore)).toBe(true);

    // The results reach whoever watches: the failed event carries them, the log has a line per drive.
    const mine = events.filter((e) => e.jobId === jobId);
    const failed = mine.find((e) => e.type === 'failed');
    expect(failed?.type === 'failed' ? FlashResultSchema.parse(failed.result).targets.map((t) => t.status) : null).toEqual(['success', 'refused']);
    const logs = mine.flatMap((e) => (e.type === 'log' ? [e.message] : []));
    expect(logs.some((l) => l.startsWith(`${good.device}: written and verified`))).toBe(true);
    expect(logs.some((l) => l.startsWith(`${busy.device}: refused, nothing written`))).toBe(true);
    const progress = mine.flatMap((e) => (e.type === 'progress' ? [e.progress] : []));
    // The image is checked (the pre-check) before the drive is written.
    const goodStates = progress.map((p) => p.targets?.find((t) => t.device === good.device)?.state);
    expect(goodStates.indexOf('checking')).toBeGreaterThanOrEqual(0);
    expect(goodStates.indexOf('checking')).toBeLessThan(goodStates.indexOf('writing'));
    expect(progress.at(-1)?.targets?.map((t) => t.state)).toEqual(['success', 'refused']);
    // At most ~10 progress events a second.
    const times = mine.filter((e) => e.type === 'progress').map((e) => e.at);
    const span = Math.max(1, ((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1000);
    expect(times.length / span).toBeLessThanOrEqual(12);
  });

  it('refuses before any byte: system drive, too small, the wrong drive in the slot, an untrusted key, unsigned images', async () => {
    const small = zram(64 * mib);
    const swapped = zram(128 * mib);
    const before = { small: head(small.device), swapped: head(swapped.device) };
    const jobsBefore = services.jobs.list({ limit: 100 }).length;
    const { drives } = await call('drives.list', {});
    const system = drives.find((d) => d.isSystem && d.sizeBytes !== null);
    if (system?.sizeBytes == null) throw new Error('no system drive to test with');

    const refusedSystem = await failure('flash.start', { imagePath: at('good.fkimg'), targets: [{ device: system.device, expectSizeBytes: system.sizeBytes }] });
    expect(refusedSystem.code).toBe('CONFLICT');
    expect(refusedSystem.message).toContain(system.device);
    expect(refusedSystem.message).toContain('System drive');

    const tooSmall = await failure('flash.start', { imagePath: at('good.fkimg'), targets: [{ device: small.device, expectSizeBytes: small.sizeBytes }] });
    // A zram device has no model name: named once, not "/dev/zramN (/dev/zramN)".
    expect(tooSmall.message).toContain(`${small.device} may not be flashed: Too small`);

    const wrongCard = await failure('flash.start', { imagePath: at('good.fkimg'), targets: [{ device: swapped.device, expectSizeBytes: 96 * mib }] });
    expect(wrongCard.message).toContain('the drive in the slot is not the one you confirmed');

    const gone = await failure('flash.start', { imagePath: at('good.fkimg'), targets: [{ device: '/dev/zram999', expectSizeBytes: 128 * mib }] });
    expect(gone.message).toContain('/dev/zram999 is not attached');

    const stranger = await failure('flash.start', { imagePath: at('stranger.fkimg'), targets: [{ device: swapped.device, expectSizeBytes: swapped.sizeBytes }] });
    expect(stranger.code).toBe('VERIFICATION_FAILED');
    expect(stranger.message).toContain('not trusted');

    const unsigned = await failure('flash.start', { imagePath: at('plain.img'), targets: [{ device: swapped.device, expectSizeBytes: swapped.sizeBytes }], acceptUnsigned: true });
    expect(unsigned.code).toBe('PERMISSION_DENIED');
    await call('settings.flash.set', { allowUnsigned: true });
    try {
      const noConsent = await failure('flash.start', { imagePath: at('plain.img'), targets: [{ device: swapped.device, expectSizeBytes: swapped.sizeBytes }] });
      expect(noConsent.message).toContain('Unsigned image: fieldkit cannot tell who made it or whether it was altered.');
    } finally {
      await call('settings.flash.set', { allowUnsigned: false });
    }

    expect(services.jobs.list({ limit: 100 }).length).toBe(jobsBefore);
    expect(head(small.device).equals(before.small)).toBe(true);
    expect(head(swapped.device).equals(before.swapped)).toBe(true);
  });

  it('a cancel mid-write leaves the drive incomplete, first MiB zeroed', async () => {
    const slow = zram(192 * mib);
    execFileSync('dd', ['if=/dev/urandom', `of=${slow.device}`, 'bs=1M', 'count=1', 'oflag=direct', 'status=none']);
    const throttle = throttleWrites(slow.device, 8 * mib);
    try {
      const { jobId } = await call('flash.start', { imagePath: at('big.fkimg'), targets: [{ device: slow.device, expectSizeBytes: slow.sizeBytes }], eject: false });
      await expect
        .poll(() => events.some((e) => e.jobId === jobId && e.type === 'progress' && e.progress.targets?.[0]?.state === 'writing' && e.progress.targets[0].bytesDone > 0), { timeout: 20_000, interval: 50 })
        .toBe(true);
      // A drive written at 8 MiB/s shows its own rate and time left while it is written.
      await expect
        .poll(() => events.find((e) => e.jobId === jobId && e.type === 'progress' && (e.progress.targets?.[0]?.rateBytesPerSec ?? 0) > 0), { timeout: 10_000, interval: 50 })
        .toBeDefined();
      const measured = events.findLast((e) => e.jobId === jobId && e.type === 'progress' && e.progress.targets?.[0]?.state === 'writing');
      const drive = measured?.type === 'progress' ? measured.progress.targets?.[0] : undefined;
      expect(drive?.rateBytesPerSec).toBeGreaterThan(2 * mib);
      expect(drive?.rateBytesPerSec).toBeLessThan(16 * mib);
      expect(drive?.etaSeconds).toBeGreaterThan(0);
      const record = await services.jobs.cancel(jobId);
      expect(record.state).toBe('cancelled');
      const result = FlashResultSchema.parse(record.result);
      expect(result.targets[0]).toMatchObject({ device: slow.device, status: 'incomplete', label: 'incomplete — do not use' });
      expect(result.targets[0]?.error?.code).toBe('CANCELLED');
    } finally {
      await throttle.release();
    }
    expect(head(slow.device).equals(Buffer.alloc(mib))).toBe(true);
  });
});
