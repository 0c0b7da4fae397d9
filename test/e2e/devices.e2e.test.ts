import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServices } from '../../electron/app/appServices.ts';
import { findOnPath } from '../../electron/devices/discovery/listSerialPorts.ts';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';
import { installTestAgent, type TestAgentInstall } from '../support/installTestAgent.ts';
import { startSshd, testPassword, testUser, type Sshd } from '../support/sshd.ts';

/**
 * First contact with a Pi, end to end: a real sshd with the real agent behind it, the web
 * host, and Chromium. The technician adds the device, compares and trusts its host key,
 * logs in once with the password, then meets a changed key and a discovery.
 */
describe('Devices screen in Chromium', () => {
  const shots = join(process.cwd(), 'test-results');
  let sshd: Sshd;
  let agent: TestAgentInstall;
  let app: AppInBrowser;
  let services: AppServices;
  let page: Page;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    [sshd, agent, app] = await Promise.all([startSshd(), installTestAgent({ deviceId: 'pi-07', owner: testUser }), openAppInBrowser()]);
    ({ services, page, pageErrors } = app);
    await page.getByRole('tab', { name: /Devices/ }).click();
    await page.getByRole('heading', { name: 'Devices', level: 1 }).waitFor();
  });

  afterAll(async () => {
    await app.close();
    await sshd.stop();
    agent.remove();
  });

  const row = (): Locator => page.getByTestId('device-row').filter({ hasText: 'pi-07' });
  const pinned = async (): Promise<string | null> => (await services.handlers['devices.list']({})).devices[0]?.hostKeyFingerprint ?? null;

  it('adds an SSH device, shows its host key to compare, and pins it only when told it matches', async () => {
    await page.getByRole('button', { name: 'Add device…' }).click();
    const add = page.getByTestId('add-device-dialog');
    // An impossible address is refused under the Host field, saying what is wrong.
    await add.getByLabel('Host', { exact: true }).fill('10.0.0.300');
    await add.getByLabel('Host', { exact: true }).press('Enter');
    const hostError = add.locator('.field-error', { hasText: '300 is more than 255' });
    await hostError.waitFor();
    await page.screenshot({ path: join(shots, 'devices-add-bad-address.png') });
    // The README's own form, user@host:port, in the Host field alone.
    await add.getByLabel('Host', { exact: true }).fill(`${testUser}@127.0.0.1:${sshd.port}`);
    await hostError.waitFor({ state: 'detached' });
    await add.getByRole('button', { name: /Advanced/ }).click();
    await add.getByLabel('Agent install prefix').fill(agent.prefix);
    await add.getByLabel('Name', { exact: true }).fill('pi-07');
    await add.getByLabel('Site', { exact: true }).fill('depot');
    await page.screenshot({ path: join(shots, 'devices-add.png') });
    await add.getByLabel('Site', { exact: true }).press('Enter');
    await add.waitFor({ state: 'detached' });

    await expect.poll(() => row().textContent()).toContain('Host key not accepted');
    expect(await row().textContent()).toContain(`ssh ${testUser}@127.0.0.1:${sshd.port}`);
    expect(await row().getAttribute('data-device-id')).toMatch(/^dev_/);

    await row().getByRole('button', { name: 'Check host key of pi-07' }).click();
    const check = page.getByTestId('host-key-dialog');
    const fingerprint = check.getByTestId('host-key-fingerprint');
    await fingerprint.waitFor({ timeout: 15_000 });
    expect((await fingerprint.textContent())?.trim()).toBe(sshd.fingerprint);
    expect(await check.textContent()).toContain('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub');
    expect(await pinned()).toBeNull();
    await page.screenshot({ path: join(shots, 'devices-host-key.png') });
    await check.getByRole('button', { name: 'It matches — trust' }).click();
    await check.waitFor({ state: 'detached', timeout: 15_000 });
    expect(await pinned()).toBe(sshd.fingerprint);
  });

  it('asks for the password at first contact only, then shows who answered', async () => {
    await row().getByRole('button', { name: 'Connect to pi-07' }).click();
    const login = page.getByTestId('password-dialog');
    const password = login.getByLabel(/^Password for/);
    await password.waitFor({ timeout: 20_000 });
    expect(await password.getAttribute('type')).toBe('password');
    await password.fill('not the password');
    await password.press('Enter');
    await login.getByText('refused the login').waitFor({ timeout: 20_000 });
    // Cleared after every try: nothing typed stays on the page.
    expect(await password.inputValue()).toBe('');
    await password.fill(testPassword);
    await page.screenshot({ path: join(shots, 'devices-password.png') });
    await password.press('Enter');
    await login.waitFor({ state: 'detached', timeout: 30_000 });

    const result = page.getByTestId('connect-result');
    await result.waitFor();
    expect(await result.textContent()).toMatch(/round trip\s*\d+ ms/);
    await expect.poll(() => row().getByTestId('agent-device-id').textContent()).toBe('pi-07');
    expect(await row().getAttribute('data-status')).toBe('ok');
    await page.screenshot({ path: join(shots, 'devices-connected.png') });

    // fieldkit's key is on the device now: connecting again asks for nothing.
    const seenBefore = (await services.handlers['devices.list']({})).devices[0]?.lastSeenMs ?? 0;
    await row().getByRole('button', { name: 'Connect to pi-07' }).click();
    await expect.poll(async () => (await services.handlers['devices.list']({})).devices[0]?.lastSeenMs ?? 0, { timeout: 20_000 }).toBeGreaterThan(seenBefore);
    expect(await page.getByTestId('password-dialog').count()).toBe(0);
  });

  it('refuses a changed host key with a red warning; forgetting it is a separate, confirmed step', async () => {
    await sshd.rotateHostKey();
    await row().getByRole('button', { name: 'Connect to pi-07' }).click();
    const warning = page.getByTestId('host-key-changed');
    await warning.waitFor({ timeout: 20_000 });
    expect(await warning.textContent()).toMatch(/impersonat/);
    expect(await warning.getAttribute('role')).toBe('alert');
    await expect.poll(() => row().getAttribute('data-status')).toBe('danger');
    expect(await row().textContent()).toContain('Host key CHANGED');
    // The row's next step is now to review the key, not to connect.
    await row().getByRole('button', { name: 'Review the changed host key of pi-07' }).waitFor();
    await page.screenshot({ path: join(shots, 'devices-host-key-changed.png') });

    await warning.getByRole('button', { name: 'Forget pinned key…' }).click();
    const confirm = page.getByTestId('forget-key-dialog');
    await confirm.waitFor();
    await page.screenshot({ path: join(shots, 'devices-forget-key.png') });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    expect(await pinned()).not.toBeNull();
  });

  it('discovers the SSH server on a probed subnet and marks it as known', async () => {
    await page.getByRole('button', { name: 'Discover', exact: true }).click();
    const panel = page.getByTestId('discover-panel');
    await panel.getByLabel('Subnet to probe for SSH').fill('127.0.0.0/29');
    await panel.locator('label', { hasText: 'mDNS' }).click();
    expect(await panel.getByRole('switch', { name: /mDNS/ }).isChecked()).toBe(false);
    await panel.getByRole('button', { name: /Advanced/ }).click();
    await panel.getByLabel('SSH port').fill(String(sshd.port));
    await panel.getByRole('button', { name: 'Start' }).click();

    const found = panel.locator(`[data-testid="discovered-row"][data-address="127.0.0.1:${sshd.port}"]`);
    await found.waitFor({ timeout: 20_000 });
    expect(await found.getAttribute('data-known')).toBe('true');
    expect(await found.textContent()).toMatch(/SSH-2\.0-OpenSSH/);
    expect(await panel.getByTestId('discover-result').textContent()).toContain('6 hosts probed');
    // Serial ports were asked for: on a machine without udev they are read from /sys, and the panel says so.
    if (findOnPath('udevadm', process.env.PATH ?? '') === null) {
      expect(await panel.getByTestId('discover-notes').textContent()).toBe('serial ports: udevadm not found — listed from /sys instead');
    } else {
      expect(await panel.getByTestId('discover-notes').count()).toBe(0);
    }
    await page.screenshot({ path: join(shots, 'devices-discover.png') });
  });

  it('after a real reinstall: forgets the old key only when confirmed, then checks and trusts the new one', async () => {
    const warning = page.getByTestId('host-key-changed');
    await warning.getByRole('button', { name: 'Forget pinned key…' }).click();
    const confirm = page.getByTestId('forget-key-dialog');
    await confirm.getByRole('button', { name: 'Forget pinned key' }).click();
    await confirm.waitFor({ state: 'detached' });
    expect(await pinned()).toBeNull();
    await expect.poll(() => row().getAttribute('data-status')).toBe('warn');

    await row().getByRole('button', { name: 'Check host key of pi-07' }).click();
    const fingerprint = page.getByTestId('host-key-fingerprint');
    await fingerprint.waitFor({ timeout: 15_000 });
    expect((await fingerprint.textContent())?.trim()).toBe(sshd.fingerprint);
    await page.getByRole('button', { name: 'It matches — trust' }).click();
    await fingerprint.waitFor({ state: 'detached', timeout: 15_000 });
    expect(await pinned()).toBe(sshd.fingerprint);

    await row().getByRole('button', { name: 'Connect to pi-07' }).click();
    await expect.poll(() => row().getAttribute('data-status'), { timeout: 20_000 }).toBe('ok');
    expect(await page.getByTestId('password-dialog').count()).toBe(0);
  });

  it('raised no page errors and no CSP violations', () => {
    expect(pageErrors).toEqual([]);
  });
});
