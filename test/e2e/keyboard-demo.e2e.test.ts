import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../../electron/kernel/api/dispatch.ts';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';

const demoDevices = ['demo-pi-01', 'demo-pi-02', 'demo-pi-03'] as const;

/**
 * A newcomer's walk through the demo at 1366×768 with the keyboard only: each screen's main
 * action by its shortcut, every row's buttons by Tab, a row opened with Enter, back with
 * Escape and Alt+←, the jobs list opened and left. The demo's own ClickHouse (started because
 * a server is installed here) takes Pull all → Forward all → Reconcile to "complete" without
 * a setting; Deploy says plainly why the demo devices cannot be deployed to.
 */
describe('the demo, by keyboard, at 1366×768', () => {
  let app: AppInBrowser;
  let page: Page;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    app = await openAppInBrowser({ demo: true });
    ({ page, pageErrors } = app);
    await page.setViewportSize({ width: 1366, height: 768 });
  });

  afterAll(async () => {
    await app.close();
  });

  const shoot = (file: string): Promise<Buffer> => page.screenshot({ path: app.shot(file) });
  // The page's DOM types are not this file's: the element is reached through what it is known to have.
  type InPage = { ownerDocument: { activeElement: unknown; defaultView: { getComputedStyle(node: unknown): { outlineStyle: string } } } };
  const focused = (locator: Locator): Promise<boolean> => locator.evaluate((node: unknown) => (node as InPage).ownerDocument.activeElement === node);

  /** Presses Tab (or Shift+Tab) until `target` has focus; fails if it is not reached within `limit` presses. */
  async function tabTo(target: Locator, limit = 40, key: 'Tab' | 'Shift+Tab' = 'Tab'): Promise<number> {
    const path: string[] = [];
    for (let presses = 1; presses <= limit; presses++) {
      await page.keyboard.press(key);
      if (await focused(target)) return presses;
      path.push(String(await page.evaluate(`(e => e ? (e.getAttribute('aria-label') ?? e.textContent?.trim().slice(0, 30) ?? e.tagName) : 'nothing')(document.activeElement)`)));
    }
    throw new Error(`${key} never reached the target; focus went ${path.join(' → ')}`);
  }

  /** The focus ring is drawn: react-aria marks keyboard focus with data-focus-visible, and the outline shows (for a row, on its cells). */
  async function expectVisibleFocus(target: Locator, ringOn: Locator = target): Promise<void> {
    expect(await target.getAttribute('data-focus-visible')).not.toBeNull();
    const outline = await ringOn.evaluate((node: unknown) => (node as InPage).ownerDocument.defaultView.getComputedStyle(node).outlineStyle);
    expect(outline).not.toBe('none');
  }

  it('Drives & Flash: Read image by Alt+Shift+R, shown on the button; a folder is called a folder', async () => {
    await page.keyboard.press('Alt+1');
    const read = page.getByRole('button', { name: 'Read image' });
    await read.waitFor();
    expect(await read.getAttribute('title')).toBe('Read image (Alt+Shift+R)');
    expect(await read.locator('kbd').textContent()).toBe('Alt+Shift+R');
    const folder = join(app.dataDir, 'images');
    mkdirSync(folder, { recursive: true });
    const field = page.getByLabel('Image file');
    await tabTo(field);
    await page.keyboard.type(folder);
    await page.keyboard.press('Alt+Shift+R');
    await expect.poll(() => page.locator('.error-message').first().textContent(), { timeout: 10_000 }).toBe(`${folder} is a folder, not an image file.`);
    await shoot('keyboard-read-image-1366.png');
  });

  it('Courier: Pull all, Forward all, Reconcile by their shortcuts reach "complete" with the demo ClickHouse, no setting made', async () => {
    await page.keyboard.press('Alt+4');
    const notice = page.getByTestId('demo-clickhouse-notice');
    await notice.waitFor({ timeout: 20_000 });
    expect(await notice.textContent()).toMatch(/The demo has its own ClickHouse.*http:\/\/127\.0\.0\.1:\d+\/.*Settings → ClickHouse/);
    for (const [label, letter] of [['Pull all', 'P'], ['Forward all', 'F'], ['Reconcile', 'R']] as const) {
      const button = page.getByRole('button', { name: label, exact: true });
      expect(await button.getAttribute('aria-keyshortcuts')).toBe(`Alt+Shift+${letter}`);
      expect(await button.locator('kbd').textContent()).toBe(`Alt+Shift+${letter}`);
    }
    const row = (name: string): Locator => page.getByTestId('courier-row').filter({ hasText: name });
    for (const name of demoDevices) await row(name).waitFor({ timeout: 20_000 });

    await page.keyboard.press('Alt+Shift+P');
    for (const name of demoDevices) await expect.poll(() => row(name).getAttribute('data-device-id'), { timeout: 60_000 }).toBe(name);
    await expect.poll(() => page.getByRole('button', { name: 'Pull all', exact: true }).isEnabled(), { timeout: 60_000 }).toBe(true);

    await page.keyboard.press('Alt+Shift+F');
    const forwarded = page.locator('[data-testid="courier-notice"][data-notice="forward"]');
    await expect.poll(() => forwarded.textContent(), { timeout: 60_000 }).toMatch(/^Forwarded [\d,]+ records to ClickHouse/);

    await page.keyboard.press('Alt+Shift+R');
    for (const name of demoDevices) {
      // The producers keep journaling: what came after the pull is "not yet pulled", the rest complete.
      await expect.poll(() => row(name).getAttribute('data-reconcile'), { timeout: 30_000 }).toMatch(/^(complete|not_yet_pulled)$/);
      const status = page.locator(`[data-testid="reconcile-status"][data-device-id="${name}"]`);
      expect(await status.textContent()).toMatch(/complete through seq [\d,]+/);
    }
    await shoot('keyboard-courier-reconciled-1366.png');
  });

  it('Courier: Tab goes from one row\'s Pull to the next row\'s, with the focus ring drawn', async () => {
    const first = page.getByRole('button', { name: `Pull ${demoDevices[0]}`, exact: true });
    const second = page.getByRole('button', { name: `Pull ${demoDevices[1]}`, exact: true });
    await page.getByRole('button', { name: 'Pull all', exact: true }).focus();
    await tabTo(first);
    await expectVisibleFocus(first);
    expect(await tabTo(second, 3)).toBe(1);
    await expectVisibleFocus(second);
    await page.keyboard.press('Shift+Tab');
    expect(await focused(first)).toBe(true);
    await shoot('keyboard-courier-row-focus-1366.png');
  });

  it('Devices: Connect and the row menu by Tab and Enter, Enter on a row opens its Health page, Escape and Alt+← come back', async () => {
    await page.keyboard.press('Alt+2');
    const connect = (name: string): Locator => page.getByRole('button', { name: `Connect to ${name}`, exact: true });
    const more = (name: string): Locator => page.getByRole('button', { name: `More actions for ${name}`, exact: true });
    await connect(demoDevices[0]).waitFor();
    await tabTo(connect(demoDevices[0]));
    await expectVisibleFocus(connect(demoDevices[0]));
    expect(await tabTo(more(demoDevices[0]), 2)).toBe(1);
    await page.keyboard.press('Enter');
    const menu = page.getByRole('menu');
    await menu.waitFor();
    expect(await menu.getByRole('menuitem').allTextContents()).toContain('Rename or change site…');
    await shoot('keyboard-devices-menu-1366.png');
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'detached' });
    // Focus goes back to the menu's button once the menu has gone, so Tab carries on along the row.
    await expect.poll(() => focused(more(demoDevices[0])), { timeout: 3000 }).toBe(true);
    expect(await tabTo(connect(demoDevices[1]), 3)).toBe(1);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('device-notice').first().textContent(), { timeout: 20_000 }).toContain(demoDevices[1]);

    // Enter on a row opens the device's Health page: Tab from the buttons above the table lands on a row.
    await page.getByRole('button', { name: 'Add device…' }).focus();
    const focusedRow = page.locator('[data-testid="device-row"]:focus');
    for (let presses = 0; presses < 10 && (await focusedRow.count()) === 0; presses++) await page.keyboard.press('Tab');
    expect(await focusedRow.count()).toBe(1);
    await expectVisibleFocus(focusedRow, focusedRow.locator('td').first());
    const rowDeviceId = await focusedRow.getAttribute('data-device-id');
    await page.keyboard.press('Enter');
    const devicePage = page.getByTestId('device-health');
    await devicePage.waitFor();
    expect(await devicePage.getAttribute('data-device-id')).toBe(rowDeviceId);
    expect(await page.getByRole('button', { name: '← Fleet' }).getAttribute('title')).toBe('Back (Esc or Alt+←)');
    await shoot('keyboard-device-health-1366.png');
    await page.keyboard.press('Escape');
    await page.getByTestId('fleet-grid').waitFor();
    expect(await devicePage.count()).toBe(0);

    const open = page.getByRole('button', { name: `Open ${demoDevices[2]}`, exact: true });
    await tabTo(open);
    await page.keyboard.press('Enter');
    await devicePage.waitFor();
    // Back in the app, not the browser's Back: the page stays where it is.
    const address = page.url();
    await page.keyboard.press('Alt+ArrowLeft');
    await page.getByTestId('fleet-grid').waitFor();
    expect(page.url()).toBe(address);
  });

  it('Deploy: says plainly why the demo devices cannot be deployed to, and what to do instead', async () => {
    await page.keyboard.press('Alt+3');
    const notice = page.getByTestId('demo-deploy-notice');
    await notice.waitFor();
    const text = await notice.textContent();
    expect(text).toContain('Deploy cannot be tried on the demo devices');
    expect(text).toContain('demo-pi-01, demo-pi-02 and demo-pi-03 are agents running as plain processes on this computer');
    expect(text).toContain('npm run bundle:agent');
    expect(text).toContain('Add device → SSH');
    for (const name of demoDevices) expect(await page.locator(`[data-testid="device-choice"][data-device="${name}"]`).getAttribute('data-disabled')).not.toBeNull();
    // Deploying anyway (the API, as the CLI would) is refused with the same reason, before a job exists.
    const { devices } = await app.services.handlers['devices.list']({});
    const refused = await dispatch(app.services.handlers, 'deploy.start', { bundlePath: '/nonexistent.tar', deviceIds: devices.map((d) => d.id) });
    expect(refused).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'deviceIds' } });
    await shoot('keyboard-deploy-demo-1366.png');
  });

  it('Jobs: the list opens from the bar by keyboard and Escape leaves it, focus back on the bar', async () => {
    await page.keyboard.press('Alt+1');
    await page.getByRole('button', { name: 'Read image' }).waitFor();
    const toggle = page.getByTestId('jobs-toggle');
    await tabTo(toggle, 80);
    await expectVisibleFocus(toggle);
    await page.keyboard.press('Enter');
    const drawer = page.getByTestId('jobs-drawer');
    await drawer.waitFor();
    expect(await drawer.locator('[data-job-id]').count()).toBeGreaterThan(0);
    await shoot('keyboard-jobs-open-1366.png');
    await page.keyboard.press('Escape');
    await drawer.waitFor({ state: 'detached' });
    expect(await focused(toggle)).toBe(true);
  });

  it('raised no page errors and no CSP violations', () => {
    expect(pageErrors).toEqual([]);
  });
});
