import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';
import { startRolloutSite, type RolloutSite } from '../support/rolloutSite.ts';

/**
 * A restore drill from the Backups screen at a technician's 1366×768: two virtual Pis running
 * the deployed agent, a real backup of the first in restic, the drill restoring it onto the
 * second through the web host and Chromium, and the drill report with its RTO split per step.
 */
describe('Recovery on the Backups screen in Chromium', () => {
  const shots = join(process.cwd(), 'test-results');
  let rollout: RolloutSite;
  let app: AppInBrowser;
  let page: Page;

  beforeAll(async () => {
    rollout = await startRolloutSite({ count: 2, name: 'epi' });
    app = await openAppInBrowser({ dataDir: rollout.dataDir });
    page = app.page;
    await page.setViewportSize({ width: 1366, height: 768 });
    const devices = (await app.services.handlers['devices.list']({})).devices;
    const source = devices.find((d) => d.name === 'epi-1');
    const { jobId } = await app.services.handlers['backup.start']({ deviceIds: [source?.id ?? ''] });
    const record = await app.services.jobs.whenFinished(jobId);
    expect(record.state, record.error?.message).toBe('done');
  }, 600_000);

  afterAll(async () => {
    await app.close();
    await rollout.stop();
  });

  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') await page.screenshot({ path: join(shots, `recovery-failed-${context.task.name.slice(0, 40).replace(/\W+/g, '-')}.png`) });
  });

  it("shows a device's restore points, drills it onto the spare and reports RTO per step and RPO", async () => {
    await page.keyboard.press('Alt+7');
    await page.getByRole('heading', { name: 'Backups', level: 1 }).waitFor();
    const row = page.locator('[data-testid="backup-row"][data-device-name="epi-1"]');
    await row.waitFor({ timeout: 20_000 });
    await row.getByRole('button', { name: 'Show snapshots of epi-1' }).click();
    const recovery = page.getByTestId('device-recovery');
    await recovery.getByTestId('restore-point').first().waitFor({ timeout: 20_000 });
    expect(await recovery.getByTestId('restore-point').count()).toBeGreaterThanOrEqual(1);
    expect(await recovery.getByTestId('drill-state').textContent()).toContain('Never drilled');
    expect(await recovery.getByLabel('Spare to drill onto').inputValue()).not.toBe('');
    await recovery.getByRole('button', { name: 'Drill onto spare' }).click();
    const report = recovery.getByTestId('drill-report');
    await report.waitFor({ timeout: 240_000 });
    expect(await report.textContent()).toContain('Drill onto epi-2: passed');
    expect(await report.getByTestId('drill-rto').textContent()).toMatch(/^\d+\.\d s$/);
    expect(await report.getByTestId('drill-step').count()).toBe(12);
    expect(await report.locator('[data-testid="drill-check"].is-ok').count()).toBe(4);
    // The report says the spare was stopped, what it holds of the source, and how to clean it up.
    expect(await report.getByTestId('drill-left-on-spare').textContent()).toMatch(/^Left on epi-2: agent stopped and disabled .*epi-2 holds epi-1's configuration .*re-flash it/);
    await page.getByRole('button', { name: 'Hide', exact: true }).click().catch(() => undefined);
    await report.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, 'recovery-drill-report.png') });
    await recovery.getByRole('button', { name: 'Runbook of last drill' }).click();
    expect(await recovery.getByTestId('runbook').textContent()).toContain('# Restore drill: epi-1 onto epi-2');
    expect(app.pageErrors).toEqual([]);
  }, 400_000);
});
