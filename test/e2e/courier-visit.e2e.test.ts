import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServices } from '../../electron/app/appServices.ts';
import { SiteVisitResultSchema } from '../../shared/siteVisit.ts';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';
import { startSshd, testUser } from '../support/sshd.ts';

const demoDevices = ['demo-pi-01', 'demo-pi-02', 'demo-pi-03'] as const;

/**
 * Pull all on the Courier screen, from the keyboard: the demo site's three real agents and
 * a Pi whose SSH port refuses (its key pinned on an earlier visit). While the visit runs,
 * one line per device (the unreachable one retrying); at the end the three are held here
 * and the notice names the one that could not be pulled.
 */
describe('Courier Pull all in Chromium', () => {
  const shots = join(process.cwd(), 'test-results');
  let app: AppInBrowser;
  let services: AppServices;
  let page: Page;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    const sshd = await startSshd();
    app = await openAppInBrowser({ demo: true });
    ({ services, page, pageErrors } = app);
    const { device } = await services.handlers['devices.add']({ name: 'field-pi-09', site: 'Demo site', link: { kind: 'ssh', host: '127.0.0.1', port: sshd.port, username: testUser, agentPrefix: '/opt/fieldkit-agent' } });
    const scan = await services.handlers['devices.scanHostKey']({ id: device.id });
    await services.handlers['devices.trustHostKey']({ id: device.id, fingerprint: scan.fingerprint });
    await sshd.stop();
  });

  afterAll(async () => {
    await app.close();
  });

  const shoot = async (file: string): Promise<void> => {
    const hide = page.getByRole('button', { name: 'Hide', exact: true });
    if ((await hide.count()) > 0) await hide.click();
    await page.screenshot({ path: join(shots, file) });
  };

  it('pulls every device in one visit from the keyboard, a line per device, the unreachable one retried and named', async () => {
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.getByRole('tab', { name: /Courier/ }).click();
    await page.getByRole('heading', { name: 'Courier', level: 1 }).waitFor();
    await page.getByTestId('courier-row').filter({ hasText: 'field-pi-09' }).waitFor();
    await page.getByRole('group', { name: 'Pull every device of a site' }).getByRole('button', { name: 'Pull every device of site Demo site (4)' }).waitFor();

    const pullAll = page.getByRole('button', { name: 'Pull all', exact: true });
    await pullAll.focus();
    await page.keyboard.press('Enter');

    const panel = page.getByTestId('site-visit');
    await panel.waitFor({ timeout: 20_000 });
    const line = (name: string) => panel.getByTestId('site-visit-line').filter({ hasText: name });
    await line('field-pi-09').and(page.locator('[data-state="retrying"]')).waitFor({ timeout: 30_000 });
    expect(await panel.getByTestId('site-visit-line').count()).toBe(4);
    expect(await line('field-pi-09').textContent()).toMatch(/connection refused; trying again in \d s/);
    expect(await panel.getByTestId('site-visit-figures').textContent()).toMatch(/at most 4/);
    await shoot('courier-visit-running.png');

    await panel.waitFor({ state: 'detached', timeout: 60_000 });
    const { jobs } = await services.handlers['jobs.list']({ limit: 5 });
    const visit = jobs.find((j) => j.kind === 'courier.visit');
    expect(visit?.state).toBe('failed');
    const result = SiteVisitResultSchema.parse(visit?.result);
    for (const name of demoDevices) expect(result.devices.find((d) => d.name === name)?.status).toBe('done');
    expect(result.devices.find((d) => d.name === 'field-pi-09')).toMatchObject({ status: 'failed', attempts: 3 });

    const notice = page.getByTestId('courier-notice').filter({ hasText: 'Visit of all devices failed' });
    await notice.waitFor();
    expect(await notice.textContent()).toMatch(/1 of 4 devices could not be pulled: field-pi-09/);
    const { journals } = await services.handlers['courier.status']({});
    for (const name of demoDevices) expect(journals.find((j) => j.device_id === name)?.held).toBeGreaterThan(0);
    await shoot('courier-visit-done.png');
    expect(pageErrors).toEqual([]);
  });
});
