import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServices } from '../../electron/app/appServices.ts';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';

const demoDevices = ['demo-pi-01', 'demo-pi-02', 'demo-pi-03'] as const;
const classes = ['config', 'state', 'data', 'secrets'] as const;

/**
 * The Backups screen at a technician's 1366×768, end to end: the demo site's three real
 * agents (journals growing the whole time), the real backup job streaming each class through
 * the agent's backup-stream into real restic repositories, the web host and Chromium.
 */
describe('Backups screen in Chromium', () => {
  const shots = join(process.cwd(), 'test-results');
  let app: AppInBrowser;
  let services: AppServices;
  let page: Page;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    app = await openAppInBrowser({ demo: true });
    ({ services, page, pageErrors } = app);
    await page.setViewportSize({ width: 1366, height: 768 });
  });

  afterAll(async () => {
    await app.close();
  });

  const row = (name: string): Locator => page.locator(`[data-testid="backup-row"][data-device-name="${name}"]`);
  const cell = (name: string, backupClass: string): Locator => row(name).locator(`[data-testid="freshness"][data-class="${backupClass}"]`);
  /** Screenshots show the screen, not the jobs drawer (it opens again at every job start). */
  const shoot = async (file: string): Promise<void> => {
    const hide = page.getByRole('button', { name: 'Hide', exact: true });
    if ((await hide.count()) > 0) await hide.click();
    await page.screenshot({ path: join(shots, file) });
  };
  const notice = (key: string): Locator => page.locator(`[data-testid="backup-notice"][data-notice="${key}"]`);

  it('opens on Alt+7 with every demo device never backed up, said in words, and offers Back up all', async () => {
    await page.keyboard.press('Alt+7');
    await page.getByRole('heading', { name: 'Backups', level: 1 }).waitFor();
    for (const name of demoDevices) await row(name).waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('backup-row').count()).toBe(3);
    for (const name of demoDevices) {
      for (const c of classes) {
        expect(await cell(name, c).getAttribute('data-state')).toBe('never');
        expect(await cell(name, c).textContent()).toContain('never backed up');
      }
    }
    const empty = page.getByTestId('backup-empty');
    expect(await empty.textContent()).toContain('No backups yet');
    expect(await page.locator('.screen-summary').textContent()).toBe('3 devices · 3 never backed up');
    await shoot('backup-empty.png');
  });

  it('says plainly what the service says when restic is missing, and starts nothing', async () => {
    process.env['FIELDKIT_RESTIC'] = join(app.dataDir, 'no-such-restic');
    try {
      await page.getByTestId('backup-empty').getByRole('button', { name: 'Back up all' }).click();
      const failed = page.locator('[data-testid="backup-notice"].is-failed');
      await failed.waitFor({ timeout: 20_000 });
      expect(await failed.locator('.error-message').textContent()).toContain('restic, which keeps fieldkit');
      expect(await failed.locator('.error-hint').textContent()).toContain('apt install restic');
      expect(services.handlers).toBeDefined();
      expect((await services.handlers['jobs.list']({})).jobs.filter((j) => j.kind === 'backup.run')).toEqual([]);
    } finally {
      delete process.env['FIELDKIT_RESTIC'];
    }
    await page.locator('[data-testid="backup-notice"].is-failed').getByRole('button', { name: 'Dismiss this message' }).click();
  });

  it('backs up all: the job shows in progress, then every class of every device is within its window on this laptop', async () => {
    await page.getByTestId('backup-empty').getByRole('button', { name: 'Back up all' }).click();
    await expect.poll(() => notice('backup.run').textContent(), { timeout: 120_000 }).toMatch(/^Backed up 12 classes \(/);
    expect(await notice('backup.run').getAttribute('class')).toContain('is-ok');
    for (const name of demoDevices) {
      for (const c of classes) {
        await expect.poll(() => cell(name, c).getAttribute('data-state')).toBe('ok');
        const text = await cell(name, c).textContent();
        expect(text).toMatch(/within \d+ d/);
        expect(text).toMatch(/(just now|\d+ s) ago|\d+ s ago/);
        expect(text).toContain('on laptop');
      }
    }
    expect(await page.getByTestId('backup-empty').count()).toBe(0);
    expect(await page.locator('.screen-summary').textContent()).toBe('3 devices · every class within its window');
    const { freshness } = await services.handlers['backup.list']({});
    expect(freshness.filter((f) => f.lastGoodAt !== null && !f.stale)).toHaveLength(12);
    await shoot('backup-screen.png');
  });

  it('expands a device: its snapshots with time, class, size, versions and copies', async () => {
    await row('demo-pi-01').getByRole('button', { name: 'Show snapshots of demo-pi-01' }).click();
    const detail = page.locator('[data-testid="device-backups"][data-device-name="demo-pi-01"]');
    await detail.waitFor();
    const snapshots = detail.getByTestId('snapshot-row');
    expect(await snapshots.count()).toBe(4);
    const shown = await Promise.all((await snapshots.all()).map((r) => r.getAttribute('data-class')));
    expect(new Set(shown)).toEqual(new Set(classes));
    const state = detail.locator('[data-testid="snapshot-row"][data-class="state"]');
    expect(await state.textContent()).toMatch(/agent \S+/);
    expect(await state.textContent()).toContain('laptop');
    await shoot('backup-device.png');
    expect(pageErrors).toEqual([]);
  });
});
