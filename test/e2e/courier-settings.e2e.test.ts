/**
 * Settings → ClickHouse in Chromium at a laptop's 1366×768, against a real ClickHouse 18.16
 * with a password user: a URL without a scheme says so once (never a contract message);
 * Test connection tries what is typed — a wrong password is refused and the saved one that
 * works is kept; https:// against the plain-HTTP port says to use http://.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretsFileName } from '../../electron/kernel/secrets/secretStore.ts';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';
import { startClickHouseServer, type ClickHouseServer } from '../support/clickhouseServer.ts';

const user = { name: 'courier', password: 'w0rking-pw' };
let clickhouse: ClickHouseServer;
let app: AppInBrowser;
let page: Page;
let section: Locator;

beforeAll(async () => {
  [clickhouse, app] = await Promise.all([startClickHouseServer({ users: [user] }), openAppInBrowser()]);
  page = app.page;
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.getByRole('tab', { name: /Settings/ }).click();
  section = page.getByTestId('clickhouse-settings');
  await section.waitFor();
}, 120_000);

afterAll(async () => {
  await app.close();
  await clickhouse.stop();
});

const field = (label: string) => section.getByLabel(label, { exact: true });
const testButton = () => section.getByRole('button', { name: 'Test connection' });
const result = () => section.getByTestId('clickhouse-test-result');
const savedPassword = () => (JSON.parse(readFileSync(join(app.dataDir, secretsFileName), 'utf8')) as Record<string, string>)['clickhouse.password'];

async function shoot(name: string): Promise<void> {
  const hide = page.getByRole('button', { name: 'Hide', exact: true });
  if ((await hide.count()) > 0) await hide.click();
  await section.scrollIntoViewIfNeeded();
  await page.screenshot({ path: app.shot(name) });
}

describe('Settings → ClickHouse in Chromium', () => {
  it('says once, in plain words, that a URL needs http:// or https://', async () => {
    const typed = `127.0.0.1:${clickhouse.httpPort}`;
    await field('URL').fill(typed);
    for (const press of ['Save', 'Test connection']) {
      await section.getByRole('button', { name: press, exact: true }).click();
      const said = section.getByText('Add http:// or https:// in front');
      await said.waitFor();
      expect(await said.count(), press).toBe(1);
      expect(await said.textContent()).toBe(`Add http:// or https:// in front, such as http://${typed} (http:// for port 8123, https:// for 8443).`);
      expect(await section.textContent(), press).not.toMatch(/settings\.clickhouse|API contract|Expected /);
      expect(await result().count(), press).toBe(0);
    }
    await shoot('settings-clickhouse-no-scheme.png');
    expect((await app.services.handlers['settings.clickhouse.get']({})).settings).toBeNull();
  });

  it('tests a wrong password as typed without saving it: the saved one that works is kept', async () => {
    await field('URL').fill(clickhouse.url);
    await field('User').fill(user.name);
    await field('Password').fill(user.password);
    await section.getByRole('button', { name: 'Save', exact: true }).click();
    await section.getByText('Saved.').waitFor();
    expect(savedPassword()).toBe(user.password);

    await field('Password').fill('wr0ng-pw');
    await testButton().click();
    const failed = section.locator('[data-testid="clickhouse-test-result"][data-ok="false"]');
    await failed.waitFor({ timeout: 20_000 });
    expect(await failed.textContent()).toContain('ClickHouse refused the user or password');
    await shoot('settings-clickhouse-wrong-password.png');
    expect(savedPassword()).toBe(user.password);
    expect(await section.getByText('Unsaved changes').count()).toBe(1);

    // The typed password cleared: the saved one is what the test uses, and it works.
    await field('Password').fill('');
    await testButton().click();
    await section.locator('[data-testid="clickhouse-test-result"][data-ok="true"]').waitFor({ timeout: 20_000 });
    expect(await result().getByTestId('clickhouse-version').textContent()).toMatch(/^18\.16\./);
    expect(await section.getByTestId('clickhouse-test-unsaved').count()).toBe(0);
  });

  it('says "this server speaks http://" for https:// against the plain-HTTP port, and saves nothing', async () => {
    await field('URL').fill(`https://127.0.0.1:${clickhouse.httpPort}/`);
    await testButton().click();
    const failed = section.locator('[data-testid="clickhouse-test-result"][data-ok="false"]');
    await failed.waitFor({ timeout: 20_000 });
    expect(await failed.locator('.error-message').textContent()).toBe(`This server speaks http:// on port ${clickhouse.httpPort}, not https://: use http://127.0.0.1:${clickhouse.httpPort}.`);
    expect(await section.textContent()).not.toMatch(/wrong version number|SSL routines/);
    await shoot('settings-clickhouse-https-to-http.png');
    expect((await app.services.handlers['settings.clickhouse.get']({})).settings?.url).toBe(clickhouse.url);
    expect(app.pageErrors).toEqual([]);
  });

  it('keeps what was typed and the last test outcome through a visit to another screen', async () => {
    const typed = `https://127.0.0.1:${clickhouse.httpPort}/`;
    await page.keyboard.press('Alt+1');
    await page.getByTestId('flash-panel').waitFor();
    await page.keyboard.press('Alt+6');
    await section.waitFor();
    // The unsaved URL, as typed, over what is saved; the rest as saved; the outcome still said.
    expect(await field('URL').inputValue()).toBe(typed);
    expect(await field('User').inputValue()).toBe(user.name);
    expect(await section.getByText('Unsaved changes').count()).toBe(1);
    expect(await section.locator('[data-testid="clickhouse-test-result"][data-ok="false"]').count()).toBe(1);
    // Once the service's answer is in (it refreshes on return), the edit is still there.
    await expect.poll(() => section.getByRole('button', { name: 'Save', exact: true }).isEnabled()).toBe(true);
    expect(await field('URL').inputValue()).toBe(typed);
    await shoot('settings-clickhouse-remembered.png');
    expect(app.pageErrors).toEqual([]);
  });
});
