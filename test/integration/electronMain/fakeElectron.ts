/**
 * A stand-in for the 'electron' module, just large enough to run the bundled main process
 * (dist/electron/main.js) in plain Node, because Electron's binary cannot run here. It
 * records what main.ts configures and lets the driver play Electron's part (ready, a
 * renderer's IPC call, quitting). Only the members main.ts uses exist.
 */
import { EventEmitter } from 'node:events';

type Handler = (...args: never[]) => unknown;

export type PreventableEvent = { defaultPrevented: boolean; preventDefault(): void };

export function preventableEvent<T extends object>(fields: T): T & PreventableEvent {
  return {
    ...fields,
    defaultPrevented: false,
    preventDefault() {
      this.defaultPrevented = true;
    },
  };
}

let nextWebContentsId = 1;

export class FakeWebContents extends EventEmitter {
  readonly id = nextWebContentsId++;
  readonly mainFrame = { url: '', parent: null };
  readonly sent: Array<{ channel: string; args: unknown[] }> = [];
  windowOpenHandler: Handler | null = null;
  destroyed = false;
  isDestroyed(): boolean {
    return this.destroyed;
  }
  send(channel: string, ...args: unknown[]): void {
    if (this.destroyed) throw new Error('Object has been destroyed');
    this.sent.push({ channel, args: structuredClone(args) });
  }
  setWindowOpenHandler(handler: Handler): void {
    this.windowOpenHandler = handler;
  }
}

class FakeApp extends EventEmitter {
  isPackaged = false;
  readonly paths = new Map<string, string>([['userData', '/nonexistent/electron-default-user-data']]);
  sandboxEnabled = false;
  lockRequested = false;
  quitRequests = 0;
  exitCode: number | null = null;
  private readonly readiness = Promise.withResolvers<undefined>();
  /** Settles when a quit is no longer prevented (what Electron would then do: exit). */
  readonly quitted = Promise.withResolvers<undefined>();

  setPath(name: string, value: string): void {
    this.paths.set(name, value);
  }
  getPath(name: string): string {
    const value = this.paths.get(name);
    if (value === undefined) throw new Error(`fake electron: no path '${name}'`);
    return value;
  }
  getVersion(): string {
    return '0.1.0-fake';
  }
  requestSingleInstanceLock(): boolean {
    this.lockRequested = true;
    return true;
  }
  enableSandbox(): void {
    this.sandboxEnabled = true;
  }
  whenReady(): Promise<undefined> {
    return this.readiness.promise;
  }
  /** Driver: Electron finished starting. */
  becomeReady(): void {
    this.emit('ready');
    this.readiness.resolve(undefined);
  }
  quit(): void {
    this.quitRequests += 1;
    const event = preventableEvent({});
    this.emit('will-quit', event);
    if (!event.defaultPrevented) this.quitted.resolve(undefined);
  }
  exit(code: number): void {
    this.exitCode = code;
    this.quitted.resolve(undefined);
  }
}

export const app = new FakeApp();

export class BrowserWindow extends EventEmitter {
  static readonly created: BrowserWindow[] = [];
  static readonly firstCreated = Promise.withResolvers<BrowserWindow>();
  readonly options: { webPreferences?: Record<string, unknown> } & Record<string, unknown>;
  readonly webContents = new FakeWebContents();
  loadedUrl: string | null = null;
  shown = false;

  constructor(options: BrowserWindow['options']) {
    super();
    this.options = options;
    app.emit('web-contents-created', preventableEvent({}), this.webContents);
    BrowserWindow.created.push(this);
    BrowserWindow.firstCreated.resolve(this);
  }
  loadURL(url: string): Promise<void> {
    this.loadedUrl = url;
    this.webContents.mainFrame.url = url;
    this.emit('ready-to-show');
    return Promise.resolve();
  }
  show(): void {
    this.shown = true;
  }
  isMinimized(): boolean {
    return false;
  }
  restore(): void {}
  focus(): void {}
  /** Driver: the user closed the window. */
  close(): void {
    this.webContents.destroyed = true;
    this.emit('closed');
  }
}

export const ipcMain = {
  handlers: new Map<string, Handler>(),
  handle(channel: string, handler: Handler): void {
    if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, handler);
  },
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  },
};

export const session = {
  defaultSession: {
    onHeadersReceived: null as Handler | null,
    onBeforeRequest: null as Handler | null,
    permissionRequestHandler: null as Handler | null,
    permissionCheckHandler: null as Handler | null,
    devicePermissionHandler: null as Handler | null,
    webRequest: {
      onHeadersReceived(listener: Handler): void {
        session.defaultSession.onHeadersReceived = listener;
      },
      onBeforeRequest(listener: Handler): void {
        session.defaultSession.onBeforeRequest = listener;
      },
    },
    setPermissionRequestHandler(handler: Handler): void {
      this.permissionRequestHandler = handler;
    },
    setPermissionCheckHandler(handler: Handler): void {
      this.permissionCheckHandler = handler;
    },
    setDevicePermissionHandler(handler: Handler): void {
      this.devicePermissionHandler = handler;
    },
  },
};

export const dialog = {
  errorBoxes: [] as Array<{ title: string; content: string }>,
  showErrorBox(title: string, content: string): void {
    this.errorBoxes.push({ title, content });
  },
};

/** No OS keychain here, as on a Linux box without libsecret: main.ts falls back to the 0600 file. */
export const safeStorage = {
  isEncryptionAvailable: (): boolean => false,
  encryptString: (plainText: string): Buffer => Buffer.from(plainText, 'utf8'),
  decryptString: (encrypted: Buffer): string => encrypted.toString('utf8'),
};
