/**
 * The Deploy screen's bundle step in Chromium at a laptop's 1366×768: a mistyped path says
 * the file is not there (never "altered"), a folder says it is no bundle, only a tampered
 * bundle raises the red altered badge; and pressing Deploy before any bundle was read says
 * so, after which Read still reads.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAppInBrowser, type AppInBrowser } from '../support/appInBrowser.ts';
import { modelBundles } from '../support/modelBundles.ts';
import { makeTempDir } from '../support/tempDir.ts';

const dir = makeTempDir('fieldkit-deploy-bundle-e2e-');
let app: AppInBrowser;
let page: Page;
let good = '';
let tampered = '';

beforeAll(async () => {
  const bundles = modelBundles(dir.path);
  good = await bundles.build('people-detector-1.0.0');
  tampered = await bundles.tamper(good, 'model.bin', 'people-detector-tampered.tar', 'w');
  mkdirSync(path.join(dir.path, 'downloads'));
  app = await openAppInBrowser();
  page = app.page;
  await page.setViewportSize({ width: 1366, height: 768 });
  await app.services.handlers['trust.import']({ publicKey: bundles.publicKey, label: 'model publisher' });
  await page.getByRole('tab', { name: /Deploy/ }).click();
  await page.getByRole('heading', { name: 'Deploy', level: 1 }).waitFor();
}, 120_000);

afterAll(async () => {
  await app.close();
  dir.remove();
});

async function read(target: string): Promise<void> {
  await page.getByLabel('Bundle file').fill(target);
  await page.getByRole('button', { name: 'Read', exact: true }).click();
  await page.getByTestId('bundle-summary').filter({ hasText: target }).waitFor({ timeout: 10_000 });
}

const card = () => page.getByTestId('bundle-summary');

describe('Deploy screen: reading a bundle path in Chromium', () => {
  it('says Deploy needs a bundle first, and Read still reads afterwards', async () => {
    // The path typed, Deploy pressed before Read: the form says what is missing…
    await page.getByLabel('Bundle file').fill(good);
    await page.getByTestId('start-rollout').click();
    await page.getByText('Read a bundle first: type its path and press Read.').waitFor();
    await page.screenshot({ path: app.shot('deploy-bundle-none.png') });
    // …and Read, pressed without touching the path, reads it.
    await page.getByRole('button', { name: 'Read', exact: true }).click();
    await card().filter({ hasText: good }).waitFor({ timeout: 10_000 });
    expect(await card().getByTestId('bundle-signature').getAttribute('data-status')).toBe('trusted');
    // Reading a bundle answers the Deploy error: it goes.
    expect(await page.getByText('Read a bundle first').count()).toBe(0);
  });

  it('a path with nothing at it says the file is not there, not that the bundle was altered', async () => {
    const missing = path.join(dir.path, 'downloads', 'fieldkit-agent-1.3.0-linux-arm64.tar');
    await read(missing);
    const text = (await card().textContent()) ?? '';
    expect(await card().getByTestId('bundle-signature').getAttribute('data-status')).toBe('unread');
    expect(text).toContain('File not found');
    expect(text).toContain(`There is no file at ${missing}.`);
    expect(text).not.toMatch(/altered|Signature or files do not match|edge agent/);
    await page.screenshot({ path: app.shot('deploy-bundle-missing.png') });

    // Deploy now (the path read as nothing) and Read again: the form still answers.
    await page.getByTestId('start-rollout').click();
    await page.getByText('This bundle cannot be deployed (see why above).').waitFor();
    await read(path.join(dir.path, 'downloads'));
    expect(await card().textContent()).toMatch(/Not a signed bundle.*is a folder without manifest\.json/);
    expect(await card().textContent()).not.toMatch(/altered/);
  });

  it('only a tampered bundle shows the red altered badge', async () => {
    await read(tampered);
    const badge = card().getByTestId('bundle-signature');
    expect(await badge.getAttribute('data-status')).toBe('invalid');
    expect(await badge.textContent()).toContain('the bundle was altered');
    expect(await card().textContent()).toContain('model.bin (SHA-256 differs');
    await card().scrollIntoViewIfNeeded();
    await page.screenshot({ path: app.shot('deploy-bundle-tampered.png') });
    expect(app.pageErrors).toEqual([]);
  });

  it('keeps the bundle read through a visit to Settings, and reads it again on return', async () => {
    await read(good);
    expect(await card().getByTestId('bundle-signature').getAttribute('data-status')).toBe('trusted');
    await page.keyboard.press('Alt+6');
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    // Meanwhile the publisher's key is revoked (as from the Settings screen or the CLI).
    const [key] = (await app.services.handlers['trust.list']({})).keys;
    await app.services.handlers['trust.revoke']({ keyId: key?.keyId ?? '?', reason: 'leaked' });
    await page.keyboard.press('Alt+3');
    // Still there as left, path and card…
    expect(await page.getByLabel('Bundle file').inputValue()).toBe(good);
    await card().filter({ hasText: good }).waitFor({ timeout: 1000 });
    // …and read again: the revoked key shows.
    await expect.poll(() => card().getByTestId('bundle-signature').getAttribute('data-status'), { timeout: 10_000 }).toBe('revoked');
    await card().scrollIntoViewIfNeeded();
    await page.screenshot({ path: app.shot('deploy-bundle-remembered.png') });
    expect(app.pageErrors).toEqual([]);
  });
});
