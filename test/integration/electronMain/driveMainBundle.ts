/**
 * Runs the bundled Electron main process (argv[2]: dist-like folder holding main.js) in
 * plain Node against fakeElectron.ts, plays Electron's part, and prints one JSON report
 * of what main configured and how it answered. Run in its own process by the test
 * (the 'electron' import is redirected with a module hook, which is per process).
 */
import { registerHooks } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
// Imported by the same URL the hook below hands to main.js, so both share one instance.
import { app, BrowserWindow, ipcMain, preventableEvent, session } from './fakeElectron.ts';

const fakeElectronUrl = new URL('./fakeElectron.ts', import.meta.url).href;
registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === 'electron') return { url: fakeElectronUrl, shortCircuit: true };
    return nextResolve(specifier, context);
  },
});

const [bundleDir = '', dataDir = ''] = process.argv.slice(2);
process.env.FIELDKIT_DATA_DIR = dataDir;
delete process.env.VITE_DEV_SERVER_URL;

await import(pathToFileURL(path.join(bundleDir, 'main.js')).href);
const beforeReady = { userData: app.getPath('userData'), sandboxEnabled: app.sandboxEnabled, lockRequested: app.lockRequested };

app.becomeReady();
const window = await BrowserWindow.firstCreated.promise;
const contents = window.webContents;
const ses = session.defaultSession;

/** Calls a webRequest listener the way Electron does and returns what it answered. */
function callListener(listener: ((...args: never[]) => unknown) | null, details: unknown): unknown {
  let answer: unknown;
  (listener as ((details: unknown, callback: (response: unknown) => void) => void) | null)?.(details, (response) => {
    answer = response;
  });
  return answer;
}

const invoke = ipcMain.handlers.get('fieldkit:invoke') as ((event: unknown, ...args: unknown[]) => Promise<unknown>) | undefined;
const fromMainFrame = { sender: { id: contents.id }, senderFrame: contents.mainFrame };
const fromSubframe = { sender: { id: contents.id }, senderFrame: { url: contents.mainFrame.url, parent: contents.mainFrame } };

function navigate(url: string): boolean {
  const event = preventableEvent({ url, isMainFrame: true });
  contents.emit('will-navigate', event, url);
  return !event.defaultPrevented;
}

function permission(): boolean | undefined {
  let granted: boolean | undefined;
  (ses.permissionRequestHandler as ((wc: unknown, permission: string, callback: (granted: boolean) => void) => void) | null)?.(contents, 'media', (value) => {
    granted = value;
  });
  return granted;
}

const report = {
  beforeReady,
  window: { options: window.options, loadedUrl: window.loadedUrl, shown: window.shown },
  csp: (callListener(ses.onHeadersReceived, { url: window.loadedUrl, responseHeaders: {} }) as { responseHeaders?: unknown } | undefined)?.responseHeaders,
  requests: {
    renderer: callListener(ses.onBeforeRequest, { url: window.loadedUrl }),
    remote: callListener(ses.onBeforeRequest, { url: 'https://cdn.example/lib.js' }),
  },
  permissions: {
    request: permission(),
    check: (ses.permissionCheckHandler as (() => boolean) | null)?.(),
  },
  navigation: {
    toRemote: navigate('https://evil.example/'),
    toOwnPage: navigate(`${window.loadedUrl ?? ''}#/jobs`),
  },
  windowOpen: (contents.windowOpenHandler as ((details: unknown) => unknown) | null)?.({ url: 'https://evil.example/' }),
  ipc: {
    appInfo: await invoke?.(fromMainFrame, 'app.info', {}),
    badRequest: await invoke?.(fromMainFrame, 'jobs.get', { jobId: 7 }),
    fromSubframe: await invoke?.(fromSubframe, 'app.info', {}),
  },
  afterClose: { handlerRegistered: false },
  quit: { requests: 0, exitCode: null as number | null },
};

window.close();
report.afterClose.handlerRegistered = ipcMain.handlers.has('fieldkit:invoke');
app.emit('window-all-closed');
await app.quitted.promise;
report.quit = { requests: app.quitRequests, exitCode: app.exitCode };

process.stdout.write(`\n${JSON.stringify(report)}\n`);
// Electron would exit here; the drive watcher's timer must not keep this process alive.
process.exit(0);
