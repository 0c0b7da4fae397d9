/**
 * The Electron main process: a thin shell. It owns the window and its security settings,
 * starts the laptop services and connects them to the window over IPC. Everything it
 * wires together is plain Node below electron/ (tested without Electron); this file and
 * preload.ts are the only ones that import 'electron'.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, safeStorage, session } from 'electron';
import { createAppServices, type AppServices } from './app/appServices.ts';
import { bindIpcMain } from './kernel/ipc/ipcMainBinding.ts';
import { createEncryptedSecretStore } from './kernel/secrets/secretStore.ts';
import { contentSecurityPolicy, isAllowedRendererRequest, isOwnRendererUrl } from './kernel/ipc/rendererPolicy.ts';

// Bundled as dist/electron/main.js, beside preload.cjs and jobWorker.js; the renderer is
// built to dist/renderer.
const bundleDir = import.meta.dirname;
const rendererDir = path.join(bundleDir, '..', 'renderer');
// The dev server is only ever trusted when running from sources, never in a packaged app.
const devServerUrl = app.isPackaged ? undefined : process.env.VITE_DEV_SERVER_URL;
const rendererUrl = devServerUrl ?? pathToFileURL(path.join(rendererDir, 'index.html')).href;

// A separate data folder (tests, a second site profile) is a separate instance: setting
// userData before taking the lock keys the lock and Chromium's own storage to it too.
const dataDirOverride = process.env.FIELDKIT_DATA_DIR;
if (dataDirOverride !== undefined && dataDirOverride !== '') app.setPath('userData', path.resolve(dataDirOverride));

if (app.requestSingleInstanceLock()) {
  startShell();
} else {
  // Another fieldkit owns this data folder; it will raise its window (second-instance).
  app.quit();
}

function startShell(): void {
  app.enableSandbox();
  let mainWindow: BrowserWindow | null = null;
  let services: Promise<AppServices> | null = null;

  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-navigate', (event) => {
      if (!isOwnRendererUrl(event.url, rendererUrl)) event.preventDefault();
    });
    contents.on('will-frame-navigate', (event) => {
      if (!event.isMainFrame) event.preventDefault();
    });
    contents.on('will-attach-webview', (event) => {
      event.preventDefault();
    });
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });

  app.on('second-instance', () => {
    if (mainWindow === null) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });

  app
    .whenReady()
    .then(async () => {
      secureSession();
      // The ClickHouse password under the OS keychain's key where there is one; else the 0600 file.
      const secretStore = createEncryptedSecretStore(app.getPath('userData'), safeStorage);
      services = createAppServices({
        dataDir: app.getPath('userData'),
        ...(secretStore ? { secretStore } : {}),
        version: app.getVersion(),
        // Jobs run in a forked worker; ELECTRON_RUN_AS_NODE makes the Electron binary a plain Node.
        worker: { execPath: process.execPath, script: path.join(bundleDir, 'jobWorker.js'), env: { ELECTRON_RUN_AS_NODE: '1' } },
        watchDrives: true,
        // First run with no Pis registered: a demo site so the app shows something real.
        demo: process.env.FIELDKIT_DEMO === '0' ? false : 'auto',
      });
      const ready = await services;
      mainWindow = openMainWindow(ready, () => {
        mainWindow = null;
      });
      app.on('activate', () => {
        // macOS: clicking the dock icon with no window open brings one back.
        mainWindow ??= openMainWindow(ready, () => {
          mainWindow = null;
        });
      });
    })
    .catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      dialog.showErrorBox(
        'fieldkit could not start',
        `${message}\n\nData folder: ${app.getPath('userData')}\nIf another fieldkit is running, close it; otherwise send this message to the fieldkit team.`,
      );
      app.exit(1);
    });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });

  // Services hold the store and running jobs (cancelled, so nothing is left half-done);
  // hold the quit until they have closed, then quit again.
  let closing: Promise<void> | null = null;
  let closed = false;
  app.on('will-quit', (event) => {
    if (closed || services === null) return;
    event.preventDefault();
    closing ??= services
      .then((ready) => ready.close())
      .catch((error: unknown) => {
        console.error('fieldkit: closing services failed', error);
      })
      .finally(() => {
        closed = true;
        app.quit();
      });
  });
}

/** Default-session rules: CSP on every response, no remote content, no permissions. */
function secureSession(): void {
  const ses = session.defaultSession;
  const policy = contentSecurityPolicy(devServerUrl);
  ses.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [policy] } });
  });
  ses.webRequest.onBeforeRequest((details, callback) => {
    callback({ cancel: !isAllowedRendererRequest(details.url, { rendererUrl, rendererDir }) });
  });
  ses.setPermissionRequestHandler((_contents, _permission, callback) => {
    callback(false);
  });
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
}

function openMainWindow(services: AppServices, onClosed: () => void): BrowserWindow {
  const window = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 900,
    minHeight: 600,
    title: 'fieldkit',
    show: false,
    webPreferences: {
      preload: path.join(bundleDir, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  const unbind = bindIpcMain({
    ipcMain,
    webContents: window.webContents,
    rendererUrl,
    handlers: services.handlers,
    events: services.events,
    onRefused: (reason) => {
      console.warn(`fieldkit: refused an API call: ${reason}`);
    },
  });
  window.once('ready-to-show', () => {
    window.show();
  });
  window.on('closed', () => {
    unbind();
    onClosed();
  });
  window.loadURL(rendererUrl).catch((error: unknown) => {
    // Usually a missing renderer build when started by hand; `npm start` builds it first.
    console.error(`fieldkit: could not load ${rendererUrl} (run \`npm run build\`?)`, error);
  });
  return window;
}
