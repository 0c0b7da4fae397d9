/**
 * The Flash screen at 1366×768, the common field laptop, around the frame it sits in:
 * - the image chosen stays chosen while the technician goes to Settings to import its key,
 *   and is read again on return (now trusted);
 * - a flash runs with the jobs bar out of the way: the bar never covers the screen, the full
 *   list does not open by itself, a notice says when the job ended and leads to it;
 * - one truth in progress: the panel's overall figure and the bar's are the same at every
 *   sampled moment, and writing and verifying each have their own bar.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestImage } from '../../build/make-test-image.ts';
import { packImage } from '../../electron/kernel/image/packImage.ts';
import { generateSecretKey } from '../../electron/kernel/signing/minisign.ts';
import { formatPublicKey, publicKeyOf } from '../../electron/kernel/signing/minisignFormat.ts';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';
import { throttleWrites } from '../support/slowDrive.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { createZram, type ZramDevice } from '../support/zram.ts';

const mib = 1 << 20;
const dir = makeTempDir('fieldkit-flash-workspace-e2e-');
const at = (name: string): string => path.join(dir.path, name);
const key = generateSecretKey();

type Box = { x: number; y: number; width: number; height: number };
const intersects = (a: Box, b: Box): boolean => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** Both figures read in one go in the page, so they come from the same rendered moment. */
type Sample = { state: string; panel: string; bar: string; write: string; verify: string; writeBars: number; verifyBars: number };
const sampleScript = `(() => {
  const text = (selector) => document.querySelector(selector)?.textContent ?? '';
  const phase = (name) => document.querySelector('[data-testid="phase-' + name + '"]');
  return {
    state: document.querySelector('[data-testid="flash-progress"]')?.dataset.state ?? '',
    panel: text('[data-testid="flash-overall-percent"]'),
    bar: text('[data-testid="status-job-percent"]'),
    write: phase('write')?.dataset.status ?? '',
    verify: phase('verify')?.dataset.status ?? '',
    writeBars: phase('write')?.querySelectorAll('[role="progressbar"]').length ?? 0,
    verifyBars: phase('verify')?.querySelectorAll('[role="progressbar"]').length ?? 0,
  };
})()`;

