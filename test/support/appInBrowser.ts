/**
 * The app as a technician meets it in a browser: real services in a fresh data folder,
 * the web host, and a Chromium page opened on the printed URL, collecting page errors
 * (a CSP violation or an uncaught exception shows up there).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createAppServices, type AppServices, type AppServicesOptions } from '../../electron/app/appServices.ts';
import { rendererDir } from '../../electron/app/appPaths.ts';
import { startWebHost, type WebHost } from '../../electron/kernel/host/webHost.ts';
import { launchChromium } from './browser.ts';
import { makeTempDir } from './tempDir.ts';

export type AppInBrowser = {
  services: AppServices;
  host: WebHost;
  browser: Browser;
  page: Page;
  pageErrors: string[];
  dataDir: string;
  /** Where screenshots go (test-results/, gitignored). */
  shot(name: string): string;
  close(): Promise<void>;
};

/** `dataDir`: open an existing data folder (a site set up by the test), which close() leaves in place. */
export async function openAppInBrowser(options: Pick<AppServicesOptions, 'watchDrives' | 'demo'> & { dataDir?: string } = {}): Promise<AppInBrowser> {
  const dir = makeTempDir();
  const shots = join(process.cwd(), 'test-results');
  mkdirSync(shots, { recursive: true });
  const dataDir = options.dataDir ?? join(dir.path, 'data');
  const [browser, services] = await Promise.all([launchChromium(), createAppServices({ dataDir, version: 'e2e', ...options })]);
  const host = await startWebHost({ handlers: services.handlers, events: services.events, staticDir: rendererDir() });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(host.url);
  // "load" can come before React mounted the shell; a shortcut pressed then would be lost.
  await page.locator('html[data-shell="ready"]').waitFor({ state: 'attached', timeout: 30_000 });
  return {
    services,
    host,
    browser,
    page,
    pageErrors,
    dataDir,
    shot: (name) => join(shots, name),
    close: async () => {
      await browser.close();
      await host.close();
      await services.close();
      dir.remove();
    },
  };
}
