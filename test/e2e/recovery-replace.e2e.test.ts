import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';

/**
 * The replace wizard at a technician's 1366×768, on the demo site's real agents, the web host
 * and Chromium: reached from the Backups screen, it checks its inputs in the window, shows the
 * plan beside them (rotating credentials changes it; a card to flash first adds the flash and
 * makes the host key optional), and shows the service's refusal in words
 * when the device has no backup of its secrets to become it from.
 */
describe('Replace wizard in Chromium', () => {
  const shots = join(process.cwd(), 'test-results');
  let app: AppInBrowser;
  let page: Page;

  beforeAll(async () => {
    app = await openAppInBrowser({ demo: true });
    ({ page } = app);
    await page.setViewportSize({ width: 1366, height: 768 });
  });

  afterAll(async () => {
    await app.close();
  });

  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') await page.screenshot({ path: join(shots, `replace-failed-${context.task.name.slice(0, 40).replace(/\W+/g, '-')}.png`) });
  });

  it('opens from Backups, checks its inputs, shows the plan, and shows the refusal when there is nothing to become the device from', async () => {
    await page.keyboard.press('Alt+7');
    await page.getByRole('heading', { name: 'Backups', level: 1 }).waitFor();
    await page.getByRole('button', { name: 'Replace a device…' }).click();
    const wizard = page.getByTestId('replace-wizard');
    await wizard.waitFor();
    await wizard.getByRole('button', { name: /^Replace/ }).click();
    expect(await wizard.locator('.field-error').allTextContents()).toEqual(
      expect.arrayContaining(['Choose the device that died.', "Give the spare's SSH address, such as pi@10.0.0.41.", 'Paste the fingerprint as the spare prints it: SHA256:…']),
    );

    await wizard.getByRole('radio', { name: 'demo-pi-02' }).check({ force: true });
    await wizard.getByRole('textbox', { name: "Spare's SSH address" }).fill('pi@10.0.0.41');
    await wizard.getByRole('textbox', { name: "Spare's SSH host key" }).fill('SHA256:YnnQrthnLFg8QjUvPN4lVRhgrjZxeNl+CKB0hxD25jI');
    const plan = wizard.getByTestId('replace-plan');
    expect(await plan.textContent()).toContain("Put demo-pi-02's own SSH host key in force");
    await page.screenshot({ path: join(shots, 'replace-wizard.png') });

    await wizard.getByText('Rotate credentials').click();
    expect(await plan.textContent()).toContain('the old key is refused from then on');
    await page.screenshot({ path: join(shots, 'replace-wizard-rotate.png') });

    // Onto a card flashed first: the plan starts with the flash; the host key may wait until the spare boots.
    await wizard.getByRole('textbox', { name: "Spare's card to flash first (optional)" }).fill('/dev/sdz');
    await wizard.getByRole('textbox', { name: "Spare's SSH host key" }).fill('');
    expect(await plan.textContent()).toContain('Flash the image demo-pi-02 last ran (from the image library, still trusted) onto /dev/sdz');
    await page.screenshot({ path: join(shots, 'replace-wizard-drive.png') });

    await wizard.getByRole('button', { name: 'Replace demo-pi-02' }).click();
    const refusal = wizard.locator('.error-message');
    await refusal.waitFor({ timeout: 20_000 });
    // Asked without a host key: the window let it through, the service judged the device.
    expect(await wizard.locator('.field-error').allTextContents()).toEqual([]);
    expect(await refusal.textContent()).toContain('demo-pi-02 has no good backup of its secrets');
    await page.screenshot({ path: join(shots, 'replace-wizard-refused.png') });
  });
});
