import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServices } from '../../electron/app/appServices.ts';
import { fingerprintOfKeyLine } from '../../electron/provision/provisionOverSerial.ts';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';
import { startVirtualSite, type VirtualPi, type VirtualSite } from '../support/virtualSite.ts';

/**
 * Provisioning from the Devices screen, end to end: Chromium, the web host, the
 * devices.provision job in its worker, and a real systemd Pi whose console is a PTY (sshd
 * off). The dialog shows the steps as they finish; the Pi ends registered over SSH with the
 * host key read over the cable.
 */
describe('Provision over serial in Chromium', () => {
  const shots = join(process.cwd(), 'test-results');
  let site: VirtualSite;
  let pi: VirtualPi;
  let app: AppInBrowser;
  let services: AppServices;
  let page: Page;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    [site, app] = await Promise.all([startVirtualSite({ count: 1, serial: true, name: 'epi' }), openAppInBrowser()]);
    pi = site.pis[0] as VirtualPi;
    const off = await pi.exec('sudo -n systemctl disable --now ssh.service');
    expect(off.code).toBe(0);
    ({ services, page, pageErrors } = app);
    await services.handlers['devices.add']({ name: 'bench-cable', site: 'bench', link: { kind: 'serial', path: pi.serialPath ?? '', baudRate: 115200, username: 'pi', agentPrefix: '/opt/fieldkit-agent' } });
    await page.getByRole('tab', { name: /Devices/ }).click();
    await page.getByRole('heading', { name: 'Devices', level: 1 }).waitFor();
  }, 120_000);

  afterAll(async () => {
    await app.close();
    await site.stop();
  });

  it('provisions the Pi on the serial device, showing each step, and registers it over SSH with the pinned key', async () => {
    const row = page.getByTestId('device-row').filter({ hasText: 'bench-cable' });
    await row.getByRole('button', { name: 'More actions for bench-cable' }).click();
    await page.getByRole('menuitem', { name: 'Provision over serial…' }).click();
    const dialog = page.getByTestId('provision-dialog');
    await dialog.getByLabel('Hostname').fill('cab-003');
    await dialog.getByLabel('Device id').fill('cab-003');
    await dialog.getByLabel('Site', { exact: true }).fill('quarry');
    await dialog.getByRole('radio', { name: 'Static' }).click({ force: true });
    await dialog.getByLabel('Address').fill('10.66.0.3/24');
    await dialog.getByLabel('Gateway').fill('10.66.0.1');
    // A wrong address is named in its field before anything starts.
    await dialog.getByLabel('DNS').fill('10.66.0.300');
    await dialog.getByRole('button', { name: 'Provision' }).click();
    await dialog.getByText('an IPv4 address such as').waitFor();
    await dialog.getByLabel('DNS').fill('10.66.0.1');
    await dialog.getByLabel('Confirm SSH at').fill('127.0.0.1');
    await dialog.getByLabel('Console password').fill(pi.password);
    await page.screenshot({ path: join(shots, 'provision-form.png') });
    await dialog.getByRole('button', { name: 'Provision' }).click();

    const status = dialog.getByRole('status');
    await status.waitFor({ timeout: 60_000 });
    expect(await status.textContent()).toBe(`cab-003 answers over SSH at 127.0.0.1:${String(pi.sshPort)} (5 steps changed); host key pinned.`);
    const steps = await dialog.locator('.provision-steps li').allTextContents();
    expect(steps.map((s) => s.split(' ')[0])).toEqual(['Hostname', 'Device', "fieldkit's", 'SSH', 'Network', 'Answers']);
    await page.screenshot({ path: join(shots, 'provision-done.png') });

    const { devices } = await services.handlers['devices.list']({});
    const ssh = devices.find((d) => d.link.kind === 'ssh');
    expect(ssh).toMatchObject({ name: 'cab-003', site: 'quarry', hostKeyFingerprint: fingerprintOfKeyLine(pi.hostKeyPublic), link: { host: '127.0.0.1', port: pi.sshPort } });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.getByTestId('device-row').filter({ hasText: 'cab-003' }).waitFor();
  });

  it('raised no page errors and no CSP violations', () => {
    expect(pageErrors).toEqual([]);
  });
});
