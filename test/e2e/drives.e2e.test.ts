import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppServices, type AppServices } from '../../electron/app/appServices.ts';
import { rendererDir } from '../../electron/app/appPaths.ts';
import { startWebHost } from '../../electron/kernel/host/webHost.ts';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';
import { launchChromium } from '../support/browser.ts';
import { makeTempDir } from '../support/tempDir.ts';
import { addZramId, removeZram } from '../support/zram.ts';

/** The technician's first slice end to end: real drives, the web host, a real browser. */
describe('Drives screen in Chromium', () => {
  const shots = join(process.cwd(), 'test-results');
  let app: AppInBrowser;
  let services: AppServices;
  let page: Page;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    app = await openAppInBrowser({ watchDrives: true });
    ({ services, page, pageErrors } = app);
    await page.getByTestId('drive-row').first().waitFor();
  });

  afterAll(async () => {
    await app.close();
  });

  const row = (device: string) => page.locator(`[data-testid="drive-row"][data-device="${device}"]`);

  it('shows a drive within 2 s of it appearing, and drops it within 2 s of it going', async () => {
    const id = addZramId();
    const device = `/dev/zram${id}`;
    try {
      writeFileSync(`/sys/block/zram${id}/disksize`, String(512 * 1024 * 1024));
      const appeared = Date.now();
      await row(device).getByText('Can be flashed').waitFor({ timeout: 2000 });
      expect(Date.now() - appeared).toBeLessThanOrEqual(2000);
      await expect.poll(() => row(device).textContent()).toContain('536.9 MB');
      await page.screenshot({ path: join(shots, 'drives.png') });
      // The drive is gone when hot_remove succeeds; udev's probe may hold it busy a moment before that.
      await removeZram(id);
      const gone = Date.now();
      await row(device).waitFor({ state: 'detached', timeout: 2000 });
      expect(Date.now() - gone).toBeLessThanOrEqual(2000);
    } finally {
      await removeZram(id);
    }
  });

  it('marks the system drive as never a target, with the reason', async () => {
    const systemRows = page.locator('[data-testid="drive-row"]', { hasText: 'System drive' });
    expect(await systemRows.count()).toBeGreaterThan(0);
    await expect.poll(() => systemRows.first().textContent()).toContain('this computer runs from it');
  });

  it('runs a read check from the Drives screen with progress, rate and ETA, and cancels it', async () => {
    const id = addZramId();
    const device = `/dev/zram${id}`;
    try {
      writeFileSync(`/sys/block/zram${id}/disksize`, String(64 * 1024 ** 3));
      await row(device).getByText('Can be flashed').waitFor({ timeout: 2000 });
      await row(device).getByRole('button', { name: `Read check ${device}` }).click();
      const job = page.locator('[data-testid="status-job"][data-state="running"]').first();
      await job.waitFor({ timeout: 5000 });
      await expect.poll(() => job.textContent(), { timeout: 5000 }).toMatch(/MB\/s/);
      await expect.poll(() => job.textContent(), { timeout: 5000 }).toMatch(/left/);
      await page.screenshot({ path: join(shots, 'read-check-running.png') });
      await job.getByRole('button', { name: /Cancel/ }).click();
      await page.locator('[data-testid="job-toast"][data-state="cancelled"]').first().waitFor({ timeout: 10_000 });
      const [record] = (await services.handlers['jobs.list']({ limit: 1 })).jobs;
      expect(record?.state).toBe('cancelled');
    } finally {
      await removeZram(id);
    }
  });

  it('navigates by keyboard and shows the app version and data folder in Settings', async () => {
    await page.keyboard.press('Alt+6');
    const info = page.getByTestId('app-info');
    await info.waitFor();
    await expect.poll(() => info.textContent()).toContain(app.dataDir);
    await page.screenshot({ path: join(shots, 'settings.png') });
    await page.keyboard.press('Alt+3');
    await page.getByRole('heading', { level: 1, name: 'Deploy' }).waitFor();
  });

  it('raised no page errors and no CSP violations', () => {
    expect(pageErrors).toEqual([]);
  });
});

describe('web host access in Chromium', () => {
  it('refuses a page opened without the token, and says what to do', async () => {
    const dir = makeTempDir();
    const services = await createAppServices({ dataDir: join(dir.path, 'data'), version: 'e2e' });
    const host = await startWebHost({ handlers: services.handlers, events: services.events, staticDir: rendererDir() });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${host.port}/`);
      await page.getByTestId('no-token').waitFor();
      expect(await page.getByTestId('no-token').textContent()).toContain('fieldkit serve');
      await page.goto(`http://127.0.0.1:${host.port}/#token=wrong-token-wrong-token-wrong-to`);
      await page.getByTestId('token-refused').waitFor({ timeout: 10_000 });
    } finally {
      await browser.close();
      await host.close();
      await services.close();
      dir.remove();
    }
  });
});
