/**
 * The Electron main process, as bundled, started in plain Node against a fake 'electron'
 * module (Electron cannot run here): the window is locked down, the session refuses remote
 * content and permissions, and the app API answers over IPC from the real services.
 */
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/tempDir.ts';

const run = promisify(execFile);
const repoRoot = path.join(import.meta.dirname, '..', '..');
const scratch = makeTempDir('fieldkit-main-');
const bundleDir = path.join(scratch.path, 'dist', 'electron');
const dataDir = path.join(scratch.path, 'data');

type Report = {
  beforeReady: { userData: string; sandboxEnabled: boolean; lockRequested: boolean };
  window: { options: { webPreferences: Record<string, unknown> }; loadedUrl: string; shown: boolean };
  csp: Record<string, string[]>;
  requests: { renderer: { cancel: boolean }; remote: { cancel: boolean } };
  permissions: { request: boolean; check: boolean };
  navigation: { toRemote: boolean; toOwnPage: boolean };
  windowOpen: unknown;
  ipc: { appInfo: unknown; badRequest: unknown; fromSubframe: unknown };
  afterClose: { handlerRegistered: boolean };
  quit: { requests: number; exitCode: number | null };
};
let report: Report;

beforeAll(async () => {
  writeFileSync(path.join(scratch.path, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(scratch.path, 'node_modules'), 'dir');
  await run(process.execPath, [path.join(repoRoot, 'build', 'bundle-electron.ts'), '--outdir', bundleDir], { cwd: repoRoot });
  const driver = path.join(import.meta.dirname, 'electronMain', 'driveMainBundle.ts');
  const { stdout } = await run(process.execPath, [driver, bundleDir, dataDir], { cwd: scratch.path });
  report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Report;
});

afterAll(() => {
  scratch.remove();
});

describe('electron/main.ts, bundled', () => {
  it('takes the single-instance lock for the FIELDKIT_DATA_DIR folder, sandboxed', () => {
    expect(report.beforeReady).toEqual({ userData: dataDir, sandboxEnabled: true, lockRequested: true });
  });

  it('opens one locked-down window on the bundled renderer with the bundled preload', () => {
    const prefs = report.window.options.webPreferences;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, preload: path.join(bundleDir, 'preload.cjs') });
    expect(existsSync(prefs.preload as string)).toBe(true);
    expect(report.window.loadedUrl).toBe(new URL('../renderer/index.html', `file://${bundleDir}/`).href);
    expect(report.window.shown).toBe(true);
  });

  it('sends a strict CSP, refuses remote content and every permission', () => {
    const [policy = ''] = report.csp['Content-Security-Policy'] ?? [];
    expect(policy).toContain("script-src 'self';");
    expect(policy).toContain("style-src 'self';");
    expect(policy).not.toContain('unsafe-eval');
    expect(report.requests).toEqual({ renderer: { cancel: false }, remote: { cancel: true } });
    expect(report.permissions).toEqual({ request: false, check: false });
  });

  it('blocks navigation away from the app and every new window', () => {
    expect(report.navigation).toEqual({ toRemote: false, toOwnPage: true });
    expect(report.windowOpen).toEqual({ action: 'deny' });
  });

  it('answers the app API over IPC from the real services, to our main frame only', () => {
    expect(report.ipc.appInfo).toMatchObject({ ok: true, value: { name: 'fieldkit', version: '0.1.0-fake', dataDir } });
    expect(report.ipc.badRequest).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST', field: 'jobId' } });
    expect(report.ipc.fromSubframe).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
  });

  it('unbinds IPC when the window closes and closes the services before quitting', () => {
    expect(report.afterClose.handlerRegistered).toBe(false);
    // The first quit is held until the services have closed, then quit again.
    expect(report.quit).toEqual({ requests: 2, exitCode: null });
  });
});
