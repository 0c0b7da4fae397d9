/**
 * The Deploy screen in Chromium against three virtual Pis running the base agent: read a
 * signed bundle, pick the devices and batches, watch the rollout complete; then a crashing
 * bundle: the canary rolls back, the rollout stops before batch 2 and says why, the
 * canary's transcript shows every command, and Resume is offered.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppServices } from '../../electron/app/appServices.ts';
import { rendererDir } from '../../electron/app/appPaths.ts';
import { startWebHost, type WebHost } from '../../electron/kernel/host/webHost.ts';
import { launchChromium } from '../support/browser.ts';
import { startRolloutSite, type RolloutSite } from '../support/rolloutSite.ts';

const shots = join(process.cwd(), 'test-results');
let rig: RolloutSite;
let services: AppServices;
let host: WebHost;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
let v2 = '';
let crashing = '';

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  [rig, browser] = await Promise.all([startRolloutSite({ count: 3, name: 'ui' }), launchChromium()]);
  [v2, crashing] = await Promise.all([rig.bundles.variant('0.2.0-ui'), rig.bundles.variant('0.3.0-crash', { crash: true })]);
  services = await rig.open();
  host = await startWebHost({ handlers: services.handlers, events: services.events, staticDir: rendererDir() });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(host.url);
  await page.getByRole('tab', { name: /Deploy/ }).click();
  await page.getByRole('heading', { name: 'Deploy', level: 1 }).waitFor();
}, 240_000);

afterAll(async () => {
  await browser.close();
  await host.close();
  await services.close();
  await rig.stop();
});

async function readBundle(path: string): Promise<void> {
  await page.getByLabel('Bundle file').fill(path);
  await page.getByRole('button', { name: 'Read', exact: true }).click();
  await page.getByTestId('bundle-summary').filter({ hasText: path }).waitFor();
}

const deviceRow = (name: string) => page.getByTestId('rollout-device').filter({ hasText: name });

describe('Deploy screen in Chromium', () => {
  it('reads a bundle, rolls it out to three Pis with a canary first, and shows each updated', async () => {
    await readBundle(v2);
    const summary = page.getByTestId('bundle-summary');
    expect(await summary.getByTestId('bundle-signature').getAttribute('data-status')).toBe('trusted');
    expect(await summary.textContent()).toContain('Signed by rollout test key');
    expect(await summary.textContent()).toContain('fieldkit-agent 0.2.0-ui');
    expect(await summary.textContent()).toContain('x64');

    // A bad batch size is refused in the window, with what to type.
    await page.getByRole('button', { name: 'Pick all' }).click();
    await page.getByLabel('Batch sizes').fill('1, 0');
    await page.getByTestId('start-rollout').click();
    await page.getByText('"0" is not a batch size').waitFor();
    await page.getByLabel('Batch sizes').fill('1, 50%');
    expect(await page.getByText('"0" is not a batch size').count()).toBe(0);
    expect(await page.getByText('2 batches: 1 + 2 devices (canary 1 first)').count()).toBe(1);
    await page.getByLabel('Healthy after (seconds)').fill('2');
    await page.getByTestId('bundle-summary').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(shots, 'deploy-new.png') });
    await page.getByTestId('start-rollout').click();

    await page.locator('[data-testid="rollout-detail"][data-state="completed"]').waitFor({ timeout: 90_000 });
    expect(await page.getByTestId('rollout-state').first().textContent()).toBe('completed');
    for (const name of ['ui-1', 'ui-2', 'ui-3']) expect(await deviceRow(name).getAttribute('data-status')).toBe('updated');
    const batches = page.getByTestId('rollout-batch');
    expect(await batches.count()).toBe(2);
    expect(await batches.first().textContent()).toContain('Batch 1 · canary');
    for (const pi of rig.site.pis) expect((await rig.state(pi)).hello).toBe('0.2.0-ui');
    // The devices now say what they run (the rollout recorded it and devices.changed went out).
    await expect.poll(() => page.getByTestId('device-choice').filter({ hasText: 'ui-3' }).textContent()).toContain('agent 0.2.0-ui');
  });

  it('stops after a crashing canary: the reason, the failed gate and the transcript are shown, and Resume is offered', async () => {
    await readBundle(crashing);
    await page.getByTestId('start-rollout').click();
    await page.getByTestId('stop-reason').waitFor({ timeout: 90_000 });
    expect(await page.getByTestId('stop-reason').textContent()).toContain('batch 1 (the canary)');
    expect(await deviceRow('ui-1').getAttribute('data-status')).toBe('rolled-back');
    expect(await deviceRow('ui-2').getAttribute('data-status')).toBe('skipped');
    expect(await deviceRow('ui-3').getAttribute('data-status')).toBe('skipped');
    const why = deviceRow('ui-1').getByTestId('device-why');
    expect(await why.textContent()).toMatch(/Health gate failed: /);
    await page.screenshot({ path: join(shots, 'deploy.png') });

    await deviceRow('ui-1').getByRole('button', { name: 'Transcript of ui-1' }).click();
    expect(await deviceRow('ui-2').getByRole('button').count()).toBe(0); // never started: nothing to show
    const transcript = page.getByTestId('transcript');
    await transcript.waitFor();
    expect(await transcript.textContent()).toMatch(/rollback/i);
    expect(await transcript.locator('.transcript-exit').count()).toBeGreaterThan(5);
    await page.getByTestId('resume-rollout').waitFor();
    expect(await page.getByTestId('resume-rollout-row').count()).toBe(1);
    await page.screenshot({ path: join(shots, 'deploy-transcript.png') });
    for (const pi of rig.site.pis) expect((await rig.state(pi)).hello).toBe('0.2.0-ui');
    expect(pageErrors).toEqual([]);
  });
});
