import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServices } from '../../electron/app/appServices.ts';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';
import { makeTempDir } from '../support/tempDir.ts';

/**
 * Settings → Trusted image keys in Chromium: paste a key made by the stock minisign, see it
 * listed, revoke it (reason required, confirmed in a dialog), and turn the unsigned-image
 * policy on to see its warning. The services are asked after each step, not just the page.
 */
describe('Trusted image keys in Chromium', () => {
  const keys = makeTempDir('fieldkit-trust-e2e-');
  let app: AppInBrowser;
  let services: AppServices;
  let page: Page;
  let pageErrors: string[] = [];
  let pub = '';
  let keyId = '';

  beforeAll(async () => {
    execFileSync('minisign', ['-G', '-W', '-p', join(keys.path, 'stock.pub'), '-s', join(keys.path, 'stock.key')]);
    pub = readFileSync(join(keys.path, 'stock.pub'), 'utf8');
    // The stock tool prints the id without leading zeros: pad it as fieldkit shows it.
    keyId = (/minisign public key ([0-9A-F]{1,16})/.exec(pub)?.[1] ?? '').padStart(16, '0');
    app = await openAppInBrowser();
    ({ services, page, pageErrors } = app);
  });
  afterAll(async () => {
    await app.close();
    keys.remove();
  });

  it('imports a pasted .pub and lists it', async () => {
    await page.getByRole('tab', { name: /Settings/ }).click();
    const section = page.getByTestId('trust-settings');
    await section.waitFor();
    expect(await section.getByTestId('trust-empty').textContent()).toContain('No image keys are trusted yet');
    await section.getByLabel('Public key (.pub file text)').fill(pub);
    await section.getByLabel('Label', { exact: true }).fill('Stock release key');
    await section.getByRole('button', { name: 'Import key' }).click();
    const row = section.locator(`[data-testid="trust-row"][data-key-id="${keyId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('Stock release key');
    expect((await services.handlers['trust.list']({})).keys.map((k) => k.keyId)).toEqual([keyId]);
  });

  it('revokes it only with a reason, after a confirm dialog', async () => {
    const section = page.getByTestId('trust-settings');
    await section.getByRole('button', { name: 'Revoke…' }).click();
    const dialog = page.getByTestId('revoke-key-dialog');
    await dialog.waitFor();
    const confirm = dialog.getByRole('button', { name: 'Revoke key' });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel('Reason (kept with the key)').fill('secret key leaked');
    await page.screenshot({ path: app.shot('trust-revoke-dialog.png') });
    await confirm.click();
    await dialog.waitFor({ state: 'detached' });
    const revoked = section.locator(`[data-testid="trust-row"][data-key-id="${keyId}"] [data-testid="trust-revoked"]`);
    await expect.poll(() => revoked.textContent()).toContain('secret key leaked');
    const [stored] = (await services.handlers['trust.list']({})).keys;
    expect(stored?.revokedReason).toBe('secret key leaked');
  });

  it('refuses a re-import of the revoked key with the reason on screen', async () => {
    const section = page.getByTestId('trust-settings');
    await section.getByLabel('Public key (.pub file text)').fill(pub);
    await section.getByLabel('Label', { exact: true }).fill('again');
    await section.getByRole('button', { name: 'Import key' }).click();
    await expect.poll(() => section.textContent()).toContain('never trusted again');
  });

  it('fills the form from a chosen .pub file and imports it beside the revoked key', async () => {
    execFileSync('minisign', ['-G', '-W', '-p', join(keys.path, 'second.pub'), '-s', join(keys.path, 'second.key')]);
    const secondPub = readFileSync(join(keys.path, 'second.pub'), 'utf8');
    // The stock tool writes the id without leading zeros; fieldkit shows it padded to 16 digits.
    const secondId = (/minisign public key ([0-9A-F]{1,16})/.exec(secondPub)?.[1] ?? '').padStart(16, '0');
    const section = page.getByTestId('trust-settings');
    await section.getByLabel('Label', { exact: true }).fill('');
    await section.getByTestId('trust-file').setInputFiles(join(keys.path, 'second.pub'));
    // The form holds the file as it is (its key line included), not fieldkit's rendering of it.
    await expect.poll(() => section.getByLabel('Public key (.pub file text)').inputValue()).toContain(secondPub.trim().split('\n')[1] ?? '');
    expect(await section.getByLabel('Label', { exact: true }).inputValue()).toBe('second');
    await section.getByRole('button', { name: 'Import key' }).click();
    await section.locator(`[data-testid="trust-row"][data-key-id="${secondId}"]`).waitFor();
    expect(await section.getByTestId('trust-row').count()).toBe(2);
  });

  it('turns the unsigned-image policy on, with its warning, and it is saved', async () => {
    const policy = page.getByTestId('unsigned-policy');
    expect(await policy.getByTestId('unsigned-warning').count()).toBe(0);
    await policy.getByText('Allow unsigned images').click();
    await policy.getByTestId('unsigned-warning').waitFor();
    expect(await policy.getByTestId('unsigned-warning').textContent()).toContain('Unsigned images will be flashed with a warning on every flash');
    expect((await services.handlers['settings.flash.get']({})).settings.allowUnsigned).toBe(true);
    await page.getByTestId('trust-table').scrollIntoViewIfNeeded();
    await page.screenshot({ path: app.shot('trust-settings.png') });
    expect(pageErrors).toEqual([]);
  });
});