describe('Flash at 1366×768: a remembered image, the jobs bar out of the way, one progress', () => {
  let app: AppInBrowser;
  let page: Page;
  const drives: ZramDevice[] = [];

  beforeAll(async () => {
    await makeTestImage(at('raw.img'));
    await packImage(at('raw.img'), at('demo-os-1.3.0.fkimg'), { product: 'demo-os', version: '1.3.0', sequence: 8, boards: ['pi4', 'pi5'], expiresDays: 30, key });
    writeFileSync(at('demo.pub'), formatPublicKey(publicKeyOf(key)));
    app = await openAppInBrowser({ watchDrives: true });
    page = app.page;
    await page.setViewportSize({ width: 1366, height: 768 });
  }, 60_000);

  afterAll(async () => {
    await app.close();
    for (const drive of drives) await drive.remove();
    dir.remove();
  });

  it('keeps the chosen image through "go to Settings, import the key, come back", and reads it again', async () => {
    await page.keyboard.press('Alt+1');
    const panel = page.getByTestId('flash-panel');
    await panel.getByLabel('Image file').fill(at('demo-os-1.3.0.fkimg'));
    await panel.getByRole('button', { name: 'Read image' }).click();
    const status = panel.getByTestId('signature-status');
    await status.waitFor();
    expect(await status.getAttribute('data-status')).not.toBe('trusted');

    await page.keyboard.press('Alt+6');
    const trust = page.getByTestId('trust-settings');
    await trust.getByTestId('trust-file').setInputFiles(at('demo.pub'));
    await trust.getByLabel('Label', { exact: true }).fill('Demo release key');
    await trust.getByRole('button', { name: 'Import key' }).click();
    await trust.getByTestId('trust-row').waitFor();

    await page.keyboard.press('Alt+1');
    // Still chosen, summary and all, the moment the screen is back…
    expect(await panel.getByLabel('Image file').inputValue()).toBe(at('demo-os-1.3.0.fkimg'));
    await panel.getByTestId('image-summary').waitFor({ timeout: 1000 });
    // …and read again: the key imported meanwhile now vouches for it.
    await expect.poll(() => status.getAttribute('data-status'), { timeout: 10_000 }).toBe('trusted');
    expect(await status.textContent()).toContain('Signed by Demo release key');
    await page.screenshot({ path: app.shot('flash-workspace-remembered.png') });
  });

  it('flashes a zram drive with the jobs bar out of the way, one percentage in both places, and verifying on its own bar', async () => {
    const drive = createZram(128 * mib);
    drives.push(drive);
    const throttle = throttleWrites(drive.device, 6 * mib, 6 * mib);
    try {
      const choice = page.locator(`[data-testid="drive-choice"][data-device="${drive.device}"]`);
      await choice.waitFor({ timeout: 5000 });
      await choice.click();
      await page.getByText('Eject each drive when it is done').click();
      await page.getByRole('button', { name: 'Flash 1 drive…' }).click();
      const dialog = page.getByTestId('confirm-flash-dialog');
      await dialog.getByTestId('confirm-tick').click();
      await dialog.getByRole('button', { name: 'Erase and flash 1 drive' }).click();

      const bar = page.getByTestId('jobs-status-bar');
      const running = bar.locator('[data-testid="status-job"][data-state="running"]');
      await running.waitFor({ timeout: 10_000 });
      expect(await running.textContent()).toContain('Flash demo-os 1.3.0');
      // The full list stays shut: a job starting never opens it over the screen.
      expect(await page.getByTestId('jobs-drawer').count()).toBe(0);

      const progress = page.getByTestId('flash-progress');
      await progress.scrollIntoViewIfNeeded();
      const barBox = await bar.boundingBox();
      const screenBox = await page.locator('main.screen-area').boundingBox();
      const progressBox = await progress.boundingBox();
      expect(barBox).not.toBeNull();
      expect(screenBox).not.toBeNull();
      expect(progressBox).not.toBeNull();
      if (barBox === null || screenBox === null || progressBox === null) return;
      expect(barBox.height).toBeLessThanOrEqual(40);
      expect(intersects(barBox, screenBox)).toBe(false);
      expect(intersects(barBox, progressBox)).toBe(false);

      // Sample from the first figure until the job ends: the two places always say the same.
      await page.getByTestId('flash-overall-percent').filter({ hasText: /%/ }).waitFor({ timeout: 30_000 });
      const samples: Sample[] = [];
      let shotWriting = false;
      let shotVerifying = false;
      for (;;) {
        const sample = await page.evaluate<Sample>(sampleScript);
        if (sample.state !== 'running') break;
        samples.push(sample);
        expect(sample.panel, JSON.stringify(sample)).toBe(sample.bar);
        if (!shotWriting && sample.write === 'active' && sample.panel !== '') {
          shotWriting = true;
          await page.screenshot({ path: app.shot('flash-workspace-writing.png') });
        }
        if (!shotVerifying && sample.verify === 'active') {
          shotVerifying = true;
          await page.screenshot({ path: app.shot('flash-workspace-verifying.png') });
        }
        // The next change of the figure, or the end of the job.
        await expect
          .poll(async () => {
            const next = await page.evaluate<Sample>(sampleScript);
            return next.panel !== sample.panel || next.state !== 'running';
          }, { timeout: 30_000, interval: 50 })
          .toBe(true);
      }
      const percents = samples.filter((s) => s.panel !== '').map((s) => Number.parseInt(s.panel, 10));
      expect(percents.length).toBeGreaterThan(3);
      expect(percents).toEqual([...percents].sort((a, b) => a - b));
      // Writing and verifying each had their own bar, one after the other.
      expect(samples.some((s) => s.write === 'active' && s.verify === 'waiting' && s.writeBars === 1 && s.verifyBars === 1)).toBe(true);
      expect(samples.some((s) => s.write === 'done' && s.verify === 'active' && s.verifyBars === 1)).toBe(true);

      // The notice says it ended; its "Show" opens the full list at the job; Escape closes it and focus comes back.
      const toast = page.locator('[data-testid="job-toast"][data-state="done"]');
      await toast.waitFor({ timeout: 30_000 });
      expect(await toast.textContent()).toContain('Flashed demo-os 1.3.0 to 1 of 1 drive, each verified.');
      // The notice sits in the bar, over nothing the screen shows.
      const toastBox = await toast.boundingBox();
      expect(toastBox !== null && !intersects(toastBox, screenBox)).toBe(true);
      await page.screenshot({ path: app.shot('flash-workspace-done.png') });
      expect(await bar.textContent()).toContain('0 running · 1 finished');
      await toast.getByRole('button', { name: /^Show / }).click();
      const drawer = page.getByTestId('jobs-drawer');
      await drawer.waitFor();
      expect(await drawer.locator('[data-testid="job-row"].is-highlighted').getAttribute('data-state')).toBe('done');
      await page.screenshot({ path: app.shot('flash-workspace-drawer.png') });
      await page.keyboard.press('Escape');
      await drawer.waitFor({ state: 'detached' });
      await page.getByTestId('jobs-toggle').focus();
      await page.keyboard.press('Enter');
      await drawer.waitFor();
      await page.keyboard.press('Escape');
      await drawer.waitFor({ state: 'detached' });
      expect(await page.evaluate(`document.activeElement?.dataset.testid ?? ''`)).toBe('jobs-toggle');
    } finally {
      await throttle.release();
    }
  }, 120_000);

  it('raised no page errors', () => {
    expect(app.pageErrors).toEqual([]);
  });
});
