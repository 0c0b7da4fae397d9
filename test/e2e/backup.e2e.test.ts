import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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

  // What the page showed when a step failed: the first thing to look at.
  afterEach(async (context) => {
    if (context.task.result?.state === 'fail') await page.screenshot({ path: join(shots, `backup-failed-${context.task.name.slice(0, 40).replace(/\W+/g, '-')}.png`) });
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
  });

  it("shows the laptop repositories' recovery keys once, with a warning and a copy button, and never again", async () => {
    const repos = page.getByTestId('backup-repositories');
    await repos.scrollIntoViewIfNeeded();
    await repos.getByRole('button', { name: 'Show recovery keys' }).click();
    const dialog = page.getByTestId('recovery-key-dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('Without these keys the backups cannot be read if this laptop is lost');
    const keys = dialog.getByTestId('recovery-key');
    expect(await keys.count()).toBe(2);
    const shown = await dialog.getByTestId('recovery-key-value').allTextContents();
    expect(shown.every((k) => k.length >= 20)).toBe(true);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(page.url()).origin });
    await keys.first().getByRole('button', { name: /^Copy the recovery key/ }).click();
    await keys.first().getByText('Copied', { exact: true }).waitFor();
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(shown[0]);
    await page.screenshot({ path: join(shots, 'backup-recovery-key.png') });
    // Done stays off until the technician says the keys are stored elsewhere.
    expect(await dialog.getByRole('button', { name: 'Done' }).isDisabled()).toBe(true);
    await dialog.getByText('I have stored these keys').click();
    await dialog.getByRole('button', { name: 'Done' }).click();
    await dialog.waitFor({ state: 'detached' });
    await expect.poll(() => repos.getByRole('button', { name: 'Show recovery keys' }).count()).toBe(0);
    const { settings } = await services.handlers['settings.backup.get']({});
    expect(settings.repositories.filter((r) => r.role === 'laptop').every((r) => r.initialized && r.recoveryKeyShown)).toBe(true);
    // Asked again, the service answers no key.
    expect((await services.handlers['settings.backup.set']({ revealRecoveryKeys: true })).recoveryKeys).toEqual([]);
  });

  it('sets a site drive (its keys shown once), copies to it, and the copies show per class', async () => {
    const repos = page.getByTestId('backup-repositories');
    const siteDrive = join(app.dataDir, '..', 'site-drive');
    mkdirSync(siteDrive);
    await repos.getByLabel('Site drive folder').fill(siteDrive);
    await repos.getByRole('button', { name: 'Save', exact: true }).click();
    const dialog = page.getByTestId('recovery-key-dialog');
    await dialog.waitFor({ timeout: 30_000 });
    expect(await dialog.getByTestId('recovery-key').count()).toBe(2);
    await dialog.getByText('I have stored these keys').click();
    await dialog.getByRole('button', { name: 'Done' }).click();
    // On the laptop's own disk: said beside the settings.
    await expect.poll(() => repos.textContent()).toContain('not a second medium');
    await repos.getByRole('button', { name: 'Copy to the site drive' }).click();
    await expect.poll(() => notice('backup.copy').textContent(), { timeout: 60_000 }).toMatch(/^Copied 12 snapshots to the site drive\./);
    for (const name of demoDevices) {
      for (const c of classes) await expect.poll(() => cell(name, c).textContent()).toContain('on laptop, site drive');
    }
    await page.getByRole('heading', { name: 'Backups', level: 1 }).scrollIntoViewIfNeeded();
    await shoot('backup-copied.png');
  });

  it('verifies: every repository restorable, and each snapshot says what its sample restore proved', async () => {
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    await expect.poll(() => notice('backup.verify').textContent(), { timeout: 120_000 }).toMatch(/^Verified 4 repositories: \d+ snapshots restored and matching\./);
    const detail = page.locator('[data-testid="device-backups"][data-device-name="demo-pi-01"]');
    const state = detail.locator('[data-testid="snapshot-row"][data-class="state"]');
    await expect.poll(() => state.textContent(), { timeout: 20_000 }).toMatch(/✓ \d+ files? restored and matched, \d+ databases? intact/);
    await shoot('backup-verified.png');
  }, 180_000);

  it('previews retention (keep / remove per device and class), then applies it as a job after a second question', async () => {
    // Keep only the newest snapshot per device and class, then back up one device again: its
    // first snapshots are what retention removes.
    const keepOne = { keepLast: 1, keepHourly: 0, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 };
    await services.handlers['settings.backup.set']({ policies: { config: { retention: keepOne }, state: { retention: keepOne }, data: { retention: keepOne }, secrets: { retention: keepOne } } });
    await row('demo-pi-02').getByRole('button', { name: 'Back up demo-pi-02' }).click();
    // The demo agents keep ingesting, so state has changed; config, data and secrets have not and are
    // confirmed unchanged without a new snapshot. Each new snapshot makes one old one removable.
    // The first backup's line ("Backed up 12 classes") is still up: wait for this one's (1 to 4 classes).
    await expect.poll(() => notice('backup.run').textContent(), { timeout: 120_000 }).toMatch(/^Backed up [1-4] class(es)? \(/);
    const line = (await notice('backup.run').textContent()) ?? '';
    const fresh = Number(/^Backed up ([1-4]) class/.exec(line)?.[1]);
    expect(fresh).toBeGreaterThanOrEqual(1);
    if (fresh < 4) expect(line).toMatch(new RegExp(`; ${String(4 - fresh)} class(es)? unchanged since the last snapshot, confirmed\\.`));
    const snapshots = (n: number) => `${String(n)} snapshot${n === 1 ? '' : 's'}`;

    await page.getByRole('button', { name: 'Retention…' }).click();
    const preview = page.getByTestId('retention-preview');
    // Another restic run on the repository (a job still ending) makes the preview refuse as locked; the
    // dialog says so and offers to ask again, as a technician would.
    const total = preview.getByTestId('retention-total');
    const again = preview.getByRole('button', { name: 'Ask again' });
    await total.or(again).waitFor({ timeout: 60_000 });
    if ((await again.count()) > 0) {
      expect(await preview.locator('.error-message').textContent()).toContain('is locked by another restic run');
      await again.click();
    }
    await total.waitFor({ timeout: 60_000 });
    expect(await preview.getByTestId('retention-total').textContent()).toBe(`The rules would remove ${snapshots(fresh)} and keep 12 snapshots.`);
    const pi2state = preview.locator('[data-testid="retention-group"][data-class="state"]').filter({ hasText: 'demo-pi-02' });
    expect(await pi2state.getByTestId('retention-keep').count()).toBe(1);
    expect(await pi2state.getByTestId('retention-remove').count()).toBe(1);
    expect(await pi2state.textContent()).toContain('last 1');
    await page.screenshot({ path: join(shots, 'backup-retention.png') });

    await preview.getByRole('button', { name: 'Apply…' }).click();
    const confirm = page.getByTestId('retention-confirm');
    await confirm.waitFor();
    expect(await confirm.textContent()).toContain(`Remove ${snapshots(fresh)} for good?`);
    await confirm.getByRole('button', { name: `Remove ${snapshots(fresh)}` }).click();
    await expect.poll(() => notice('backup.forget').textContent(), { timeout: 120_000 }).toMatch(new RegExp(`^Retention applied: ${snapshots(fresh)} removed\\.`));
    expect(pageErrors).toEqual([]);
  }, 240_000);

  it('edits each class\'s window, retention and added paths in Policies…: bad values said beside their fields and nothing saved, then saved through the API', async () => {
    const before = (await services.handlers['settings.backup.get']({})).settings.policies;
    await page.getByRole('button', { name: 'Policies…' }).click();
    const dialog = page.getByTestId('backup-policies');
    await dialog.waitFor();
    expect(await dialog.getByRole('textbox', { name: 'State window in days' }).inputValue()).toBe(String(before.state.freshnessDays));

    await dialog.getByRole('textbox', { name: 'State window in days' }).fill('0');
    await dialog.getByRole('textbox', { name: 'Data keep daily' }).fill('seven');
    await dialog.getByRole('textbox', { name: 'Data: paths added on each device' }).fill('/srv/app-data\nrelative/dir');
    await dialog.getByRole('button', { name: 'Save policies' }).click();
    expect(await dialog.getByTestId('policies-invalid').textContent()).toBe('3 fields need another value (said beside each); nothing was saved.');
    expect(await dialog.locator('[data-testid="policy-row"][data-class="state"] .field-error').textContent()).toBe('Whole days, 1 to 3650.');
    expect(await dialog.locator('[data-testid="policy-row"][data-class="data"] .field-error').textContent()).toBe('A whole number, 0 to 10000.');
    expect(await dialog.getByText('A path on the device starts with /: “relative/dir”.').count()).toBe(1);
    await page.screenshot({ path: join(shots, 'backup-policies-invalid.png') });
    expect((await services.handlers['settings.backup.get']({})).settings.policies).toEqual(before);

    await dialog.getByRole('textbox', { name: 'State window in days' }).fill('3');
    await dialog.getByRole('textbox', { name: 'Data keep daily' }).fill('5');
    await dialog.getByRole('textbox', { name: 'Data: paths added on each device' }).fill('/srv/app-data\n/srv/models-cache\n');
    await page.screenshot({ path: join(shots, 'backup-policies.png') });
    await dialog.getByRole('button', { name: 'Save policies' }).click();
    await dialog.waitFor({ state: 'detached' });
    const after = (await services.handlers['settings.backup.get']({})).settings.policies;
    expect(after.state.freshnessDays).toBe(3);
    expect(after.data.retention).toEqual({ ...before.data.retention, keepDaily: 5 });
    expect(after.data.extraPaths).toEqual(['/srv/app-data', '/srv/models-cache']);
    expect(after.config).toEqual(before.config);
    // The screen judges freshness by the saved window at once.
    await expect.poll(() => page.locator('.backup-how').textContent()).toContain('State 3 d');
    expect(pageErrors).toEqual([]);
  });

  it('pulls and backs up in one go from the Courier screen, per device and for Pull all: each line says both parts', async () => {
    await page.getByRole('tab', { name: /Courier/ }).click();
    await page.getByRole('heading', { name: 'Courier', level: 1 }).waitFor();
    const courierRow = (name: string): Locator => page.getByTestId('courier-row').filter({ hasText: name });
    await courierRow('demo-pi-01').waitFor({ timeout: 20_000 });
    const backupsBefore = (await services.handlers['jobs.list']({})).jobs.filter((j) => j.kind === 'backup.run').length;
    await page.getByTestId('pull-then-backup').click();
    expect(await page.getByRole('switch', { name: 'Back up after pulling' }).isChecked()).toBe(true);

    await courierRow('demo-pi-01').getByRole('button', { name: 'Pull demo-pi-01' }).click();
    const line = page.locator('[data-testid="courier-notice"]').filter({ hasText: 'demo-pi-01: pulled' });
    await expect.poll(() => line.textContent(), { timeout: 120_000 }).toMatch(/^demo-pi-01: pulled .*; held here through seq [\d,]+\. Backed up [0-4] class(es)? \(.* added\)/);
    expect(await line.getAttribute('class')).toContain('is-ok');
    const backups = (await services.handlers['jobs.list']({})).jobs.filter((j) => j.kind === 'backup.run');
    expect(backups.length).toBe(backupsBefore + 1);
    expect(backups[0]?.state).toBe('done');
    await page.screenshot({ path: join(shots, 'courier-pull-backup.png') });

    await page.getByRole('button', { name: 'Pull all', exact: true }).click();
    const visit = page.locator('[data-testid="courier-notice"][data-notice="visit"]');
    await expect.poll(() => visit.textContent(), { timeout: 180_000 }).toMatch(/^Visited .*: 3 of 3 devices pulled.* Backed up [0-9]+ class(es)? \(.* added\)/);
    const visitBackup = (await services.handlers['jobs.list']({})).jobs.find((j) => j.kind === 'backup.run');
    expect(visitBackup?.title).toBe('Back up 3 devices (config, state, data, secrets)');
    await page.screenshot({ path: join(shots, 'courier-visit-backup.png') });
    expect(pageErrors).toEqual([]);
  }, 360_000);
});
