/**
 * In-memory stand-ins for the few Electron IPC members the carrier uses (Electron cannot
 * run here). They keep the behaviours the binding relies on: one handler per channel,
 * payloads structured-cloned across the boundary, a rejected invoke when no handler is
 * registered or the handler throws.
 */
import { EventEmitter } from 'node:events';
import type { FrameLike, InvokeEventLike, InvokeListener, IpcMainLike, WebContentsLike } from '../../../electron/kernel/ipc/ipcMainBinding.ts';
import type { IpcRendererLike, IpcRendererListener } from '../../../electron/kernel/ipc/preloadBridge.ts';

export type FakeFrame = { url: string; parent: FakeFrame | null };

export type FakeWebContents = WebContentsLike & {
  mainFrame: FakeFrame;
  sent: Array<{ channel: string; args: unknown[] }>;
  destroy(): void;
  /** Where messages sent to this webContents' main frame go (its renderer's ipcRenderer). */
  deliverTo: ((channel: string, args: unknown[]) => void) | null;
};

export function createFakeWebContents(id: number, url: string): FakeWebContents {
  let destroyed = false;
  const contents: FakeWebContents = {
    id,
    mainFrame: { url, parent: null },
    sent: [],
    deliverTo: null,
    isDestroyed: () => destroyed,
    destroy() {
      destroyed = true;
    },
    send(channel, ...args) {
      if (destroyed) throw new Error('Object has been destroyed');
      const cloned = structuredClone(args);
      contents.sent.push({ channel, args: cloned });
      contents.deliverTo?.(channel, cloned);
    },
  };
  return contents;
}

export type FakeIpcMain = IpcMainLike & {
  handlerCount(): number;
  /** What Electron does when a renderer frame calls ipcRenderer.invoke(channel, ...args). */
  invokeFrom(event: InvokeEventLike, channel: string, ...args: unknown[]): Promise<unknown>;
};

export function createFakeIpcMain(): FakeIpcMain {
  const handlers = new Map<string, InvokeListener>();
  return {
    handle(channel, listener) {
      if (handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
      handlers.set(channel, listener);
    },
    removeHandler(channel) {
      handlers.delete(channel);
    },
    handlerCount: () => handlers.size,
    async invokeFrom(event, channel, ...args) {
      const handler = handlers.get(channel);
      if (handler === undefined) throw new Error(`No handler registered for '${channel}'`);
      return structuredClone(await handler(event, ...structuredClone(args)));
    },
  };
}

/** An invoke event as Electron builds it for a frame of `contents`. */
export function invokeEventFrom(contents: { id: number }, frame: FrameLike | null): InvokeEventLike {
  return { sender: { id: contents.id }, senderFrame: frame };
}

/**
 * The ipcRenderer of a page shown in `contents`, by default its main frame: invokes reach
 * `ipcMain`, and what main sends to `contents` arrives here.
 */
export function createFakeIpcRenderer(ipcMain: FakeIpcMain, contents: FakeWebContents, frame: FrameLike = contents.mainFrame): IpcRendererLike {
  const incoming = new EventEmitter();
  contents.deliverTo = (channel, args) => {
    incoming.emit(channel, { sender: 'the real ipcRenderer would be here' }, ...args);
  };
  return {
    invoke: (channel, ...args) => ipcMain.invokeFrom(invokeEventFrom(contents, frame), channel, ...args),
    on(channel, listener: IpcRendererListener) {
      incoming.on(channel, listener);
    },
    removeListener(channel, listener: IpcRendererListener) {
      incoming.removeListener(channel, listener);
    },
  };
}
