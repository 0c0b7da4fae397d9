import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServices } from '../../electron/app/appServices.ts';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';
import { startClickHouseServer, type ClickHouseServer } from '../support/clickhouseServer.ts';

const demoDevices = ['demo-pi-01', 'demo-pi-02', 'demo-pi-03'] as const;

/**
 * The newcomer's courier round trip, end to end: the demo site's three real agents (fed by
 * synthetic producers that never stop), a real ClickHouse 18.16, the web host and Chromium.
 * Point Settings at ClickHouse, pull each device, forward, reconcile: complete for each.
 */
describe('Courier screen in Chromium', () => {
  const shots = join(process.cwd(), 'test-results');
  let clickhouse: ClickHouseServer;
  let app: AppInBrowser;
  let services: AppServices;
  let page: Page;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    [clickhouse, app] = await Promise.all([startClickHouseServer(), openAppInBrowser({ demo: true })]);
    ({ services, page, pageErrors } = app);
  });

  afterAll(async () => {
    await app.close();
    await clickhouse.stop();
  });

  const row = (name: string): Locator => page.getByTestId('courier-row').filter({ hasText: name });
  const journalOf = async (name: string) => {
    const { journals } = await services.handlers['courier.status']({});
    const journal = journals.find((j) => j.device_id === name);
    if (journal === undefined) throw new Error(`no journal of ${name} on this laptop`);
    return journal;
  };
  /** What ClickHouse itself holds of a device, merged (FINAL), by the native protocol. */
  const inClickHouse = async (name: string) => {
    const [rows, distinct, min, max] = (await clickhouse.client(`SELECT count(), uniqExact(seq), min(seq), max(seq) FROM default.telemetry FINAL WHERE device_id = '${name}'`)).trim().split('\t').map(Number);
    return { rows, distinct, min, max };
  };
  /** Screenshots show the screen, not the jobs drawer (it opens again at every job start). */
  const shoot = async (file: string): Promise<void> => {
    const hide = page.getByRole('button', { name: 'Hide', exact: true });
    if ((await hide.count()) > 0) await hide.click();
    await page.screenshot({ path: join(shots, file) });
  };
  const reconcileOf = (name: string): Locator => page.locator(`[data-testid="reconcile-status"][data-device-id="${name}"]`);

  it('points Settings at ClickHouse and tests the connection: version, and no dedup tokens on 18.16', async () => {
    await page.getByRole('tab', { name: /Settings/ }).click();
    const section = page.getByTestId('clickhouse-settings');
    await section.waitFor();
    expect(await section.getByTestId('password-state').textContent()).toContain('not set');
    // Nothing listens on the discard port: the test says so, with what to do.
    await section.getByLabel('URL', { exact: true }).fill('http://127.0.0.1:9/');
    await section.getByRole('button', { name: 'Test connection' }).click();
    const failed = section.locator('[data-testid="clickhouse-test-result"][data-ok="false"]');
    await failed.waitFor({ timeout: 20_000 });
    expect(await failed.locator('.error-hint').textContent()).not.toBe('');
    await failed.scrollIntoViewIfNeeded();
    await shoot('settings-clickhouse-unreachable.png');

    await section.getByLabel('URL', { exact: true }).fill(clickhouse.url);
    await section.getByRole('button', { name: 'Save', exact: true }).click();
    await section.getByText('Saved.').waitFor();
    expect((await services.handlers['settings.clickhouse.get']({})).settings?.url).toBe(clickhouse.url);

    await section.getByRole('button', { name: 'Test connection' }).click();
    const result = section.getByTestId('clickhouse-test-result');
    await result.waitFor({ timeout: 20_000 });
    expect(await result.getAttribute('data-ok')).toBe('true');
    expect(await result.getByTestId('clickhouse-version').textContent()).toMatch(/^18\.16\./);
    expect(await result.getByTestId('clickhouse-dedup').textContent()).toMatch(/^not supported/);
    // Write-only: nothing in the form ever holds a password it did not type.
    expect(await section.getByLabel('Password', { exact: true }).inputValue()).toBe('');
    // Tall enough for the whole form and the answer at once.
    await page.setViewportSize({ width: 1280, height: 1150 });
    await section.scrollIntoViewIfNeeded();
    await shoot('settings-clickhouse.png');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('pulls each demo device from its row, with the holdings shown per device', async () => {
    await page.getByRole('tab', { name: /Courier/ }).click();
    await page.getByRole('heading', { name: 'Courier', level: 1 }).waitFor();
    for (const name of demoDevices) await row(name).waitFor();
    expect(await page.getByTestId('courier-row').count()).toBe(3);
    expect(await row('demo-pi-01').textContent()).toContain('not pulled');
    await shoot('courier-before-pull.png');

    for (const name of demoDevices) {
      await row(name).getByRole('button', { name: `Pull ${name}` }).click();
    }
    // Demo journals are small, so a pull may be over before this: whatever the rows show then.
    await page.screenshot({ path: join(shots, 'courier-pulling.png') });
    for (const name of demoDevices) {
      // The row carries the agent's own device id once its journal is held here.
      await expect.poll(() => row(name).getAttribute('data-device-id'), { timeout: 30_000 }).toBe(name);
      await row(name).getByRole('button', { name: `Pull ${name}` }).waitFor({ timeout: 30_000 });
    }
    for (const name of demoDevices) {
      const journal = await journalOf(name);
      expect(journal.held).toBeGreaterThan(0);
      expect(journal.pending_forward).toBe(journal.held);
      await expect.poll(() => row(name).textContent()).toContain(`${journal.contiguous_seq.toLocaleString('en-US')} of ${Math.max(journal.agent_last_seq, journal.contiguous_seq).toLocaleString('en-US')}`);
      expect(await row(name).textContent()).toContain('just now');
    }
    await page.getByTestId('courier-notice').first().waitFor();
    await shoot('courier-pulled.png');
  });

  it('forwards all and reconciles: complete through the pulled seq for each device, and ClickHouse holds exactly what was pulled', async () => {
    const pulled = new Map<string, number>();
    for (const name of demoDevices) pulled.set(name, (await journalOf(name)).contiguous_seq);

    await page.getByRole('button', { name: 'Forward all' }).click();
    const forwarded = page.locator('[data-testid="courier-notice"][data-notice="forward"]');
    await expect.poll(() => forwarded.textContent(), { timeout: 30_000 }).toMatch(/^Forwarded [\d,]+ records to ClickHouse 18\.16/);
    for (const name of demoDevices) {
      await expect.poll(async () => (await journalOf(name)).pending_forward).toBe(0);
      expect(await inClickHouse(name)).toEqual({ rows: pulled.get(name), distinct: pulled.get(name), min: 1, max: pulled.get(name) });
    }

    await page.getByRole('button', { name: 'Reconcile', exact: true }).click();
    for (const name of demoDevices) {
      const status = reconcileOf(name);
      await status.waitFor({ timeout: 20_000 });
      // Everything pulled is in ClickHouse, and the verdict says through which seq and as of
      // which pull. The producers kept writing during the pull: what the device had journaled
      // when the pull ended and was not carried is named as not yet pulled, never called complete.
      const verdict = await status.getAttribute('data-status');
      expect(['complete', 'not_yet_pulled']).toContain(verdict);
      const text = await status.textContent();
      expect(text).toMatch(new RegExp(`complete through seq ${String(pulled.get(name) ?? 0)}(, all the device had when | \\()pulled (just now|\\d+ s ago)`));
      if (verdict === 'not_yet_pulled') expect(text).toMatch(/; not yet pulled: [\d,]+ records?/);
      expect(text).toContain(`ClickHouse has ${(pulled.get(name) ?? 0).toLocaleString('en-US')} distinct`);
      expect(await row(name).getAttribute('data-reconcile')).toBe(verdict);
    }
    expect(await page.getByTestId('quarantine-panel').textContent()).toContain('Nothing refused by ClickHouse.');
    await page.getByTestId('reconcile-panel').scrollIntoViewIfNeeded();
    await shoot('courier-reconciled.png');
  });

  it('after a new pull, names the records held here but not yet forwarded; a forward makes it complete through the new seq', async () => {
    const name = 'demo-pi-01';
    const before = (await journalOf(name)).contiguous_seq;
    await row(name).getByRole('button', { name: `Pull ${name}` }).click();
    await expect.poll(async () => (await journalOf(name)).contiguous_seq, { timeout: 30_000 }).toBeGreaterThan(before);
    await row(name).getByRole('button', { name: `Pull ${name}` }).waitFor({ timeout: 30_000 });
    const after = (await journalOf(name)).contiguous_seq;
    await page.getByTestId('reconcile-panel').getByText('press Reconcile again').waitFor();

    await page.getByRole('button', { name: 'Reconcile', exact: true }).click();
    const status = reconcileOf(name);
    await expect.poll(() => status.getAttribute('data-status')).toBe('missing');
    const gap = status.locator('[data-reason="not_yet_forwarded"]');
    expect(await gap.textContent()).toContain(`seq ${(before + 1).toLocaleString('en-US')}–${after.toLocaleString('en-US')}`);
    expect(await gap.textContent()).toContain('not yet forwarded');
    expect(await row(name).getAttribute('data-reconcile')).toBe('missing');
    await status.scrollIntoViewIfNeeded();
    await shoot('courier-reconcile-gap.png');

    await page.getByRole('button', { name: 'Forward all' }).click();
    await expect.poll(async () => (await journalOf(name)).pending_forward, { timeout: 30_000 }).toBe(0);
    await page.getByRole('button', { name: 'Forward all' }).waitFor({ state: 'visible' });
    await expect.poll(() => page.getByRole('button', { name: 'Forward all' }).isEnabled(), { timeout: 30_000 }).toBe(true);
    await page.getByRole('button', { name: 'Reconcile', exact: true }).click();
    await expect.poll(() => status.getAttribute('data-status'), { timeout: 20_000 }).not.toBe('missing');
    expect(await status.getByTestId('reconcile-verdict').textContent()).toMatch(new RegExp(`^complete through seq ${String(after)}[ ,]`));
    expect(await inClickHouse(name)).toEqual({ rows: after, distinct: after, min: 1, max: after });
  });

  it('keeps its verdicts and notices through a visit to Settings, and asks ClickHouse again on return', async () => {
    const name = 'demo-pi-01';
    const status = reconcileOf(name);
    expect(await status.getAttribute('data-status')).not.toBe('missing');
    const forwardNotice = await page.locator('[data-testid="courier-notice"][data-notice="forward"]').textContent();
    await page.keyboard.press('Alt+6');
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    // While the screen is away, a pull (as from the CLI) brings records ClickHouse does not have yet.
    const before = (await journalOf(name)).contiguous_seq;
    const device = (await services.handlers['devices.list']({})).devices.find((d) => d.name === name);
    await services.handlers['courier.pull']({ id: device?.id ?? '?' });
    await expect.poll(async () => (await journalOf(name)).contiguous_seq, { timeout: 30_000 }).toBeGreaterThan(before);

    await page.keyboard.press('Alt+4');
    // The verdicts and notices are there at once, as they were left…
    await status.waitFor({ timeout: 1000 });
    for (const other of demoDevices) expect(await reconcileOf(other).count()).toBe(1);
    expect(await page.locator('[data-testid="courier-notice"][data-notice="forward"]').textContent()).toBe(forwardNotice);
    // …and asked for again: the new records are named as not yet forwarded.
    await expect.poll(() => status.getAttribute('data-status'), { timeout: 20_000 }).toBe('missing');
    expect(await status.locator('[data-reason="not_yet_forwarded"]').textContent()).toContain('not yet forwarded');
    await status.scrollIntoViewIfNeeded();
    await shoot('courier-remembered.png');
  });

  it('raised no page errors and no CSP violations', () => {
    expect(pageErrors).toEqual([]);
  });
});
