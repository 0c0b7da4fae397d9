/**
 * The Flash screen in Chromium, end to end on real drives: a signed test image whose key is
 * imported through Settings, picked in the file browser, read (signer, layout, sizes), then
 * flashed to two zram drives at once with numbered first-boot identities, confirmed by drive
 * name and size. Each drive is then compared with the raw image byte for byte (`cmp -l`):
 * equal everywhere but inside the boot FAT partition, whose identity files fsck.fat and mtype
 * check.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage } from '../../build/make-test-image.ts';
import type { AppServices } from '../../electron/app/appServices.ts';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { formatPublicKey, publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { FlashResultSchema } from '../../shared/flash.ts';
import type { ImageManifest } from '../../shared/image.ts';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';
import { fsckFat, mtype } from '../support/fatTools.ts';
import { throttleWrites } from '../support/slowDrive.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { createZram, type ZramDevice } from '../support/zram.ts';

const mib = 1 << 20;
const dir = makeTempDir('fieldkit-flash-e2e-');
const at = (name: string): string => path.join(dir.path, name);
const key = generateSecretKey();
const sshKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEm2yJ6lOYzV0pCq1M3l0s0pG8s2zq7H2bX2k1x9Zs7Q tech@laptop';

describe('Flash screen in Chromium', () => {
  let app: AppInBrowser;
  let services: AppServices;
  let page: Page;
  let manifest: ImageManifest;
  const drives: ZramDevice[] = [];

  beforeAll(async () => {
    await makeTestImage(at('raw.img'));
    manifest = (await packImage(at('raw.img'), at('demo-os-1.2.0.fkimg'), { product: 'demo-os', version: '1.2.0', sequence: 7, boards: ['pi4', 'pi5'], expiresDays: 30, key })).manifest;
    writeFileSync(at('demo.pub'), formatPublicKey(publicKeyOf(key)));
    writeFileSync(at('notes.txt'), 'not an image');
    app = await openAppInBrowser({ watchDrives: true });
    ({ services, page } = app);
  }, 60_000);

  afterAll(async () => {
    await app.close();
    for (const drive of drives) await drive.remove();
    dir.remove();
  });

  const choice = (device: string) => page.locator(`[data-testid="drive-choice"][data-device="${device}"]`);
  const target = (device: string) => page.locator(`[data-testid="flash-target"][data-device="${device}"]`);

  it('trusts the publisher key, imported through Settings', async () => {
    await page.keyboard.press('Alt+6');
    const section = page.getByTestId('trust-settings');
    await section.getByTestId('trust-file').setInputFiles(at('demo.pub'));
    await section.getByLabel('Label', { exact: true }).fill('Demo release key');
    await section.getByRole('button', { name: 'Import key' }).click();
    await section.getByTestId('trust-row').waitFor();
    expect((await services.handlers['trust.list']({})).keys.map((k) => k.label)).toEqual(['Demo release key']);
  });

  it('picks the image in the file browser and shows who signed it, what it is and its layout', async () => {
    await page.keyboard.press('Alt+1');
    const panel = page.getByTestId('flash-panel');
    await panel.getByLabel('Image file').fill(dir.path);
    await panel.getByRole('button', { name: 'Browse…' }).click();
    const dialog = page.getByTestId('browse-dialog');
    await expect.poll(() => dialog.getByTestId('browse-dir').textContent()).toBe(dir.path);
    // Image files only: the .pub, the raw and the text file are not offered… except raw.img, a plain image.
    await expect.poll(() => dialog.getByTestId('browse-entry').allTextContents()).toEqual([
      expect.stringContaining('demo-os-1.2.0.fkimg'),
      expect.stringContaining('raw.img'),
    ]);
    await dialog.getByTestId('browse-entry').filter({ hasText: 'demo-os-1.2.0.fkimg' }).click();
    await dialog.waitFor({ state: 'detached' });
    const summary = panel.getByTestId('image-summary');
    await summary.waitFor();
    expect(await summary.getByTestId('signature-status').getAttribute('data-status')).toBe('trusted');
    expect(await summary.getByTestId('signature-status').textContent()).toContain('Signed by Demo release key');
    const text = await summary.textContent();
    expect(text).toContain('demo-os 1.2.0');
    expect(text).toContain('pi4, pi5');
    expect(text).toContain('83.9 MB');
    const rows = await summary.locator('[data-testid="image-layout"] tbody tr').all();
    const roles = await Promise.all(rows.map((row) => row.getAttribute('data-role')));
    expect(roles).toEqual(manifest.layout.partitions.map((p) => p.role));
    expect(await panel.getByTestId('image-problems').count()).toBe(0);
    await page.screenshot({ path: app.shot('flash-image.png') });
  });

  it('refuses a drive too small for the image, disabled with the reason', async () => {
    const small = createZram(32 * mib);
    drives.push(small);
    await choice(small.device).waitFor({ timeout: 5000 });
    expect(await choice(small.device).getAttribute('data-disabled')).toBe('true');
    expect(await choice(small.device).getByTestId('drive-refused').textContent()).toMatch(/small/i);
  });

  it('flashes two zram drives at once, each verified, with numbered first-boot identities', async () => {
    const [a, b] = [createZram(128 * mib), createZram(160 * mib)];
    drives.push(a, b);
    await choice(a.device).waitFor({ timeout: 5000 });
    await choice(b.device).waitFor({ timeout: 5000 });
    await choice(a.device).click();
    await choice(b.device).click();
    const rowA = page.locator(`[data-testid="identity-row"][data-device="${a.device}"]`);
    await rowA.getByLabel(`Device id for ${a.device}`).fill('pi-07');
    await rowA.getByLabel(`Site for ${a.device}`).fill('depot');
    await page.getByRole('button', { name: 'Number the rest from the first' }).click();
    const rowB = page.locator(`[data-testid="identity-row"][data-device="${b.device}"]`);
    expect(await rowB.getByLabel(`Device id for ${b.device}`).inputValue()).toBe('pi-08');
    expect(await rowB.getByLabel(`Hostname for ${b.device}`).inputValue()).toBe('pi-08');
    await page.getByTestId('ssh-keys').fill(sshKey);
    // Left attached, so the drives can be compared with the image afterwards.
    await page.getByText('Eject each drive when it is done').click();
    await page.getByTestId('identity-fields').scrollIntoViewIfNeeded();
    await page.screenshot({ path: app.shot('flash-drives.png') });
    await page.getByRole('button', { name: 'Flash 2 drives…' }).click();

    const dialog = page.getByTestId('confirm-flash-dialog');
    await dialog.waitFor();
    const listed = await dialog.getByTestId('confirm-drives').textContent();
    expect(listed).toContain(`${a.device}134.2 MB`);
    expect(listed).toContain(`${b.device}167.8 MB`);
    expect(listed).toContain('becomes pi-08');
    const go = dialog.getByRole('button', { name: 'Erase and flash 2 drives' });
    expect(await go.isDisabled()).toBe(true);
    await page.screenshot({ path: app.shot('flash-confirm.png') });
    // Enter on a reflex lands on Cancel: the dialog closes and nothing starts.
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    expect((await services.handlers['jobs.list']({})).jobs.filter((j) => j.kind === 'flash.write')).toEqual([]);

    await page.getByRole('button', { name: 'Flash 2 drives…' }).click();
    await dialog.getByTestId('confirm-tick').click();
    await dialog.getByRole('button', { name: 'Erase and flash 2 drives' }).click();
    await page.getByTestId('flash-progress').waitFor();
    // Wait for the job to end, then hold each drive to "success" (a failure shows its message here).
    await page.locator('[data-testid="flash-progress"]:not([data-state="running"]):not([data-state="starting"])').waitFor({ timeout: 60_000 });
    expect([await target(a.device).textContent(), await target(b.device).textContent()]).toEqual([
      expect.stringContaining('Flashed and verified'),
      expect.stringContaining('Flashed and verified'),
    ]);
    for (const drive of [a, b]) expect(await target(drive.device).getByTestId('flash-verdict').textContent()).toContain('Flashed and verified');
    await page.evaluate(`document.querySelector('[data-testid="flash-progress"]').parentElement.scrollIntoView({ block: 'start' })`);
    await page.screenshot({ path: app.shot('flash-result.png') });

    const [job] = (await services.handlers['jobs.list']({})).jobs.filter((j) => j.kind === 'flash.write');
    expect(job?.state).toBe('done');
    const result = FlashResultSchema.parse(job?.result);
    expect(result.targets.map((t) => [t.device, t.status])).toEqual([
      [a.device, 'success'],
      [b.device, 'success'],
    ]);
    for (const [drive, id] of [
      [a, 'pi-07'],
      [b, 'pi-08'],
    ] as const) {
      const files = result.targets.find((t) => t.device === drive.device)?.firstBootFiles ?? [];
      expect(files.length).toBeGreaterThan(0);
      // The first-boot files are the only difference, inside one FAT partition, readable by mtools.
      const differing = differingRange(drive.device);
      expect(await target(drive.device).textContent()).toContain(files[0]?.name ?? '?');
      const boot = manifest.layout.partitions.find((p) => differing !== null && p.start <= differing.first && differing.last < p.start + p.size);
      expect(boot, `bytes ${JSON.stringify(differing)} differ outside any one partition`).toBeDefined();
      const fsck = fsckFat(drive.device, boot?.start ?? 0, boot?.size ?? 0, dir.path);
      expect(fsck.code, fsck.output).toBe(0);
      const written = files.map((f) => mtype(drive.device, boot?.start ?? 0, f.name).toString('utf8')).join('\n');
      expect(written).toContain(id);
      expect(written).toContain(sshKey);
    }
  }, 120_000);

  it('shows each drive\'s phase, rate and time left while it writes, and a cancel leaves it "incomplete — do not use"', async () => {
    await page.getByRole('button', { name: 'Flash more drives with this image' }).click();
    const slow = createZram(128 * mib);
    drives.push(slow);
    const throttle = throttleWrites(slow.device, 2 * mib);
    try {
      await choice(slow.device).waitFor({ timeout: 5000 });
      await choice(slow.device).click();
      await page.getByRole('button', { name: 'Flash 1 drive…' }).click();
      const dialog = page.getByTestId('confirm-flash-dialog');
      await dialog.getByTestId('confirm-tick').click();
      await dialog.getByRole('button', { name: 'Erase and flash 1 drive' }).click();
      const row = target(slow.device);
      await page.locator(`[data-testid="flash-target"][data-device="${slow.device}"][data-state="writing"]`).waitFor({ timeout: 20_000 });
      await expect.poll(() => row.textContent(), { timeout: 10_000 }).toMatch(/writing.*MB of .*MB\/s.*left/);
      expect(Number(await row.getByTestId('phase-write').getByRole('progressbar').getAttribute('aria-valuenow'))).toBeGreaterThanOrEqual(0);
      await page.evaluate(`document.querySelector('[data-testid="flash-progress"]').parentElement.scrollIntoView({ block: 'start' })`);
      await page.screenshot({ path: app.shot('flash-progress.png') });
      await page.getByRole('button', { name: 'Cancel the flash' }).click();
      await page.locator('[data-testid="flash-progress"][data-state="cancelled"]').waitFor({ timeout: 20_000 });
      await expect.poll(() => row.getAttribute('data-state')).toBe('incomplete');
      expect(await row.getByTestId('flash-verdict').textContent()).toContain('incomplete — do not use');
      expect(await row.locator('[data-error-code]').getAttribute('data-error-code')).toBe('CANCELLED');
      await page.screenshot({ path: app.shot('flash-cancelled.png') });
    } finally {
      await throttle.release();
    }
  }, 60_000);

  it('refuses an unsigned image while the policy is off; when on, warns in the summary and again in the confirm dialog', async () => {
    await page.getByRole('button', { name: 'Choose another image' }).click();
    const panel = page.getByTestId('flash-panel');
    await panel.getByLabel('Image file').fill(at('raw.img'));
    await panel.getByRole('button', { name: 'Read image' }).click();
    await panel.getByTestId('image-problems').waitFor();
    expect(await panel.getByTestId('signature-status').getAttribute('data-status')).toBe('unsigned');
    expect(await panel.getByTestId('drive-picker').count()).toBe(0);
    await services.handlers['settings.flash.set']({ allowUnsigned: true });
    await panel.getByRole('button', { name: 'Read image' }).click();
    await panel.getByTestId('image-problems').waitFor({ state: 'detached' });
    expect(await panel.getByTestId('unsigned-image-warning').textContent()).toContain('Unsigned image.');
    const spare = drives.find((d) => d.sizeBytes >= 128 * mib);
    await choice(spare?.device ?? '?').click();
    await page.getByRole('button', { name: 'Flash 1 drive…' }).click();
    const dialog = page.getByTestId('confirm-flash-dialog');
    expect(await dialog.getByTestId('confirm-unsigned-warning').textContent()).toContain('Unsigned image.');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
  });

  it('raised no page errors', () => {
    expect(app.pageErrors).toEqual([]);
  });

  /** The first and last byte where the drive differs from the raw image (`cmp -l`), or null when it holds exactly the image. */
  function differingRange(device: string): { first: number; last: number } | null {
    const out = spawnSync('cmp', ['-l', '-n', String(manifest.payload.raw_size), at('raw.img'), device], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (out.status === 0) return null;
    expect(out.status, out.stderr).toBe(1);
    const offsets = out.stdout
      .trim()
      .split('\n')
      .map((line) => Number(line.trim().split(/\s+/)[0]) - 1);
    return { first: Math.min(...offsets), last: Math.max(...offsets) };
  }
});
